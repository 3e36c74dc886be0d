using Microsoft.Extensions.Time.Testing;
using Orleans.Batch.Grains.Fairness;

namespace Orleans.Batch.Tests.Grains.Fairness;

public sealed class FairGateTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A waiter let in resumes on the thread pool: wait for it, never for one that must stay out.</summary>
    private static readonly TimeSpan LetIn = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Enter_BelowCapacity_LetsInAtOnce()
    {
        var gate = new FairGate(capacity: 2);

        var first = gate.EnterAsync("a", "batch-1", None);
        var second = gate.EnterAsync("b", "batch-2", None);

        Assert.True(first.IsCompletedSuccessfully);
        Assert.True(second.IsCompletedSuccessfully);
        Assert.Equal(2, gate.InUse);
        (await first).Dispose();
        (await second).Dispose();
        Assert.Equal(0, gate.InUse);
    }

    [Fact]
    public async Task Enter_OneTenantAlone_TakesEveryPlace()
    {
        var gate = new FairGate(capacity: 3);

        var passes = new List<FairGate.Pass>();
        for (var i = 0; i < 3; i++)
        {
            var entering = gate.EnterAsync("a", "import", None);
            Assert.True(entering.IsCompletedSuccessfully);
            passes.Add(await entering);
        }

        Assert.Equal(3, gate.InUse);
        passes.ForEach(pass => pass.Dispose());
    }

    [Fact]
    public async Task Leave_TenantsWaiting_LetsInTheTenantUsingTheFewestPlacesFirst()
    {
        var gate = new FairGate(capacity: 2);
        var a1 = await gate.EnterAsync("a", "import", None);
        var a2 = await gate.EnterAsync("a", "import", None);
        // Tenant a queues four more before b's one arrives: a first-come queue would serve b last.
        var aWaiting = Enumerable.Range(0, 4).Select(_ => gate.EnterAsync("a", "import", None).AsTask()).ToList();
        var b = gate.EnterAsync("b", "sync", None).AsTask();
        Assert.Equal(5, gate.Waiting);

        a1.Dispose();

        var bIn = await b.WaitAsync(LetIn);
        Assert.All(aWaiting, waiting => Assert.False(waiting.IsCompleted));
        bIn.Dispose();
        a2.Dispose();
        foreach (var waiting in aWaiting)
        {
            (await waiting.WaitAsync(LetIn)).Dispose();
        }

        Assert.Equal(0, gate.InUse);
    }

    [Fact]
    public async Task Leave_OneTenantsBatchesWaiting_LetsInTheBatchUsingTheFewestFirst()
    {
        var gate = new FairGate(capacity: 1);
        var running = await gate.EnterAsync("a", "import", None);
        var importNext = gate.EnterAsync("a", "import", None).AsTask();
        var sync = gate.EnterAsync("a", "sync", None).AsTask();

        running.Dispose();

        // Both hold nothing now; the import asked first, so it goes first.
        var importIn = await importNext.WaitAsync(LetIn);
        Assert.False(sync.IsCompleted);
        var importAgain = gate.EnterAsync("a", "import", None).AsTask();
        importIn.Dispose();
        // The import asked again before the sync batch was let in, yet the sync batch holds fewer places: it goes first.
        var syncIn = await sync.WaitAsync(LetIn);
        Assert.False(importAgain.IsCompleted);
        syncIn.Dispose();
        (await importAgain.WaitAsync(LetIn)).Dispose();
    }

    [Fact]
    public async Task Enter_ActiveTenantsWeighted_EachKeepsToItsPartOfThePlaces()
    {
        var gate = new FairGate(capacity: 3, tenant => tenant == "heavy" ? 2 : 1);
        (await gate.EnterAsync("heavy", "h", None, small: true)).Dispose();
        (await gate.EnterAsync("light", "l", None, small: true)).Dispose();

        var heavy = Enumerable.Range(0, 3).Select(_ => gate.EnterAsync("heavy", "h", None).AsTask()).ToList();
        var light = Enumerable.Range(0, 3).Select(_ => gate.EnterAsync("light", "l", None).AsTask()).ToList();

        Assert.Equal(2, heavy.Count(t => t.IsCompletedSuccessfully));
        Assert.Equal(1, light.Count(t => t.IsCompletedSuccessfully));
        Assert.Equal(3, gate.Waiting);
    }

    [Fact]
    public async Task Enter_SmallWorkOfAnotherTenant_PassesAtOnceAndCapsTheFirstAtItsShareUntilIdle()
    {
        var time = new FakeTimeProvider();
        var gate = new FairGate(capacity: 2, time: time);
        var a1 = await gate.EnterAsync("a", "import", None);
        var a2 = await gate.EnterAsync("a", "import", None);
        var aNext = gate.EnterAsync("a", "import", None).AsTask();

        // Tenant b's small statement takes no place and waits for none, even with the gate full.
        var small = gate.EnterAsync("b", "sync", None, small: true);
        Assert.True(small.IsCompletedSuccessfully);
        (await small).Dispose();
        Assert.Equal(2, gate.InUse);

        // While b is active, a keeps to one of the two places: a place a gives back stays free for b.
        a1.Dispose();
        await Task.Delay(50);
        Assert.False(aNext.IsCompleted);
        Assert.Equal(1, gate.InUse);

        // Once b has been idle for the window, a's next turn takes both places again.
        time.Advance(FairGate.ActiveWindow + TimeSpan.FromMilliseconds(1));
        a2.Dispose();
        (await aNext.WaitAsync(LetIn)).Dispose();
        var again = gate.EnterAsync("a", "import", None);
        Assert.True(again.IsCompletedSuccessfully);
        var aThird = gate.EnterAsync("a", "import", None);
        Assert.True(aThird.IsCompletedSuccessfully);
        (await again).Dispose();
        (await aThird).Dispose();
    }

    [Fact]
    public async Task Enter_WorkOfNoTenant_CapsNoTenant()
    {
        var gate = new FairGate(capacity: 2);
        var runtime = await gate.EnterAsync(FairGate.NoTenant, FairGate.NoTenant, None);
        runtime.Dispose();

        var first = gate.EnterAsync("a", "import", None);
        var second = gate.EnterAsync("a", "import", None);

        Assert.True(first.IsCompletedSuccessfully);
        Assert.True(second.IsCompletedSuccessfully);
        (await first).Dispose();
        (await second).Dispose();
    }

    [Fact]
    public async Task Enter_CancelledWhileWaiting_LeavesTheQueueAndTheNextGetsThePlace()
    {
        var gate = new FairGate(capacity: 1);
        var running = await gate.EnterAsync("a", "x", None);
        using var cancel = new CancellationTokenSource();
        var cancelled = gate.EnterAsync("b", "y", cancel.Token).AsTask();
        var next = gate.EnterAsync("c", "z", None).AsTask();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(1, gate.Waiting);
        running.Dispose();
        (await next.WaitAsync(LetIn)).Dispose();
        Assert.Equal(0, gate.InUse);
    }

    [Fact]
    public async Task Enter_ManyCallersAtOnce_NeverMoreInsideThanCapacity()
    {
        var gate = new FairGate(capacity: 3);
        var inside = 0;
        var most = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, token) =>
        {
            using var pass = await gate.EnterAsync($"t{i % 5}", $"h{i % 7}", token);
            var now = Interlocked.Increment(ref inside);
            InterlockedMax(ref most, now);
            await Task.Yield();
            Interlocked.Decrement(ref inside);
        });

        Assert.InRange(most, 1, 3);
        Assert.Equal(0, gate.InUse);
        Assert.Equal(0, gate.Waiting);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
