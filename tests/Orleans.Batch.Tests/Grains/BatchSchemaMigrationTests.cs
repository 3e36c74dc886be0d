using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Resources;
using Orleans.Batch.Grains.Resources.Users;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Grains;

/// <summary>
/// deploy/sql/20-batches.sql over a database of the earlier schema, a row per item and per result: every batch moves
/// into pages and runs, and the store reads it as it reads its own. Each test has a database of its own.
/// </summary>
public sealed class BatchSchemaMigrationTests : IAsyncLifetime
{
    private const string BatchId = "migrated";

    private const string PerItemSchema = """
        CREATE TABLE batch_items (
            batch_id varchar(64) NOT NULL, seq integer NOT NULL, op_id text NOT NULL, method varchar(16) NOT NULL,
            path text NOT NULL, body text, headers jsonb, idempotency_key text, source text[],
            prior_outcome smallint NOT NULL DEFAULT 0, preset boolean NOT NULL DEFAULT false,
            PRIMARY KEY (batch_id, seq));
        CREATE TABLE batch_results (
            batch_id varchar(64) NOT NULL, seq integer NOT NULL, outcome smallint NOT NULL, status smallint,
            result text, location text, PRIMARY KEY (batch_id, seq));
        """;

    // 2,500 items: 0-1,999 ran (every tenth from 3 failed with 409, from 7 cancelled, the rest created), 2,000-2,009
    // were reset by a retry and wait to run again, 2,010-2,498 never ran, and 2,499 was rejected on upload.
    private const string PerItemRows = """
        INSERT INTO batch_items (batch_id, seq, op_id, method, path, body, headers, idempotency_key, source, prior_outcome, preset)
        SELECT @batchId, s, 'op' || s, 'POST', '/users', format('{"email":"u%s@example.com"}', s),
               CASE WHEN s = 2100 THEN '{"If-Match":"x"}'::jsonb END, CASE WHEN s = 2101 THEN 'key-2101' END,
               CASE WHEN s % 2 = 0 THEN ARRAY['a' || s, 'b'] END, CASE WHEN s BETWEEN 2000 AND 2009 THEN 2 ELSE 0 END, s = 2499
        FROM generate_series(0, 2499) AS s;
        INSERT INTO batch_results (batch_id, seq, outcome, status, result, location)
        SELECT @batchId, s, CASE s % 10 WHEN 3 THEN 2 WHEN 7 THEN 3 ELSE 1 END, CASE s % 10 WHEN 3 THEN 409 WHEN 7 THEN 499 ELSE 201 END,
               format('{"id":%s}', s), CASE WHEN s % 10 NOT IN (3, 7) THEN '/users/' || s END
        FROM generate_series(0, 1999) AS s
        UNION ALL SELECT @batchId, 2499, 2, 400, '{"status":400}', NULL;
        """;

    private ScratchDatabase _scratch = null!;

    private NpgsqlDataSource Source => _scratch.Source;

    public async Task InitializeAsync()
    {
        _scratch = await ScratchDatabase.CreateAsync("migrate");
    }

    public async Task DisposeAsync() => await _scratch.DisposeAsync();

    [Fact]
    public async Task Apply_OverPerItemTables_MovesEveryItemAndResult_AndTheStoreReadsThemAsItsOwn()
    {
        var store = await MigrateAsync();

        Assert.Equal(new ItemCounts(Succeeded: 1600, Failed: 200 + 10 + 1, Cancelled: 200), await store.CountAsync(BatchId, CancellationToken.None));

        var pending = await store.ReadPendingAsync(BatchId, -1, 2500, 1000, CancellationToken.None);
        Assert.Equal(Enumerable.Range(2000, 499), pending.Select(p => p.Seq));
        Assert.All(pending, p => Assert.Equal(p.Seq < 2010 ? ItemOutcome.Failed : ItemOutcome.Pending, p.Prior));
        var withHeaders = pending.Single(p => p.Seq == 2100).Operation;
        Assert.Equal(("op2100", "POST", "/users", """{"email":"u2100@example.com"}"""), (withHeaders.Id, withHeaders.Method, withHeaders.Path, withHeaders.Body));
        Assert.Equal("x", withHeaders.Headers!["If-Match"]);
        Assert.Equal("key-2101", pending.Single(p => p.Seq == 2101).Operation.IdempotencyKey);

        var results = await store.ReadResultsAsync(BatchId, -1, 2500, 5000, null, CancellationToken.None);
        Assert.Equal(Enumerable.Range(0, 2000).Append(2499), results.Select(r => r.Seq));
        var created = results[4];
        Assert.Equal((ItemOutcome.Succeeded, "op4", 201, """{"id":4}""", "/users/4"), (created.Outcome, created.Result.Id, created.Result.Status, created.Result.Body, created.Result.Location));
        Assert.Equal(["a4", "b"], created.Source);
        Assert.Null(results[5].Source);
        Assert.Equal((ItemOutcome.Failed, 409), (results[3].Outcome, results[3].Result.Status));
        Assert.Equal((ItemOutcome.Cancelled, 499), (results[7].Outcome, results[7].Result.Status));
        Assert.Equal((ItemOutcome.Failed, 400, "op2499"), (results[^1].Outcome, results[^1].Result.Status, results[^1].Result.Id));

        // The item rows are gone for good, and the script is still safe to apply on every start.
        var before = await RowCountsAsync();
        await ExecuteAsync(await File.ReadAllTextAsync(SchemaScript()));
        Assert.Equal(before, await RowCountsAsync());
        Assert.Equal((3, 3), (before.Pages, before.Runs));
    }

    [Fact]
    public async Task Apply_AfterARetryReset_RetryStillFindsOnlyTheFailedItemsThatRan()
    {
        var store = await MigrateAsync();

        // The 200 failed items that ran are reset; the upload's rejection (preset) is not retried.
        Assert.Equal(200, await store.ResetFailedAsync(BatchId, CancellationToken.None));

        Assert.Equal(new ItemCounts(Succeeded: 1600, Failed: 200 + 10 + 1, Cancelled: 200), await store.CountAsync(BatchId, CancellationToken.None));
        var pending = await store.ReadPendingAsync(BatchId, -1, 2500, 1000, CancellationToken.None);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => i * 10 + 3).Concat(Enumerable.Range(2000, 499)), pending.Select(p => p.Seq));
    }

    /// <summary>The batch stored in the per-item tables, then the schema script applied over them; a store on the result.</summary>
    private async Task<BatchItemStore> MigrateAsync()
    {
        await ExecuteAsync(PerItemSchema);
        await ExecuteAsync(PerItemRows, BatchId);
        await ExecuteAsync(await File.ReadAllTextAsync(SchemaScript()));
        return new BatchItemStore(Source, new DatabaseGate(Options.Create(new DatabaseOptions { MaxConcurrency = 4 })), new ResourceRouter([new UserHandler()]));
    }

    private async Task<(long Pages, long Runs)> RowCountsAsync()
    {
        await using var command = Source.CreateCommand("SELECT (SELECT count(*) FROM batch_item_pages), (SELECT count(*) FROM batch_result_runs)");
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private async Task ExecuteAsync(string sql, string? batchId = null)
    {
        await using var command = Source.CreateCommand(sql);
        if (batchId is not null)
        {
            command.Parameters.AddWithValue("batchId", batchId);
        }

        await command.ExecuteNonQueryAsync();
    }

    private static string SchemaScript() => SchemaScripts.PathOf("20-batches.sql");
}
