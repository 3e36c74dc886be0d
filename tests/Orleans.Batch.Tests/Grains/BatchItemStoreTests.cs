using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Resources;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.TestingHost;

namespace Orleans.Batch.Tests.Grains;

/// <summary>A batch's pages and result runs, through the silo's own store against the real PostgreSQL.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BatchItemStoreTests(ClusterFixture fixture)
{
    private BatchItemStore Store =>
        Assert.IsType<InProcessSiloHandle>(fixture.Cluster.GetActiveSilos().First()).SiloHost.Services.GetRequiredService<BatchItemStore>();

    [Fact]
    public async Task SaveResults_OverACancellation_TakesItsPlace_ButYieldsToAResultStoredWithItsEffect()
    {
        var batchId = $"store-{Unique.Token()}";
        await Store.AppendAsync(batchId, 0, [.. Enumerable.Range(0, 4).Select(i => Read($"r{i}"))], CancellationToken.None);
        // Item 0 was stored with its effect before the cancellation; 1 to 3 are cancelled while their reads are in flight.
        await Store.SaveResultsAsync(batchId, [Finished(0, 200, "effect")], CancellationToken.None);
        await Store.CancelPendingAsync(batchId, Problems.Cancelled().Body!, CancellationToken.None);

        await Store.SaveResultsAsync(batchId, [Finished(0, 404, "late"), Finished(2, 200, "read")], CancellationToken.None);

        var results = await Store.ReadResultsAsync(batchId, -1, 4, 10, null, CancellationToken.None);
        Assert.Equal([0, 1, 2, 3], results.Select(r => r.Seq));
        Assert.Equal(
            [(ItemOutcome.Succeeded, 200, "effect"), (ItemOutcome.Cancelled, 499, null), (ItemOutcome.Succeeded, 200, "read"), (ItemOutcome.Cancelled, 499, null)],
            results.Select(r => (r.Outcome, r.Result.Status, r.Outcome == ItemOutcome.Cancelled ? null : r.Result.Body)));
        Assert.Equal(new ItemCounts(2, 0, 2), await Store.CountAsync(batchId, CancellationToken.None));
    }

    [Fact]
    public async Task ResetFailed_MakesFailedItemsPending_CountedAsFailed_ButNotThoseRejectedOnUpload()
    {
        var batchId = $"store-{Unique.Token()}";
        var rejected = new BatchItem(new OperationRequest("r2", "POST", "/users", null, null, batchId), ["x"], new OperationResult("r2", 400, "{}", null));
        await Store.AppendAsync(batchId, 0, [Read("r0"), Read("r1"), rejected, Read("r3")], CancellationToken.None);
        await Store.SaveResultsAsync(batchId, [Finished(0, 404, "gone"), Finished(1, 200, "ok"), Finished(3, 404, "gone")], CancellationToken.None);

        Assert.Equal(2, await Store.ResetFailedAsync(batchId, CancellationToken.None));

        var pending = await Store.ReadPendingAsync(batchId, -1, 4, 10, CancellationToken.None);
        Assert.Equal([(0, ItemOutcome.Failed), (3, ItemOutcome.Failed)], pending.Select(p => (p.Seq, p.Prior)));
        Assert.Equal(new ItemCounts(1, 3, 0), await Store.CountAsync(batchId, CancellationToken.None));
        Assert.Equal(0, await Store.ResetFailedAsync(batchId, CancellationToken.None));
    }

    [Fact]
    public async Task Append_WhereASliceWasStoredBefore_ReplacesItAndWhatFollowed()
    {
        // As when an append committed but its batch died before it knew: the same positions come again, shorter.
        var batchId = $"store-{Unique.Token()}";
        var rejected = new BatchItem(new OperationRequest("old-3", "POST", "/users", null, null, batchId), ["x"], new OperationResult("old-3", 400, "{}", null));
        await Store.AppendAsync(batchId, 0, [.. Enumerable.Range(0, 3).Select(i => Read($"old-{i}")), rejected, Read("old-4")], CancellationToken.None);

        await Store.AppendAsync(batchId, 0, [Read("new-0"), Read("new-1")], CancellationToken.None);

        var pending = await Store.ReadPendingAsync(batchId, -1, 5, 10, CancellationToken.None);
        Assert.Equal(["new-0", "new-1"], pending.Select(p => p.Operation.Id));
        Assert.Equal(new ItemCounts(0, 0, 0), await Store.CountAsync(batchId, CancellationToken.None));
    }

    [Fact]
    public async Task Append_FromInsideAStoredPage_KeepsThePageUpToThereAndReplacesTheRest()
    {
        var batchId = $"store-{Unique.Token()}";
        await Store.AppendAsync(batchId, 0, [.. Enumerable.Range(0, 1500).Select(i => Read($"old-{i}"))], CancellationToken.None);

        await Store.AppendAsync(batchId, 500, [.. Enumerable.Range(500, 200).Select(i => Read($"new-{i}"))], CancellationToken.None);

        var pending = await Store.ReadPendingAsync(batchId, -1, 1500, 2000, CancellationToken.None);
        Assert.Equal(
            [.. Enumerable.Range(0, 500).Select(i => $"old-{i}"), .. Enumerable.Range(500, 200).Select(i => $"new-{i}")],
            pending.Select(p => p.Operation.Id));
        Assert.Equal(pending.Select(p => p.Seq), Enumerable.Range(0, 700));
    }

    private static BatchItem Read(string id) => new(new OperationRequest(id, "GET", "/users/1", null, null, null));

    private static FinishedItem Finished(int seq, int status, string body) => new(
        seq, ItemOutcome.Pending, status is >= 200 and < 300 ? ItemOutcome.Succeeded : ItemOutcome.Failed,
        new OperationResult($"r{seq}", status, body, null));
}
