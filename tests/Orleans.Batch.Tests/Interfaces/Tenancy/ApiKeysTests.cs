using System.Security.Cryptography;
using System.Text;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Tests.Interfaces.Tenancy;

public sealed class ApiKeysTests
{
    private const string Valid = "obk_0123456789ab_8C-UtuPLQBGpbaZmsEpoUVfgn5zGAHcHPEe_jpuRRlc";

    [Fact]
    public void TryParse_AKeyAsRunShWritesIt_ReadsItsKeyId()
    {
        Assert.True(ApiKeys.TryParse(Valid, out var keyId));
        Assert.Equal("0123456789ab", keyId);
    }

    [Theory]
    [InlineData("")]
    [InlineData("obk_0123456789ab_")]
    [InlineData("obk_0123456789AB_8C-UtuPLQBGpbaZmsEpoUVfgn5zGAHcHPEe_jpuRRlc")]
    [InlineData("obx_0123456789ab_8C-UtuPLQBGpbaZmsEpoUVfgn5zGAHcHPEe_jpuRRlc")]
    [InlineData("obk_0123456789ab-8C-UtuPLQBGpbaZmsEpoUVfgn5zGAHcHPEe_jpuRRlc")]
    [InlineData("obk_0123456789ab_8C-UtuPLQBGpbaZmsEpoUVfgn5zGAHcHPEe_jpuRRl=")]
    [InlineData("obk_0123456789ab_8C+UtuPLQBGpbaZmsEpoUVfgn5zGAHcHPEe_jpuRRlc")]
    [InlineData("obk_0123456789ab_8C-UtuPLQBGpbaZmsEpoUVfgn5zGAHcHPEe_jpuRRlcX")]
    public void TryParse_AnythingElse_IsRefused(string key) => Assert.False(ApiKeys.TryParse(key, out _));

    [Fact]
    public void Hash_IsTheSha256OfTheKeysText_AsRunShComputesIt() =>
        Assert.Equal(SHA256.HashData(Encoding.ASCII.GetBytes(Valid)), ApiKeys.Hash(Valid));

    [Fact]
    public void Roles_TenantRolesAreReaderAndWriter()
    {
        Assert.True(ApiRoles.IsTenantRole(ApiRoles.Reader));
        Assert.True(ApiRoles.IsTenantRole(ApiRoles.Writer));
        Assert.False(ApiRoles.IsTenantRole(ApiRoles.Admin));
        Assert.False(ApiRoles.IsValid("Writer"));
    }
}

public sealed class TenantQuotaOverridesTests
{
    private static readonly TenantQuotas Defaults = new(200, 400, 20, 64, 10_000_000, 1, TimeSpan.FromDays(7), TimeSpan.FromHours(24));

    [Fact]
    public void Over_TakesEachOverrideAndTheDefaultsForTheRest() =>
        Assert.Equal(Defaults with { Burst = 5, Retention = TimeSpan.FromDays(1) },
            new TenantQuotaOverrides(Burst: 5, Retention: TimeSpan.FromDays(1)).Over(Defaults));

    [Fact]
    public void Problems_NameEachFieldOutOfRange()
    {
        var overrides = new TenantQuotaOverrides(double.NaN, 0, 100_001, 0, 0, 1001, TimeSpan.FromSeconds(59), TimeSpan.Zero);

        Assert.Equal(
            ["RequestsPerSecond", "Burst", "ActiveBatches", "InFlightOperations", "ImportRows", "Weight", "Retention", "IdempotencyRetention"],
            overrides.Problems().Select(p => p.Field));
        Assert.Empty(new TenantQuotaOverrides().Problems());
        Assert.Empty(new TenantQuotaOverrides(1_000_000, 1_000_000, 100_000, 100_000, 1, 1000, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1)).Problems());
    }
}
