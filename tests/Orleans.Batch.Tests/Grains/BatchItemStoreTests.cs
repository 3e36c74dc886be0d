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

    [Fact]
    public async Task Append_PageOfOneMethodAndPath_StoresThemOnce_AndReadsThemBackPerItem()
    {
        var batchId = $"store-{Unique.Token()}";
        BatchItem Item(int i, string method, string path) => new(new OperationRequest($"i{i}", method, path, null, null, null));
        await Store.AppendAsync(batchId, 0, [.. Enumerable.Range(0, 1000).Select(i => Item(i, "GET", "/users/1"))], CancellationToken.None);
        await Store.AppendAsync(batchId, 1000, [Item(1000, "GET", "/users/2"), Item(1001, "DELETE", "/users/2")], CancellationToken.None);
        await Store.AppendAsync(batchId, 600, [Item(600, "GET", "/users/3")], CancellationToken.None);

        var pending = await Store.ReadPendingAsync(batchId, -1, 601, 2000, CancellationToken.None);

        Assert.Equal(601, pending.Count);
        Assert.All(pending.Take(600), p => Assert.Equal(("GET", "/users/1"), (p.Operation.Method, p.Operation.Path)));
        Assert.Equal(("i600", "GET", "/users/3"), (pending[600].Operation.Id, pending[600].Operation.Method, pending[600].Operation.Path));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            "SELECT item_count, cardinality(methods), cardinality(paths) FROM batch_item_pages WHERE batch_id = $1 ORDER BY first_seq", connection)
        {
            Parameters = { new() { Value = batchId } },
        };
        var pages = new List<(int, int, int)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                pages.Add((reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2)));
            }
        }

        Assert.Equal([(600, 1, 1), (1, 1, 1)], pages);
        await using var view = new Npgsql.NpgsqlCommand("SELECT count(*) FROM batch_items WHERE batch_id = $1 AND method = 'GET' AND path = '/users/1'", connection)
        {
            Parameters = { new() { Value = batchId } },
        };
        Assert.Equal(600L, await view.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Append_OverSeveralPages_StoresEachPageItsPart_AndOptionalArraysOnlyWhereUsed()
    {
        var batchId = $"store-{Unique.Token()}";
        BatchItem Item(int i) => new(new OperationRequest(
            $"i{i}", i == 1500 ? "DELETE" : "GET", $"/users/{i}", null,
            i == 2100 ? new Dictionary<string, string> { ["If-Match"] = "\"1\"" } : null, null, i == 2100 ? "key-2100" : null));
        await Store.AppendAsync(batchId, 0, [.. Enumerable.Range(0, 2500).Select(Item)], CancellationToken.None);

        var pending = await Store.ReadPendingAsync(batchId, -1, 2500, 2500, CancellationToken.None);

        Assert.Equal(Enumerable.Range(0, 2500).Select(i => $"i{i}"), pending.Select(p => p.Operation.Id));
        Assert.Equal(Enumerable.Range(0, 2500).Select(i => $"/users/{i}"), pending.Select(p => p.Operation.Path));
        Assert.Equal("DELETE", pending[1500].Operation.Method);
        Assert.Equal(("\"1\"", "key-2100"), (pending[2100].Operation.Headers!["If-Match"], pending[2100].Operation.IdempotencyKey));
        await using var connection = await fixture.Database.OpenConnectionAsync();
        await using var command = new Npgsql.NpgsqlCommand(
            """
            SELECT first_seq, item_count, cardinality(op_ids), headers IS NULL, idempotency_keys IS NULL, cardinality(headers)
            FROM batch_item_pages WHERE batch_id = $1 ORDER BY first_seq
            """, connection)
        {
            Parameters = { new() { Value = batchId } },
        };
        var pages = new List<(int, int, int, bool, bool, int?)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                pages.Add((reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetBoolean(3), reader.GetBoolean(4),
                    reader.IsDBNull(5) ? null : reader.GetInt32(5)));
            }
        }

        Assert.Equal([(0, 1000, 1000, true, true, null), (1000, 1000, 1000, true, true, null), (2000, 500, 500, false, false, 500)], pages);
    }

    private static BatchItem Read(string id) => new(new OperationRequest(id, "GET", "/users/1", null, null, null));

    private static FinishedItem Finished(int seq, int status, string body) => new(
        seq, ItemOutcome.Pending, status is >= 200 and < 300 ? ItemOutcome.Succeeded : ItemOutcome.Failed,
        new OperationResult($"r{seq}", status, body, null));
}
