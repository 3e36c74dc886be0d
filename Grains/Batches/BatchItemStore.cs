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
        COPY batch_items (batch_id, seq, op_id, method, path, body, headers, idempotency_key, source, outcome, preset, status, result, location)
        FROM STDIN (FORMAT BINARY)
        """;

    /// <summary>Stores items at positions from <paramref name="firstSeq"/>, replacing any stored there before (so a repeated append is harmless).</summary>
    public async Task AppendAsync(string batchId, int firstSeq, IReadOnlyList<BatchItem> items, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM batch_items WHERE batch_id = @batchId AND seq >= @firstSeq AND seq < @end",
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
                await writer.WriteAsync((short)(rejected is null ? ItemOutcome.Pending : ItemOutcome.Failed), NpgsqlDbType.Smallint, cancellationToken);
                await writer.WriteAsync(rejected is not null, NpgsqlDbType.Boolean, cancellationToken);
                await WriteNullableAsync(writer, rejected is null ? null : (short?)rejected.Status, NpgsqlDbType.Smallint, cancellationToken);
                await WriteNullableAsync(writer, rejected?.Body, NpgsqlDbType.Text, cancellationToken);
                await WriteNullableAsync(writer, rejected?.Location, NpgsqlDbType.Text, cancellationToken);
            }

            await writer.CompleteAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Up to <paramref name="limit"/> items not yet run, after position <paramref name="after"/> and before <paramref name="end"/>, in order.</summary>
    public async Task<IReadOnlyList<PendingItem>> ReadPendingAsync(string batchId, int after, int end, int limit, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT seq AS Seq, prior_outcome AS Prior, op_id AS Id, method AS Method, path AS Path, body AS Body,
                   headers::text AS Headers, idempotency_key AS IdempotencyKey
            FROM batch_items WHERE batch_id = @batchId AND seq > @from AND seq <= @to AND outcome = 0 ORDER BY seq LIMIT @limit
            """;
        var rows = await ReadWindowsAsync<PendingRow>(sql, batchId, after, end, limit, new { }, cancellationToken);
        return rows.Select(r => new PendingItem(r.Seq, (ItemOutcome)r.Prior, new OperationRequest(
            r.Id, r.Method, r.Path, r.Body,
            r.Headers is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(r.Headers),
            batchId, r.IdempotencyKey))).ToList();
    }

    /// <summary>
    /// Stores a slice of finished items' results in one statement, except those already stored with their effect.
    /// A result never replaces one stored with an effect (a run that lost the race to another answers from it).
    /// </summary>
    public async Task SaveResultsAsync(string batchId, IReadOnlyList<FinishedItem> items, CancellationToken cancellationToken)
    {
        const string sql = """
            UPDATE batch_items AS b
            SET outcome = u.outcome, status = u.status, result = u.result, location = u.location
            FROM unnest(@seqs, @outcomes, @statuses, @results, @locations) AS u(seq, outcome, status, result, location)
            WHERE b.batch_id = @batchId AND b.seq BETWEEN @low AND @high AND b.seq = u.seq AND b.outcome IN (0, 3)
            """;
        var finished = items.Where(f => !f.Recorded).ToList();
        if (finished.Count == 0)
        {
            return;
        }

        // The range lets the plan read only the slice's part of the batch, however stale the table's statistics.

        await ExecuteAsync(sql, new
        {
            batchId,
            low = finished.Min(f => f.Seq),
            high = finished.Max(f => f.Seq),
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
        const string sql = """
            SELECT count(*)::int AS Total,
                   (count(*) FILTER (WHERE outcome = 1))::int AS Succeeded,
                   (count(*) FILTER (WHERE outcome = 2 OR (outcome = 0 AND prior_outcome = 2)))::int AS Failed,
                   (count(*) FILTER (WHERE outcome = 3))::int AS Cancelled
            FROM batch_items WHERE batch_id = @batchId
            """;
        return (await QueryAsync<ItemCounts>(sql, new { batchId }, cancellationToken))[0];
    }

    /// <summary>Marks every item not yet run as cancelled with <paramref name="problem"/>.</summary>
    public Task CancelPendingAsync(string batchId, string problem, CancellationToken cancellationToken) => ExecuteAsync(
        "UPDATE batch_items SET outcome = 3, status = @status, result = @problem WHERE batch_id = @batchId AND outcome = 0",
        new { batchId, problem, status = (short)Resources.Problems.CancelledStatus }, cancellationToken);

    /// <summary>Makes every failed item (that was ever run) pending again; returns how many.</summary>
    public Task<int> ResetFailedAsync(string batchId, CancellationToken cancellationToken) => ExecuteAsync(
        """
        UPDATE batch_items SET prior_outcome = 2, outcome = 0, status = NULL, result = NULL, location = NULL
        WHERE batch_id = @batchId AND outcome = 2 AND NOT preset
        """,
        new { batchId }, cancellationToken);

    /// <summary>Finished items after position <paramref name="after"/> and before <paramref name="end"/>, in order, optionally of one outcome.</summary>
    public async Task<IReadOnlyList<BatchItemResult>> ReadResultsAsync(
        string batchId, int after, int end, int limit, ItemOutcome? outcome, CancellationToken cancellationToken)
    {
        var sql = $"""
            SELECT seq AS Seq, outcome AS Outcome, op_id AS Id, status AS Status, result AS Result, location AS Location, source AS Source
            FROM batch_items WHERE batch_id = @batchId AND seq > @from AND seq <= @to AND {(outcome is null ? "outcome <> 0" : "outcome = @outcome")}
            ORDER BY seq LIMIT @limit
            """;
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

    public Task DeleteAsync(string batchId, CancellationToken cancellationToken) =>
        ExecuteAsync("DELETE FROM batch_items WHERE batch_id = @batchId", new { batchId }, cancellationToken);

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

public sealed record ItemCounts(int Total, int Succeeded, int Failed, int Cancelled);
