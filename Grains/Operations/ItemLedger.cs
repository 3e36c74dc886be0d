using Dapper;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Operations;

/// <summary>
/// Where the items of a chunk stand: <paramref name="Seqs"/>[i] is the position of the chunk's i-th operation in batch
/// <paramref name="BatchId"/>. A batch item's result row (<c>batch_results</c>) is its idempotency record: it is
/// inserted in one transaction with the item's effect, and its primary key lets only one run of the item commit, so a
/// second run (a chunk sent again after its silo died) finds the item finished and answers what the first one stored,
/// and of two runs at once the later one to commit rolls its effect back. Reads bound the positions by range too, so
/// their plans read only the chunk's part of the batch even when the statistics lag behind a fast-growing batch.
/// </summary>
public sealed record ItemLedger(string BatchId, IReadOnlyList<int> Seqs)
{
    private const string FinishedSql = """
        SELECT seq AS Seq, status AS Status, result AS Result, location AS Location
        FROM batch_results WHERE batch_id = @BatchId AND seq BETWEEN @Low AND @High AND seq = ANY(@Seqs)
        """;

    /// <summary>The stored answers of the items at <paramref name="indices"/> that are no longer pending, by index.</summary>
    public async Task<Dictionary<int, ResourceResponse>> ReadFinishedAsync(
        DbSession session, IReadOnlyList<int> indices, CancellationToken cancellationToken)
    {
        var indexOf = indices.ToDictionary(i => Seqs[i]);
        var rows = await session.Connection.QueryAsync<StoredRow>(session.Command(
            FinishedSql, new { BatchId, Low = indexOf.Keys.Min(), High = indexOf.Keys.Max(), Seqs = indexOf.Keys.ToArray() }, cancellationToken));
        return rows.ToDictionary(r => indexOf[r.Seq], r => new ResourceResponse(r.Status ?? 0, r.Result, r.Location));
    }

    /// <summary>
    /// Writes the results of the items at <paramref name="indices"/> inside the session's transaction. One item:
    /// false when it was no longer pending (another run finished it, or the batch was cancelled), and the caller
    /// rolls back its savepoint. Several: a plain insert, cheaper by far than ON CONFLICT, which fails the whole
    /// transaction (unique violation) in that case, and the caller falls back to one item at a time.
    /// </summary>
    public async Task<bool> TryRecordAsync(
        DbSession session, IReadOnlyList<int> indices, IReadOnlyList<ResourceResponse> responses, CancellationToken cancellationToken)
    {
        var seqs = indices.Select(i => Seqs[i]).ToArray();
        var written = await session.Connection.ExecuteAsync(session.Command(
            indices.Count == 1 ? BatchItemStore.InsertResultsSql + " ON CONFLICT (batch_id, seq) DO NOTHING" : BatchItemStore.InsertResultsSql, new
            {
                batchId = BatchId,
                seqs,
                outcomes = responses.Select(r => (short)(r.Status is >= 200 and < 300 ? ItemOutcome.Succeeded : ItemOutcome.Failed)).ToArray(),
                statuses = responses.Select(r => (short)r.Status).ToArray(),
                results = responses.Select(r => r.Body).ToArray(),
                locations = responses.Select(r => r.Location).ToArray(),
            }, cancellationToken));
        return written == indices.Count;
    }

    private sealed record StoredRow(int Seq, short? Status, string? Result, string? Location);
}
