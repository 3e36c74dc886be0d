using Dapper;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Operations;

/// <summary>
/// A batch item without a client key is recorded by its own row in batch_items: the row is locked before the
/// effect runs, and the item's result is stored in it in the same transaction as the effect. A row already
/// holding a success (or cancelled meanwhile) answers its stored result without running again.
/// </summary>
public sealed partial class OperationExecutor
{
    private const string LockRowsSql = """
        SELECT seq AS Seq, outcome AS Outcome, status AS Status, result AS Result, location AS Location
        FROM batch_items WHERE batch_id = @BatchId AND seq = ANY(@Seqs) FOR UPDATE
        """;

    private const string StoreRowsSql = """
        UPDATE batch_items AS b SET outcome = 1, status = u.status, result = u.result, location = u.location
        FROM unnest(@Seqs, @Statuses, @Results, @Locations) AS u(seq, status, result, location)
        WHERE b.batch_id = @BatchId AND b.seq = u.seq
        """;

    /// <summary>Runs one operation; a batch item without a client key is recorded by its batch row.</summary>
    public async Task<ResourceResponse> ExecuteAsync(OperationRequest operation, CancellationToken cancellationToken)
    {
        if (!operation.RecordedByBatchRow)
        {
            return await ExecuteAsync(operation.Method, operation.Path, operation.Body, operation.IdempotencyKey, cancellationToken);
        }

        var routed = router.Route(operation.Method, operation.Path, operation.Body);
        if (routed.Immediate is { } answer)
        {
            return answer;
        }

        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (!routed.Mutates)
        {
            return await routed.Run!(new DbSession(connection), cancellationToken);
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var (response, keep) = await RunRecordedByRowAsync(new DbSession(connection, transaction), routed, operation, cancellationToken);
        if (keep)
        {
            await transaction.CommitAsync(cancellationToken);
        }
        else
        {
            await transaction.RollbackAsync(cancellationToken);
        }

        return response;
    }

    /// <summary>One batch item in the caller's transaction: its stored answer, or its effect stored with its result.</summary>
    private async Task<(ResourceResponse Response, bool Keep)> RunRecordedByRowAsync(
        DbSession session, RoutedOperation routed, OperationRequest operation, CancellationToken cancellationToken)
    {
        var stored = await LockBatchRowsAsync(session, operation.BatchId!, [operation.Seq!.Value], cancellationToken);
        if (stored.TryGetValue(operation.Seq.Value, out var answer))
        {
            return (answer, false);
        }

        var response = await routed.Run!(session, cancellationToken);
        if (response.Status is < 200 or >= 300)
        {
            return (response, false);
        }

        await StoreBatchRowsAsync(session, operation.BatchId!, [(operation.Seq.Value, response)], cancellationToken);
        return (response, true);
    }

    /// <summary>Locks the items' rows and answers those that already hold a success or were cancelled, by position.</summary>
    private static async Task<Dictionary<int, ResourceResponse>> LockBatchRowsAsync(
        DbSession session, string batchId, IReadOnlyList<int> seqs, CancellationToken cancellationToken)
    {
        var rows = await session.Connection.QueryAsync<BatchRow>(
            session.Command(LockRowsSql, new { BatchId = batchId, Seqs = seqs.ToArray() }, cancellationToken));
        return rows.Where(r => r.Outcome is 1 or 3)
            .ToDictionary(r => r.Seq, r => new ResourceResponse(r.Status ?? 0, r.Result, r.Location));
    }

    private static Task StoreBatchRowsAsync(
        DbSession session, string batchId, IReadOnlyList<(int Seq, ResourceResponse Response)> rows, CancellationToken cancellationToken) =>
        session.Connection.ExecuteAsync(session.Command(StoreRowsSql, new
        {
            BatchId = batchId,
            Seqs = rows.Select(r => r.Seq).ToArray(),
            Statuses = rows.Select(r => (short)r.Response.Status).ToArray(),
            Results = rows.Select(r => r.Response.Body).ToArray(),
            Locations = rows.Select(r => r.Response.Location).ToArray(),
        }, cancellationToken));

    private sealed class BatchRow
    {
        public int Seq { get; init; }

        public short Outcome { get; init; }

        public short? Status { get; init; }

        public string? Result { get; init; }

        public string? Location { get; init; }
    }
}
