using Dapper;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Operations;

/// <summary>
/// Where the items of a chunk stand in <c>batch_items</c>: <paramref name="Seqs"/>[i] is the position of the chunk's
/// i-th operation in batch <paramref name="BatchId"/>. A batch item's own row is its idempotency record: its effect
/// commits in one transaction with its result, and the result is written only while the row is still pending, so a
/// second run of the item (a chunk sent again after its silo died) finds it finished and answers what the first
/// one stored, and of two runs at once the later one to commit finds it finished and rolls its effect back.
/// Every statement also bounds the positions by range, so its plan reads only the chunk's part of the batch even
/// when the table's statistics lag behind a fast-growing batch.
/// </summary>
public sealed record ItemLedger(string BatchId, IReadOnlyList<int> Seqs)
{
    private const string FinishedSql = """
        SELECT seq AS Seq, status AS Status, result AS Result, location AS Location
        FROM batch_items WHERE batch_id = @BatchId AND seq BETWEEN @Low AND @High AND seq = ANY(@Seqs) AND outcome <> 0
        """;

    private const string RecordSql = """
        UPDATE batch_items AS b
        SET outcome = u.outcome, status = u.status, result = u.result, location = u.location
        FROM unnest(@Seqs, @Outcomes, @Statuses, @Results, @Locations) AS u(seq, outcome, status, result, location)
        WHERE b.batch_id = @BatchId AND b.seq BETWEEN @Low AND @High AND b.seq = u.seq AND b.outcome = 0
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
    /// Writes the results of the items at <paramref name="indices"/> inside the session's transaction; false when
    /// any of them was no longer pending (another run finished it, or the batch was cancelled), and then the caller
    /// rolls back.
    /// </summary>
    public async Task<bool> TryRecordAsync(
        DbSession session, IReadOnlyList<int> indices, IReadOnlyList<ResourceResponse> responses, CancellationToken cancellationToken)
    {
        var seqs = indices.Select(i => Seqs[i]).ToArray();
        var written = await session.Connection.ExecuteAsync(session.Command(RecordSql, new
        {
            BatchId,
            Low = seqs.Min(),
            High = seqs.Max(),
            Seqs = seqs,
            Outcomes = responses.Select(r => (short)(r.Status is >= 200 and < 300 ? ItemOutcome.Succeeded : ItemOutcome.Failed)).ToArray(),
            Statuses = responses.Select(r => (short)r.Status).ToArray(),
            Results = responses.Select(r => r.Body).ToArray(),
            Locations = responses.Select(r => r.Location).ToArray(),
        }, cancellationToken));
        return written == indices.Count;
    }

    private sealed record StoredRow(int Seq, short? Status, string? Result, string? Location);
}
