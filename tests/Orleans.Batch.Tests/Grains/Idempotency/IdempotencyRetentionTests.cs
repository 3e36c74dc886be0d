using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Idempotency;
using Orleans.Batch.Grains.Tenancy;

namespace Orleans.Batch.Tests.Grains.Idempotency;

/// <summary>Where a tenant's default idempotency retention comes from.</summary>
public sealed class IdempotencyRetentionTests
{
    [Fact]
    public void TenantDefault_WithoutTenancySetting_IsIdempotencyRetention()
    {
        var quotas = Quotas(new() { ["Idempotency:Retention"] = "02:00:00" });

        Assert.Equal(TimeSpan.FromHours(2), quotas.IdempotencyRetention);
    }

    [Fact]
    public void TenantDefault_WithTenancySetting_IsThatSetting()
    {
        var quotas = Quotas(new() { ["Idempotency:Retention"] = "02:00:00", ["Tenancy:Quotas:IdempotencyRetention"] = "03:00:00" });

        Assert.Equal(TimeSpan.FromHours(3), quotas.IdempotencyRetention);
    }

    [Fact]
    public void TenantDefault_WithNeitherSetting_Is24Hours()
    {
        Assert.Equal(TimeSpan.FromHours(24), Quotas([]).IdempotencyRetention);
    }

    private static TenantQuotaOptions Quotas(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        using var services = new ServiceCollection().AddIdempotency(configuration).AddTenancy(configuration).BuildServiceProvider();
        return services.GetRequiredService<IOptions<TenantQuotaOptions>>().Value;
    }
}
