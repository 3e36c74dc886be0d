using Orleans.Batch.Grains.Fairness;

namespace Orleans.Batch.Tests.Grains.Fairness;

public sealed class FairShareTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Grant_EqualWeights_SplitsTheCapacityEvenly()
    {
        var share = new FairShare(capacity: 8, maxWaitingPerTenant: 100);
        Queue(share, "a", "batch-a", 20);
        Queue(share, "b", "batch-b", 20);

        share.Grant(Now);

        Assert.Equal((4, 4), (share.InFlightOf("a"), share.InFlightOf("b")));
    }

    [Fact]
    public void Grant_WeightsOneToThree_SplitsOneToThree_AndKeepsItAsSlotsComeBack()
    {
        var share = new FairShare(capacity: 8, maxWaitingPerTenant: 100);
        share.SetQuotas("a", weight: 1, maxInFlight: 100);
        share.SetQuotas("b", weight: 3, maxInFlight: 100);
        Queue(share, "a", "batch-a", 50);
        Queue(share, "b", "batch-b", 50);
        share.Grant(Now);
        Assert.Equal((2, 6), (share.InFlightOf("a"), share.InFlightOf("b")));

        // Slots come back one at a time, from either tenant: each goes where the weights say.
        for (var i = 0; i < 20; i++)
        {
            share.Release(i % 2 == 0 ? "batch-a" : "batch-b", Now);
            share.Grant(Now);
        }

        Assert.Equal((2, 6), (share.InFlightOf("a"), share.InFlightOf("b")));
    }

    [Fact]
    public void Grant_OneTenantAlone_GetsEveryFreeSlot()
    {
        var share = new FairShare(capacity: 8, maxWaitingPerTenant: 100);
        share.SetQuotas("b", weight: 3, maxInFlight: 100);
        Queue(share, "a", "batch-a", 20);

        share.Grant(Now);

        Assert.Equal(8, share.InFlightOf("a"));
        Assert.Equal(12, share.WaitingOf("a"));
    }

    [Fact]
    public void Grant_IdleTenantsShare_GoesToTheBusyOne_UntilTheIdleOneAsks()
    {
        var share = new FairShare(capacity: 4, maxWaitingPerTenant: 100);
        Queue(share, "a", "batch-a", 10);
        share.Grant(Now);
        Assert.Equal(4, share.InFlightOf("a"));

        Queue(share, "b", "batch-b", 10);
        share.Release("batch-a", Now);
        share.Release("batch-a", Now);
        share.Grant(Now);

        Assert.Equal((2, 2), (share.InFlightOf("a"), share.InFlightOf("b")));
    }

    [Fact]
    public void Grant_NeverPassesATenantsInFlightCap_EvenWithCapacityFree()
    {
        var share = new FairShare(capacity: 10, maxWaitingPerTenant: 100);
        share.SetQuotas("a", weight: 1, maxInFlight: 3);
        Queue(share, "a", "batch-a1", 10);
        Queue(share, "a", "batch-a2", 10);

        share.Grant(Now);
        Assert.Equal(3, share.InFlightOf("a"));
        Assert.Equal(3, share.InFlight);

        share.Release("batch-a1", Now);
        share.Grant(Now);
        Assert.Equal(3, share.InFlightOf("a"));
    }

    [Fact]
    public void Grant_SmallTenantWaiting_IsServedBeforeTheBusyTenantsNextChunk()
    {
        var share = new FairShare(capacity: 4, maxWaitingPerTenant: 100);
        Queue(share, "a", "import", 100);
        share.Grant(Now);
        var small = share.Enqueue("b", "sync", Now)!.Value;

        share.Release("import", Now);
        var granted = share.Grant(Now);

        Assert.Equal([small], granted);
        Assert.Equal(1, share.InFlightOf("b"));
    }

    [Fact]
    public void Grant_WithinATenant_TheSmallBatchGoesBeforeTheLargeBatchsQueue()
    {
        var share = new FairShare(capacity: 2, maxWaitingPerTenant: 100);
        Queue(share, "a", "large", 10);
        share.Grant(Now);
        var small = share.Enqueue("a", "small", Now)!.Value;

        share.Release("large", Now);

        Assert.Equal([small], share.Grant(Now));
    }

    [Fact]
    public void Cancel_WaitingRequest_LeavesTheQueue_AndIsNeverGranted()
    {
        var share = new FairShare(capacity: 1, maxWaitingPerTenant: 100);
        Queue(share, "a", "batch-a", 1);
        share.Grant(Now);
        var cancelled = share.Enqueue("b", "batch-b", Now)!.Value;
        var next = share.Enqueue("b", "batch-b", Now)!.Value;

        Assert.True(share.Cancel(cancelled));
        Assert.Equal(1, share.WaitingOf("b"));
        share.Release("batch-a", Now);

        Assert.Equal([next], share.Grant(Now));
        Assert.False(share.Cancel(next));
    }

    [Fact]
    public void Enqueue_TenantsQueueFull_IsRefused_OthersStillQueue()
    {
        var share = new FairShare(capacity: 1, maxWaitingPerTenant: 2);
        Queue(share, "a", "batch-a", 2);

        Assert.Null(share.Enqueue("a", "batch-a", Now));
        Assert.NotNull(share.Enqueue("b", "batch-b", Now));
    }

    [Fact]
    public void Expire_HolderNotHeardFrom_LosesItsSlots_WhichGoToTheWaiting()
    {
        var share = new FairShare(capacity: 2, maxWaitingPerTenant: 100);
        Queue(share, "a", "dead", 2);
        share.Grant(Now);
        var waiting = share.Enqueue("a", "live", Now.AddSeconds(20))!.Value;
        share.Renew("a", "busy", 0, Now.AddSeconds(20));

        Assert.Empty(share.Expire(Now.AddSeconds(29), TimeSpan.FromSeconds(30)));
        Assert.Equal([("dead", "a", 2)], share.Expire(Now.AddSeconds(31), TimeSpan.FromSeconds(30)));

        Assert.Equal([waiting], share.Grant(Now.AddSeconds(31)));
        Assert.Equal(1, share.InFlightOf("a"));
    }

    [Fact]
    public void Renew_KeepsSlotsFromExpiring_AndCountsForgottenOnesAgain()
    {
        var share = new FairShare(capacity: 4, maxWaitingPerTenant: 100);
        Queue(share, "a", "batch-a", 2);
        share.Grant(Now);

        share.Renew("a", "batch-a", 2, Now.AddSeconds(25));
        Assert.Empty(share.Expire(Now.AddSeconds(40), TimeSpan.FromSeconds(30)));

        // A scheduler that moved knows nothing: the holder's renewal counts its slots again.
        var fresh = new FairShare(capacity: 4, maxWaitingPerTenant: 100);
        fresh.Renew("a", "batch-a", 3, Now);
        Assert.Equal((3, 3), (fresh.InFlightOf("a"), fresh.InFlight));
    }

    [Fact]
    public void Renew_BehindAGrantTheHolderHasNotHeardOf_NeverLowersTheCount()
    {
        var share = new FairShare(capacity: 4, maxWaitingPerTenant: 100);
        share.SetQuotas("a", weight: 1, maxInFlight: 2);
        Queue(share, "a", "batch-a", 3);
        share.Grant(Now);

        // The holder renews as holding one while its second grant is still on the way back to it.
        share.Renew("a", "batch-a", 1, Now);

        Assert.Equal(2, share.InFlightOf("a"));
        Assert.Empty(share.Grant(Now));
    }

    [Fact]
    public void Release_MoreThanHeld_NeverGoesBelowZero()
    {
        var share = new FairShare(capacity: 4, maxWaitingPerTenant: 100);
        Queue(share, "a", "batch-a", 1);
        share.Grant(Now);

        share.Release("batch-a", Now);
        share.Release("batch-a", Now);
        share.Release("unknown", Now);

        Assert.Equal((0, 0, 0), (share.InFlightOf("a"), share.InFlight, share.Holders));
    }

    private static void Queue(FairShare share, string tenant, string holder, int requests)
    {
        for (var i = 0; i < requests; i++)
        {
            Assert.NotNull(share.Enqueue(tenant, holder, Now));
        }
    }
}
