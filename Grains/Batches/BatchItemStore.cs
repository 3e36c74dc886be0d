using System.Text.Json;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Grains.Batches;

/// <summary>A batch's items and their results in PostgreSQL, read and written a bounded slice at a time.</summary>
public sealed class BatchItemStore(NpgsqlDataSource dataSource, DatabaseGate gate)
{
    private const string Copy = """
        COPY batch_items (batch_id, seq, op_id, method, path, body, headers, idempotency_key, source, preset)
        FROM STDIN (FORMAT BINARY)
        """;

    /// <summary>Appends results; takes @batchId and the arrays @seqs, @outcomes, @statuses, @results, @locations.</summary>
    internal const string InsertResultsSql = """
        INSERT INTO batch_results (batch_id, seq, outcome, status, result, location)
        SELECT @batchId, u.seq, u.outcome, u.status, u.result, u.location
        FROM unnest(@seqs, @outcomes, @statuses, @results, @locations) AS u(seq, outcome, status, result, location)
        """;

    // A scalar subquery, not NOT EXISTS: PostgreSQL never turns it into a join, so each item is one primary-key probe
    // whatever the statistics say. (An anti-join planned from stale statistics compared every pair of the range.)
    private const string NoResult = "(SELECT 1 FROM batch_results r WHERE r.batch_id = i.batch_id AND r.seq = i.seq) IS NULL";

    /// <summary>Stores items at positions from <paramref name="firstSeq"/>, replacing any stored there before (so a repeated append is harmless).</summary>
    public async Task AppendAsync(string batchId, int firstSeq, IReadOnlyList<BatchItem> items, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            """
            DELETE FROM batch_items WHERE batch_id = @batchId AND seq >= @firstSeq AND seq < @end;
            DELETE FROM batch_results WHERE batch_id = @batchId AND seq >= @firstSeq AND seq < @end;
            """,
            new { batchId, firstSeq, end = firstSeq + items.Count }, transaction, cancellationToken: cancellationToken));
        await using (var writer = await connection.BeginBinaryImportAsync(Copy, cancellationToken))
        {
            for (var i = 0; i < items.Count; i++)
            {
                var (operation, source, rejected) = items[i];
                await writer.StartRowAsync(cancellationToken);
                await writer.WriteAsync(batchId, NpgsqlDbType.Varchar, cancellationToken);
                await writer.WriteAsync(firstSeq + i, NpgsqlDbType.Integer, cancellationToken);
                await writer.WriteAsync(operation.Id, NpgsqlDbType.Text, cancellationToken);
                await writer.WriteAsync(operation.Method, NpgsqlDbType.Varchar, cancellationToken);
                await writer.WriteAsync(operation.Path, NpgsqlDbType.Text, cancellationToken);
                await WriteNullableAsync(writer, operation.Body, NpgsqlDbType.Text, cancellationToken);
                await WriteNullableAsync(writer, operation.Headers is null ? null : JsonSerializer.Serialize(operation.Headers), NpgsqlDbType.Jsonb, cancellationToken);
                await WriteNullableAsync(writer, operation.IdempotencyKey, NpgsqlDbType.Text, cancellationToken);
                await WriteNullableAsync(writer, source?.ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Text, cancellationToken);
                await writer.WriteAsync(rejected is not null, NpgsqlDbType.Boolean, cancellationToken);
            }

            await writer.CompleteAsync(cancellationToken);
        }

        var preset = Enumerable.Range(0, items.Count).Where(i => items[i].Rejected is not null).ToList();
        if (preset.Count > 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(InsertResultsSql, new
            {
                batchId,
                seqs = preset.Select(i => firstSeq + i).ToArray(),
                outcomes = preset.Select(_ => (short)ItemOutcome.Failed).ToArray(),
                statuses = preset.Select(i => (short)items[i].Rejected!.Status).ToArray(),
                results = preset.Select(i => items[i].Rejected!.Body).ToArray(),
                locations = preset.Select(i => items[i].Rejected!.Location).ToArray(),
            }, transaction, cancellationToken: cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Up to <paramref name="limit"/> items not yet run, after position <paramref name="after"/> and before <paramref name="end"/>, in order.</summary>
    public async Task<IReadOnlyList<PendingItem>> ReadPendingAsync(string batchId, int after, int end, int limit, CancellationToken cancellationToken)
    {
        const string sql = $"""
            SELECT seq AS Seq, prior_outcome AS Prior, op_id AS Id, method AS Method, path AS Path, body AS Body,
                   headers::text AS Headers, idempotency_key AS IdempotencyKey
            FROM batch_items i WHERE batch_id = @batchId AND seq > @from AND seq <= @to AND {NoResult} ORDER BY seq LIMIT @limit
            """;
        var rows = await ReadWindowsAsync<PendingRow>(sql, batchId, after, end, limit, new { }, cancellationToken);
        return rows.Select(r => new PendingItem(r.Seq, (ItemOutcome)r.Prior, new OperationRequest(
            r.Id, r.Method, r.Path, r.Body,
            r.Headers is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(r.Headers),
            batchId, r.IdempotencyKey))).ToList();
    }

    /// <summary>
    /// Stores a slice of finished items' results in one statement, except those already stored with their effect.
    /// A result replaces only a cancellation, never a result stored with an effect (a run that lost the race to
    /// another answers from it).
    /// </summary>
    public async Task SaveResultsAsync(string batchId, IReadOnlyList<FinishedItem> items, CancellationToken cancellationToken)
    {
        var finished = items.Where(f => !f.Recorded).ToList();
        if (finished.Count == 0)
        {
            return;
        }

        await ExecuteAsync(InsertResultsSql + " " + """
            ON CONFLICT (batch_id, seq) DO UPDATE
            SET outcome = EXCLUDED.outcome, status = EXCLUDED.status, result = EXCLUDED.result, location = EXCLUDED.location
            WHERE batch_results.outcome = 3
            """, new
        {
            batchId,
            seqs = finished.Select(f => f.Seq).ToArray(),
            outcomes = finished.Select(f => (short)f.Outcome).ToArray(),
            statuses = finished.Select(f => (short)f.Result.Status).ToArray(),
            results = finished.Select(f => f.Result.Body).ToArray(),
            locations = finished.Select(f => f.Result.Location).ToArray(),
        }, cancellationToken);
    }

    /// <summary>Counts by outcome; an item reset for retry still counts as failed until it finishes again.</summary>
    public async Task<ItemCounts> CountAsync(string batchId, CancellationToken cancellationToken)
    {
        const string sql = $"""
            SELECT (count(*) FILTER (WHERE outcome = 1))::int AS Succeeded,
                   (count(*) FILTER (WHERE outcome = 2)
                    + (SELECT count(*) FROM batch_items i WHERE batch_id = @batchId AND prior_outcome = 2 AND {NoResult}))::int AS Failed,
                   (count(*) FILTER (WHERE outcome = 3))::int AS Cancelled
            FROM batch_results WHERE batch_id = @batchId
            """;
        return (await QueryAsync<ItemCounts>(sql, new { batchId }, cancellationToken))[0];
    }

    /// <summary>Marks every item not yet run as cancelled with <paramref name="problem"/>.</summary>
    public Task CancelPendingAsync(string batchId, string problem, CancellationToken cancellationToken) => ExecuteAsync(
        $"""
        INSERT INTO batch_results (batch_id, seq, outcome, status, result)
        SELECT batch_id, seq, 3, @status, @problem FROM batch_items i WHERE batch_id = @batchId AND {NoResult}
        ON CONFLICT (batch_id, seq) DO NOTHING
        """,
        new { batchId, problem, status = (short)Resources.Problems.CancelledStatus }, cancellationToken);

    /// <summary>Makes every failed item (that was ever run) pending again; returns how many.</summary>
    public Task<int> ResetFailedAsync(string batchId, CancellationToken cancellationToken) => ExecuteAsync(
        """
        WITH reset AS (
            DELETE FROM batch_results r USING batch_items i
            WHERE r.batch_id = @batchId AND r.outcome = 2 AND i.batch_id = r.batch_id AND i.seq = r.seq AND NOT i.preset
            RETURNING r.seq)
        UPDATE batch_items SET prior_outcome = 2 WHERE batch_id = @batchId AND seq IN (SELECT seq FROM reset)
        """,
        new { batchId }, cancellationToken);

    /// <summary>Finished items after position <paramref name="after"/> and before <paramref name="end"/>, in order, optionally of one outcome.</summary>
    public async Task<IReadOnlyList<BatchItemResult>> ReadResultsAsync(
        string batchId, int after, int end, int limit, ItemOutcome? outcome, CancellationToken cancellationToken)
    {
        var sql = $"""
            SELECT r.seq AS Seq, r.outcome AS Outcome, i.op_id AS Id, r.status AS Status, r.result AS Result, r.location AS Location, i.source AS Source
            FROM batch_results r
            CROSS JOIN LATERAL (SELECT op_id, source FROM batch_items i WHERE i.batch_id = r.batch_id AND i.seq = r.seq OFFSET 0) AS i
            WHERE r.batch_id = @batchId AND r.seq > @from AND r.seq <= @to{(outcome is null ? "" : " AND r.outcome = @outcome")}
            ORDER BY r.seq LIMIT @limit
            """;
        // OFFSET 0 keeps the item lookup a per-row probe: a join planned from stale statistics could compare every pair.
        var rows = await ReadWindowsAsync<ResultRow>(sql, batchId, after, end, limit, new { outcome = (short?)outcome }, cancellationToken);
        return rows.Select(r => new BatchItemResult(
            r.Seq, (ItemOutcome)r.Outcome, new OperationResult(r.Id, r.Status ?? 0, r.Result, r.Location), r.Source)).ToList();
    }

    /// <summary>
    /// Reads up to <paramref name="limit"/> rows after <paramref name="after"/> a window of positions at a time, so each
    /// statement's plan scans a bounded range of the batch even when the table's statistics lag far behind its size
    /// (a large batch is written faster than autovacuum analyzes it). <paramref name="sql"/> takes @from, @to and @limit.
    /// </summary>
    private async Task<List<T>> ReadWindowsAsync<T>(
        string sql, string batchId, int after, int end, int limit, object extra, CancellationToken cancellationToken)
    {
        var rows = new List<T>();
        var window = Math.Max(4 * limit, 4096);
        var parameters = new DynamicParameters(extra);
        parameters.Add("batchId", batchId);
        for (var from = after; rows.Count < limit && from < end - 1;)
        {
            var to = (int)Math.Min(end - 1L, (long)from + window);
            parameters.Add("from", from);
            parameters.Add("to", to);
            parameters.Add("limit", limit - rows.Count);
            rows.AddRange(await QueryAsync<T>(sql, parameters, cancellationToken));
            from = to;
        }

        return rows;
    }

    public Task DeleteAsync(string batchId, CancellationToken cancellationToken) => ExecuteAsync(
        "DELETE FROM batch_results WHERE batch_id = @batchId; DELETE FROM batch_items WHERE batch_id = @batchId",
        new { batchId }, cancellationToken);

    private async Task<List<T>> QueryAsync<T>(string sql, object parameters, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<T>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken))).AsList();
    }

    private async Task<int> ExecuteAsync(string sql, object parameters, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
    }

    private static Task WriteNullableAsync<T>(NpgsqlBinaryImporter writer, T? value, NpgsqlDbType type, CancellationToken cancellationToken) =>
        value is null ? writer.WriteNullAsync(cancellationToken) : writer.WriteAsync(value, type, cancellationToken);

    private sealed record PendingRow(int Seq, short Prior, string Id, string Method, string Path, string? Body, string? Headers, string? IdempotencyKey);

    private sealed class ResultRow
    {
        public int Seq { get; init; }

        public short Outcome { get; init; }

        public string Id { get; init; } = "";

        public short? Status { get; init; }

        public string? Result { get; init; }

        public string? Location { get; init; }

        public string[]? Source { get; init; }
    }
}

/// <summary>An item still to run; <paramref name="Prior"/> is what it was before a retry reset it.</summary>
public sealed record PendingItem(int Seq, ItemOutcome Prior, OperationRequest Operation);

/// <summary>A finished item; <paramref name="Recorded"/> says its result was stored with its effect.</summary>
public sealed record FinishedItem(int Seq, ItemOutcome Prior, ItemOutcome Outcome, OperationResult Result, bool Recorded = false);

public sealed record ItemCounts(int Succeeded, int Failed, int Cancelled);
