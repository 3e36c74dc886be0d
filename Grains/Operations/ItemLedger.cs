using Dapper;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Operations;

/// <summary>
/// Where the items of a chunk stand: <paramref name="Seqs"/>[i] is the position of the chunk's i-th operation in batch
/// <paramref name="BatchId"/>. The result run (<c>batch_result_runs</c>) a chunk's transaction writes for its items is
/// their idempotency record: it commits with their effect, and no two runs may cover one item, so a second run (a chunk
/// sent again after its silo died) finds the items finished and answers what the first one stored, and of two runs at
/// once the later one to commit rolls its effect back. Reads bound the positions by range, so their plans read only the
/// chunk's part of the batch even when the statistics lag behind a fast-growing batch.
/// </summary>
public sealed record ItemLedger(string BatchId, IReadOnlyList<int> Seqs)
{
    /// <summary>
    /// The chunk may have run before (the batch sent it again after an attempt failed), so its finished items are read
    /// first. A first attempt skips that read: its items were pending when the batch took them, and should another run
    /// have finished one since, the exclusion constraint still fails this run's record of it, and each item then finds
    /// its stored answer on its own.
    /// </summary>
    public bool Resent { get; init; } = true;

    private const string FinishedSql = ResultRuns.ReadWindowSql + " AND u.seq = ANY(@seqs)";

    /// <summary>
    /// The stored answers of the items at <paramref name="indices"/> that are no longer pending, by index; a staged
    /// create's is rendered by <paramref name="renderCreated"/> from the item's index and its row's id and time.
    /// </summary>
    public async Task<Dictionary<int, ResourceResponse>> ReadFinishedAsync(
        DbSession session, IReadOnlyList<int> indices, Func<int, long, DateTime, ResourceResponse> renderCreated, CancellationToken cancellationToken)
    {
        var indexOf = indices.ToDictionary(i => Seqs[i]);
        var rows = await session.Connection.QueryAsync<StoredAnswer>(session.Command(
            FinishedSql, new { batchId = BatchId, from = indexOf.Keys.Min() - 1, to = indexOf.Keys.Max(), seqs = indexOf.Keys.ToArray() }, cancellationToken));
        return rows.ToDictionary(r => indexOf[r.Seq], r => r.Response((id, at) => renderCreated(indexOf[r.Seq], id, at)));
    }

    /// <summary>
    /// Writes the results of the items at <paramref name="indices"/> inside the session's transaction, as one result
    /// run. One item: false when it was no longer pending (another run finished it, or the batch was cancelled), and
    /// the caller rolls back its savepoint. Several: a plain insert, which fails the whole transaction (an exclusion
    /// violation) when another run covers one of them, and the caller falls back to one item at a time.
    /// </summary>
    public async Task<bool> TryRecordAsync(
        DbSession session, IReadOnlyList<int> indices, IReadOnlyList<ResourceResponse> responses, CancellationToken cancellationToken)
    {
        var answers = indices.Select((index, j) => new FinishedAnswer(
            Seqs[index], responses[j].Status is >= 200 and < 300 ? ItemOutcome.Succeeded : ItemOutcome.Failed,
            responses[j].Status, responses[j].Body, responses[j].Location)).ToList();
        var written = await session.Connection.ExecuteAsync(
            ResultRuns.InsertCommand(BatchId, answers, preset: false, skipConflicts: indices.Count == 1, session, cancellationToken));
        return written == 1;
    }
}
