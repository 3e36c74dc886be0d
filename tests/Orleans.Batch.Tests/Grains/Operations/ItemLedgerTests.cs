using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Operations;
using Orleans.Batch.Grains.Resources;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.TestingHost;

namespace Orleans.Batch.Tests.Grains.Operations;

/// <summary>
/// A chunk run with an <see cref="ItemLedger"/>: the result run its transaction writes (<c>batch_result_runs</c>) is its items' idempotency record,
/// on a silo's own executor against the real PostgreSQL, with the items staged first as a batch would stage them.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ItemLedgerTests(ClusterFixture fixture)
{
    private IServiceProvider Services =>
        Assert.IsType<InProcessSiloHandle>(fixture.Cluster.GetActiveSilos().First()).SiloHost.Services;

    private OperationExecutor Executor => Services.GetRequiredService<OperationExecutor>();

    private BatchItemStore Store => Services.GetRequiredService<BatchItemStore>();

    [Fact]
    public async Task ExecuteMany_WithLedger_StoresEachResultInItsOwnRow()
    {
        var taken = Unique.Email("ledger-taken");
        await new BatchApi(fixture.Http).CreateUserAsync(taken);
        var fresh = new[] { Unique.Email("ledger-a"), Unique.Email("ledger-b") };
        var chunk = await StageAsync(
            [CreateUser("a", fresh[0]), CreateUser("b", taken.ToUpperInvariant()), CreateUser("c", "not-an-email"), CreateUser("d", fresh[1])]);

        var answers = await Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);

        Assert.Equal([201, 409, 400, 201], answers.Responses.Select(r => r.Status));
        Assert.All(answers.Recorded, Assert.True);
        var rows = await ReadRowsAsync(chunk.BatchId);
        Assert.Equal([Outcome.Pending, Outcome.Succeeded, Outcome.Failed, Outcome.Failed, Outcome.Succeeded, Outcome.Pending], rows.Select(r => r.Outcome));
        AssertStored(answers.Responses, rows.Skip(1).Take(4).ToList());
        Assert.Null(rows[0].Status);
        Assert.Null(rows[^1].Status);
        for (var i = 0; i < fresh.Length; i++)
        {
            var stored = rows[i == 0 ? 1 : 4];
            Assert.Equal($"/users/{await UserIdAsync(fresh[i])}", stored.Location);
            Assert.Equal(fresh[i], JsonDocument.Parse(stored.Result!).RootElement.GetProperty("email").GetString());
        }

        Assert.Equal(1, await CountUsersAsync(taken));
    }

    [Fact]
    public async Task ExecuteMany_SameChunkAgain_AnswersStoredResultsWithoutApplyingTwice()
    {
        var taken = Unique.Email("again-taken");
        await new BatchApi(fixture.Http).CreateUserAsync(taken);
        var emails = Enumerable.Range(0, 10).Select(i => Unique.Email($"again{i}")).Append(taken).Append(Unique.Email("again-keyed")).ToList();
        var key = $"{Unique.Token()}:keyed";
        var chunk = await StageAsync([.. emails.Select((e, i) => CreateUser($"u{i}", e) with { IdempotencyKey = i == emails.Count - 1 ? key : null })]);

        var first = await Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);
        var rowsAfterFirst = await ReadRowsAsync(chunk.BatchId);

        // The keyed item's key looks busy meanwhile: an item whose row holds its result still answers that
        // result, not "key in flight".
        OperationExecutor.ChunkAnswers second;
        await using (await IdempotencyKeyHold.AcquireAsync(fixture.Database, key))
        {
            second = await Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);
        }

        Assert.Equal([.. Enumerable.Repeat(201, 10), 409, 201], first.Responses.Select(r => r.Status));
        Assert.Equal(first.Responses, second.Responses);
        Assert.All(second.Recorded, Assert.True);
        Assert.Equal(rowsAfterFirst, await ReadRowsAsync(chunk.BatchId));
        foreach (var email in emails)
        {
            Assert.Equal(1, await CountUsersAsync(email));
        }
    }

    [Fact]
    public async Task ExecuteMany_SameChunkAgainAsAFirstAttempt_AnswersStoredResultsWithoutApplyingTwice()
    {
        // A first attempt does not read its items' results first; the exclusion constraint alone must then catch
        // items another run finished, and each must answer what that run stored.
        var taken = Unique.Email("first-again-taken");
        await new BatchApi(fixture.Http).CreateUserAsync(taken);
        var emails = Enumerable.Range(0, 6).Select(i => Unique.Email($"first-again{i}")).Append(taken).ToList();
        var chunk = await StageAsync([.. emails.Select((e, i) => CreateUser($"u{i}", e))]);
        var firstAttempt = chunk.Ledger with { Resent = false };

        var first = await Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, firstAttempt, CancellationToken.None);
        var rowsAfterFirst = await ReadRowsAsync(chunk.BatchId);
        var second = await Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, firstAttempt, CancellationToken.None);

        Assert.Equal([.. Enumerable.Repeat(201, 6), 409], first.Responses.Select(r => r.Status));
        Assert.Equal(first.Responses, second.Responses);
        Assert.All(second.Recorded, Assert.True);
        Assert.Equal(rowsAfterFirst, await ReadRowsAsync(chunk.BatchId));
        foreach (var email in emails)
        {
            Assert.Equal(1, await CountUsersAsync(email));
        }
    }

    [Fact]
    public async Task ExecuteMany_ItemCancelledBeforeRun_IsNotAppliedAndAnswersItsCancellation()
    {
        var api = new BatchApi(fixture.Http);
        var patched = await api.CreateUserAsync();
        var emails = new[] { Unique.Email("cancel-a"), Unique.Email("cancel-b"), Unique.Email("cancel-c") };
        var chunk = await StageAsync(
        [
            CreateUser("a", emails[0]),
            CreateUser("b", emails[1]),
            new("p", "PATCH", $"/users/{patched}", JsonSerializer.Serialize(new { name = "Must Not Apply" }), null, null),
            CreateUser("c", emails[2]),
        ]);
        var cancelled = Problems.Cancelled();
        await using (var connection = await fixture.Database.OpenConnectionAsync())
        {
            Assert.Equal(2, await CancelAsync(connection, null, chunk, cancelled, 1, 2));
        }

        var answers = await Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);

        Assert.Equal([201, Problems.CancelledStatus, Problems.CancelledStatus, 201], answers.Responses.Select(r => r.Status));
        Assert.Equal(cancelled.Body, answers.Responses[1].Body);
        Assert.Equal(cancelled.Body, answers.Responses[2].Body);
        Assert.All(answers.Recorded, Assert.True);
        var counts = await Task.WhenAll(emails.Select(CountUsersAsync));
        Assert.Equal([1, 0, 1], counts);
        Assert.Equal("Test User", (await api.GetAsync($"/users/{patched}")).Json.GetProperty("name").GetString());
        var rows = await ReadRowsAsync(chunk.BatchId);
        Assert.Equal([Outcome.Pending, Outcome.Succeeded, Outcome.Cancelled, Outcome.Cancelled, Outcome.Succeeded, Outcome.Pending], rows.Select(r => r.Outcome));
        Assert.All(rows.Skip(2).Take(2), r => Assert.Equal(cancelled.Body, r.Result));
    }

    [Fact]
    public async Task ExecuteMany_ItemCancelledWhileChunkRuns_RollsBackItsEffectAndAnswersItsCancellation()
    {
        var api = new BatchApi(fixture.Http);
        var patched = await api.CreateUserAsync();
        var emails = new[] { Unique.Email("midcancel-a"), Unique.Email("midcancel-b"), Unique.Email("midcancel-c") };
        var chunk = await StageAsync(
        [
            CreateUser("a", emails[0]),
            CreateUser("b", emails[1]),
            new("p", "PATCH", $"/users/{patched}", JsonSerializer.Serialize(new { name = "Must Not Apply" }), null, null),
            CreateUser("c", emails[2]),
        ]);
        var cancelled = Problems.Cancelled();

        // The cancellation is written but not committed: the run finds the items pending, applies them, and
        // waits on their rows to record its results until the cancellation commits under it.
        Task<OperationExecutor.ChunkAnswers> run;
        await using (var canceller = await fixture.Database.OpenConnectionAsync())
        {
            await using var cancel = await canceller.BeginTransactionAsync();
            Assert.Equal(2, await CancelAsync(canceller, cancel, chunk, cancelled, 1, 2));
            run = Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);
            await DatabaseHolds.WaitUntilBlockingAsync(fixture.Database, canceller.ProcessID);
            await cancel.CommitAsync();
        }

        var answers = await run;

        Assert.Equal([201, Problems.CancelledStatus, Problems.CancelledStatus, 201], answers.Responses.Select(r => r.Status));
        Assert.Equal(cancelled.Body, answers.Responses[1].Body);
        Assert.All(answers.Recorded, Assert.True);
        var counts = await Task.WhenAll(emails.Select(CountUsersAsync));
        Assert.Equal([1, 0, 1], counts);
        Assert.Equal("Test User", (await api.GetAsync($"/users/{patched}")).Json.GetProperty("name").GetString());
        var rows = await ReadRowsAsync(chunk.BatchId);
        Assert.Equal([Outcome.Pending, Outcome.Succeeded, Outcome.Cancelled, Outcome.Cancelled, Outcome.Succeeded, Outcome.Pending], rows.Select(r => r.Outcome));
        AssertStored([answers.Responses[0], answers.Responses[3]], [rows[1], rows[4]]);
    }

    [Fact]
    public async Task ExecuteMany_OverlappingChunksOfOtherItemsAtOnce_ApplyEachItemOnce_AndBothAnswerTheOnlyRunOfTheShared()
    {
        for (var round = 0; round < 5; round++)
        {
            var emails = Enumerable.Range(0, 6).Select(i => Unique.Email($"overlap{i}")).ToList();
            var chunk = await StageAsync([.. emails.Select((e, i) => CreateUser($"o{i}", e))]);
            var (firstOps, firstLedger) = (chunk.Operations.Take(4).ToList(), new ItemLedger(chunk.BatchId, [.. chunk.Ledger.Seqs.Take(4)]));
            var (secondOps, secondLedger) = (chunk.Operations.Skip(2).ToList(), new ItemLedger(chunk.BatchId, [.. chunk.Ledger.Seqs.Skip(2)]));

            var runs = await Task.WhenAll(
                Executor.ExecuteManyAsync(TenantContext.Default, firstOps, firstLedger, CancellationToken.None),
                Executor.ExecuteManyAsync(TenantContext.Default, secondOps, secondLedger, CancellationToken.None));

            Assert.All(runs.SelectMany(r => r.Responses), r => Assert.Equal(201, r.Status));
            Assert.Equal(runs[0].Responses.Skip(2).Select(r => r.Location), runs[1].Responses.Take(2).Select(r => r.Location));
            foreach (var email in emails)
            {
                Assert.Equal(1, await CountUsersAsync(email));
            }

            // One stored result per item: the exclusion constraint let only one of the two runs record the shared items.
            var rows = await ReadRowsAsync(chunk.BatchId);
            Assert.Equal([Outcome.Pending, .. Enumerable.Repeat(Outcome.Succeeded, 6), Outcome.Pending], rows.Select(r => r.Outcome));
        }
    }

    [Fact]
    public async Task ExecuteMany_SameChunkTwiceAtOnce_AppliesEachItemOnceAndBothAnswerAlike()
    {
        var api = new BatchApi(fixture.Http);
        for (var round = 0; round < 5; round++)
        {
            var taken = Unique.Email("race-taken");
            await api.CreateUserAsync(taken);
            var patched = await api.CreateUserAsync();
            var emails = Enumerable.Range(0, 30).Select(i => Unique.Email($"race{i}")).Append(taken).ToList();
            var chunk = await StageAsync(
            [
                .. emails.Select((e, i) => CreateUser($"u{i}", e)),
                new("p", "PATCH", $"/users/{patched}", JsonSerializer.Serialize(new { name = $"Raced {round}" }), null, null),
                new("o", "POST", "/orders", JsonSerializer.Serialize(new { userId = patched, productId = await api.CreateProductAsync(), quantity = 2 }), null, null),
            ]);

            var runs = await Task.WhenAll(
                Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None),
                Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None));

            Assert.Equal([.. Enumerable.Repeat(201, 30), 409, 200, 201], runs[0].Responses.Select(r => r.Status));
            Assert.Equal(runs[0].Responses, runs[1].Responses);
            Assert.All(runs.SelectMany(r => r.Recorded), Assert.True);
            foreach (var email in emails)
            {
                Assert.Equal(1, await CountUsersAsync(email));
            }

            Assert.Equal(1, await CountOrdersAsync(patched));
            AssertStored(runs[0].Responses, [.. (await ReadRowsAsync(chunk.BatchId)).Skip(1).SkipLast(1)]);
        }
    }

    [Fact]
    public async Task ExecuteMany_KeyedChunkTwiceAtOnce_AppliesOnceAndTheFirstRunsRecordStands()
    {
        var key = Unique.Token();
        var emails = new[] { Unique.Email("keyed-a"), Unique.Email("keyed-b") };
        var chunk = await StageAsync([.. emails.Select((e, i) => CreateUser($"k{i}", e) with { IdempotencyKey = $"{key}:{i}" })]);

        // The first run stops inside its transaction, on the insert of an email another session has inserted
        // but not committed; the second run starts meanwhile, as a chunk sent again after a timeout would.
        Task<OperationExecutor.ChunkAnswers> first, second;
        await using (var hold = await UserInsertHold.AcquireAsync(fixture.Database, emails[1]))
        {
            first = Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);
            await hold.WaitUntilBlockingAsync(fixture.Database);
            second = Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);
            await Task.WhenAny(second, Task.Delay(TimeSpan.FromSeconds(1)));
        }

        var runs = await Task.WhenAll(first, second);

        // A key held by the other run answers 409 unrecorded, as for any holder: the item is then failed, retryable,
        // and never applied twice. What the first run recorded stands.
        Assert.Equal([201, 201], runs[0].Responses.Select(r => r.Status));
        Assert.All(runs[0].Recorded, Assert.True);
        for (var i = 0; i < emails.Length; i++)
        {
            Assert.True(runs[1].Responses[i] == runs[0].Responses[i]
                || (runs[1].Responses[i].Status == 409 && !runs[1].Recorded[i]), $"item {i}: {runs[1].Responses[i]}");
        }

        var counts = await Task.WhenAll(emails.Select(CountUsersAsync));
        Assert.Equal([1, 1], counts);
        AssertStored(runs[0].Responses, [.. (await ReadRowsAsync(chunk.BatchId)).Skip(1).SkipLast(1)]);
    }

    [Fact]
    public async Task ExecuteMany_MixedChunkWithLedger_RecordsWritesButNotReads()
    {
        var api = new BatchApi(fixture.Http);
        var patched = await api.CreateUserAsync();
        var read = await api.CreateUserAsync();
        var product = await api.CreateProductAsync();
        var fresh = Unique.Email("mixed");
        var chunk = await StageAsync(
        [
            CreateUser("create", fresh),
            new("patch", "PATCH", $"/users/{patched}", JsonSerializer.Serialize(new { name = "Patched By Ledger" }), null, null),
            new("get", "GET", $"/users/{read}", null, null, null),
            new("missing", "PUT", "/users/987654321987", JsonSerializer.Serialize(new { email = Unique.Email("nobody"), name = "N" }), null, null),
            new("order", "POST", "/orders", JsonSerializer.Serialize(new { userId = read, productId = product, quantity = 3 }), null, null),
            new("list", "GET", $"/users?email={Uri.EscapeDataString(fresh)}", null, null, null),
        ]);

        var first = await Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);
        var second = await Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);

        Assert.Equal([201, 200, 200, 404, 201, 200], first.Responses.Select(r => r.Status));
        Assert.Equal([true, true, false, true, true, false], first.Recorded);
        Assert.Equal([true, true, false, true, true, false], second.Recorded);
        var rows = await ReadRowsAsync(chunk.BatchId);
        Assert.Equal(
            [Outcome.Pending, Outcome.Succeeded, Outcome.Succeeded, Outcome.Pending, Outcome.Failed, Outcome.Succeeded, Outcome.Pending, Outcome.Pending],
            rows.Select(r => r.Outcome));
        Assert.All(new[] { rows[3], rows[6] }, r => Assert.Equal(new StoredItem(r.Seq, Outcome.Pending, null, null, null), r));
        AssertStored([first.Responses[0], first.Responses[1]], [rows[1], rows[2]]);
        AssertStored([first.Responses[3], first.Responses[4]], [rows[4], rows[5]]);
        Assert.Equal("Patched By Ledger", (await api.GetAsync($"/users/{patched}")).Json.GetProperty("name").GetString());
        Assert.Equal(1, await CountUsersAsync(fresh));
        Assert.Equal(1, await CountOrdersAsync(read));
        Assert.Equal(first.Responses.Take(5), second.Responses.Take(5));
    }

    [Fact]
    public async Task ExecuteMany_DeletesRunTwiceWithLedger_SecondRunAnswers204NotNotFound()
    {
        var api = new BatchApi(fixture.Http);
        var doomed = new[] { await api.CreateUserAsync(), await api.CreateUserAsync() };
        var chunk = await StageAsync(
        [
            new("a", "DELETE", $"/users/{doomed[0]}", null, null, null),
            new("missing", "DELETE", "/users/987654321987", null, null, null),
            new("b", "DELETE", $"/users/{doomed[1]}", null, null, null),
        ]);

        var first = await Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);
        var second = await Executor.ExecuteManyAsync(TenantContext.Default, chunk.Operations, chunk.Ledger, CancellationToken.None);

        Assert.Equal([204, 404, 204], first.Responses.Select(r => r.Status));
        Assert.Equal([204, 404, 204], second.Responses.Select(r => r.Status));
        Assert.Equal(first.Responses, second.Responses);
        Assert.All(first.Recorded.Concat(second.Recorded), Assert.True);
        var rows = await ReadRowsAsync(chunk.BatchId);
        Assert.Equal([Outcome.Pending, Outcome.Succeeded, Outcome.Failed, Outcome.Succeeded, Outcome.Pending], rows.Select(r => r.Outcome));
        Assert.Equal([null, 204, 404, 204, null], rows.Select(r => r.Status));
        foreach (var id in doomed)
        {
            Assert.Equal(System.Net.HttpStatusCode.NotFound, (await api.GetAsync($"/users/{id}")).Status);
        }
    }

    /// <summary>
    /// Stages <paramref name="operations"/> as items of a new batch between two untouched neighbours (one pending
    /// item before and one after), so a write outside the chunk's own rows shows up too.
    /// </summary>
    private async Task<StagedChunk> StageAsync(IReadOnlyList<OperationRequest> operations)
    {
        var batchId = $"ledger-{Unique.Token()}";
        var neighbour = new OperationRequest("neighbour", "GET", "/users/1", null, null, batchId);
        var items = operations.Select(o => new BatchItem(o with { BatchId = batchId })).Prepend(new BatchItem(neighbour)).Append(new BatchItem(neighbour)).ToList();
        await Store.AppendAsync(batchId, 0, items, CancellationToken.None);
        var staged = operations.Select(o => o with { BatchId = batchId }).ToList();
        return new StagedChunk(batchId, staged, new ItemLedger(batchId, [.. Enumerable.Range(1, operations.Count)]));
    }

    private static void AssertStored(IReadOnlyList<ResourceResponse> responses, IReadOnlyList<StoredItem> rows)
    {
        Assert.Equal(responses.Count, rows.Count);
        for (var i = 0; i < responses.Count; i++)
        {
            var expected = responses[i].Status is >= 200 and < 300 ? Outcome.Succeeded : Outcome.Failed;
            Assert.Equal(new StoredItem(rows[i].Seq, expected, (short)responses[i].Status, responses[i].Body, responses[i].Location), rows[i]);
        }
    }

    /// <summary>Stores the chunk's items at <paramref name="indices"/> as cancelled, as cancelling the batch would.</summary>
    private static Task<int> CancelAsync(
        Npgsql.NpgsqlConnection connection, Npgsql.NpgsqlTransaction? transaction, StagedChunk chunk, ResourceResponse cancelled, params int[] indices) =>
        connection.ExecuteScalarAsync<int>(
            """
            INSERT INTO batch_result_runs (batch_id, first_seq, covers, seqs, outcomes, statuses, results, locations, succeeded, failed, cancelled)
            SELECT @BatchId, min(s), range_agg(int4range(s, s + 1)), array_agg(s), array_agg(3::smallint), array_agg(@Status),
                   array_agg(@Result), array_agg(NULL::text), 0, 0, count(*)
            FROM unnest(@Seqs) AS s
            RETURNING cardinality(seqs)
            """,
            new { chunk.BatchId, Status = (short)cancelled.Status, Result = cancelled.Body, Seqs = indices.Select(i => chunk.Ledger.Seqs[i]).ToArray() },
            transaction);

    private async Task<List<StoredItem>> ReadRowsAsync(string batchId)
    {
        await using var connection = await fixture.Database.OpenConnectionAsync();
        return (await connection.QueryAsync<StoredItem>(
            """
            SELECT i.seq AS Seq, coalesce(r.outcome, 0::smallint) AS Outcome, r.status AS Status, r.result AS Result, r.location AS Location
            FROM batch_items i LEFT JOIN batch_results r ON r.batch_id = i.batch_id AND r.seq = i.seq
            WHERE i.batch_id = @batchId ORDER BY i.seq
            """,
            new { batchId })).AsList();
    }

    private async Task<int> CountUsersAsync(string email)
    {
        await using var connection = await fixture.Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM users WHERE lower(email) = lower(@email)", new { email });
    }

    private async Task<long> UserIdAsync(string email)
    {
        await using var connection = await fixture.Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT id FROM users WHERE lower(email) = lower(@email)", new { email });
    }

    private async Task<int> CountOrdersAsync(long userId)
    {
        await using var connection = await fixture.Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM orders WHERE user_id = @userId", new { userId });
    }

    private static OperationRequest CreateUser(string id, string email) =>
        new(id, "POST", "/users", JsonSerializer.Serialize(new { email, name = "Ledger User" }), null, null);

    private static class Outcome
    {
        public const short Pending = (short)ItemOutcome.Pending;
        public const short Succeeded = (short)ItemOutcome.Succeeded;
        public const short Failed = (short)ItemOutcome.Failed;
        public const short Cancelled = (short)ItemOutcome.Cancelled;
    }

    private sealed record StagedChunk(string BatchId, IReadOnlyList<OperationRequest> Operations, ItemLedger Ledger);

    private sealed record StoredItem(int Seq, short Outcome, short? Status, string? Result, string? Location);
}
