using Orleans.Batch.Grains.Scheduling;

namespace Orleans.Batch.Tests.Grains.Scheduling;

public sealed class SchedulingOptionsTests
{
    [Fact]
    public void Defaults_AreValid_AndRenewEveryThirdOfTheLease()
    {
        var options = new SchedulingOptions();

        Assert.Empty(options.Validate());
        Assert.Equal((32, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10)), (options.ClusterConcurrency, options.LeaseTimeout, options.RenewInterval));
    }

    [Fact]
    public void EveryProblem_IsReported()
    {
        var options = new SchedulingOptions
        {
            ClusterConcurrency = 0,
            LeaseTimeout = TimeSpan.FromMilliseconds(500),
            MaxWait = TimeSpan.FromSeconds(30),
            MaxWaitingPerTenant = 0,
            QuotaRefresh = TimeSpan.Zero,
        };

        Assert.Equal(
            [
                "Scheduling:ClusterConcurrency must be from 1 to 100000; got 0.",
                "Scheduling:LeaseTimeout must be from 1 s to 1 h; got 00:00:00.5000000.",
                "Scheduling:MaxWait must be above 0 and at most 25 s; got 00:00:30.",
                "Scheduling:MaxWaitingPerTenant must be from 1 to 1000000; got 0.",
                "Scheduling:QuotaRefresh must be from 100 ms to 10 min; got 00:00:00.",
            ],
            options.Validate());
    }
}
