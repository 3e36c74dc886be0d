using Orleans.Batch.Grains.Membership;

namespace Orleans.Batch.Tests.Grains.Membership;

public sealed class MembershipRepairOptionsTests
{
    [Fact]
    public void Defaults_AreValid() => Assert.Empty(new MembershipRepairOptions().Validate());

    [Theory]
    [InlineData("00:00:00.050")]
    [InlineData("00:05:01")]
    public void CheckPeriod_OutOfRange_NamesTheKeyAndRange(string period)
    {
        var problem = Assert.Single(new MembershipRepairOptions { CheckPeriod = TimeSpan.Parse(period, System.Globalization.CultureInfo.InvariantCulture) }.Validate());

        Assert.StartsWith("MembershipRepair:CheckPeriod must be from 100 ms to 5 minutes", problem, StringComparison.Ordinal);
    }
}
