using System.Text.Json;
using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Grains.Batches;

public sealed partial class BatchItemStore
{
    /// <summary>Each item's id and input (<see cref="SourceOf"/>) at @seqs.</summary>
    private static readonly string ItemSourcesSql = ItemsSql(withOperations: false);

    /// <summary>As <see cref="ItemSourcesSql"/>, with the operations, to render the answers of staged creates.</summary>
    private static readonly string ItemOperationsSql = ItemsSql(withOperations: true);

    private static string ItemsSql(bool withOperations)
    {
        (string Array, string Name)[] arrays = [("op_ids", "op_id"), ("sources", "source"), ("bodies", "body")];
        if (withOperations)
        {
            arrays = [.. arrays, ("methods", "method"), ("paths", "path")];
        }

        return $"""
            SELECT s.seq AS Seq, s.op_id AS Id, {SourceOf("s")} AS Source{(withOperations ? ", s.method AS Method, s.path AS Path, s.body AS Body" : "")}
            FROM ({ItemsInWindow(arrays)}) AS s
            WHERE s.seq = ANY(@seqs)
            """;
    }

    /// <summary>
    /// An item's input as a JSON array of strings: its own source, or else its body's <c>source_fields</c> in order.
    /// The row <paramref name="s"/> has <c>source</c>, <c>body</c> and <c>source_fields</c>.
    /// </summary>
    private static string SourceOf(string s) => $"""
        coalesce({s}.source, (SELECT json_agg({s}.body::json ->> f.name ORDER BY f.n) FROM unnest({s}.source_fields) WITH ORDINALITY AS f(name, n))::text)
        """;

    private const string CancellationRows = "r.cancelled > 0 AND r.succeeded = 0 AND r.failed = 0";

    /// <summary>
    /// Stores a slice of finished items' results, except those already stored with their effect. A result replaces
    /// only a cancellation, never a result stored with an effect (a run that lost the race to another answers from it).
    /// </summary>
    public async Task SaveResultsAsync(string batchId, IReadOnlyList<FinishedItem> items, CancellationToken cancellationToken)
    {
        var finished = items.Where(f => !f.Recorded)
            .Select(f => new FinishedAnswer(f.Seq, f.Outcome, f.Result.Status, f.Result.Body, f.Result.Location)).ToList();
        if (finished.Count == 0)
        {
            return;
        }

        using var slot = await gate.EnterAsync(batchId, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync(ResultRuns.InsertCommand(batchId, finished, preset: false, skipConflicts: false, null, cancellationToken));
            return;
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ExclusionViolation)
        {
            // Some are answered already: item by item, each takes the place of a cancellation, or yields to a result.
        }

        foreach (var item in finished)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var session = new DbSession(connection, transaction);
            await connection.ExecuteAsync(session.Command(
                ResultRuns.RemoveSql("int4multirange(int4range(@seq, @seq + 1))", CancellationRows), new { batchId, seq = item.Seq }, cancellationToken));
            await connection.ExecuteAsync(ResultRuns.InsertCommand(batchId, [item], preset: false, skipConflicts: true, session, cancellationToken));
            await transaction.CommitAsync(cancellationToken);
        }
    }

    /// <summary>Counts by outcome; an item reset for retry still counts as failed until it finishes again.</summary>
    public async Task<ItemCounts> CountAsync(string batchId, CancellationToken cancellationToken)
    {
        const string sql = $"""
            SELECT coalesce(sum(succeeded), 0)::int AS Succeeded,
                   (coalesce(sum(failed), 0) + (
                       SELECT coalesce(sum(upper(x) - lower(x)), 0)
                       FROM batch_item_pages p
                       CROSS JOIN LATERAL unnest(p.retried - coalesce(
                           (SELECT range_agg(q.covers) FROM batch_result_runs q WHERE q.batch_id = p.batch_id AND q.covers && p.retried),
                           {NoRanges})) AS x
                       WHERE p.batch_id = @batchId AND NOT isempty(p.retried)))::int AS Failed,
                   coalesce(sum(cancelled), 0)::int AS Cancelled
            FROM batch_result_runs WHERE batch_id = @batchId
            """;
        return (await QueryAsync<ItemCounts>(sql, new { batchId }, cancellationToken))[0];
    }

    /// <summary>
    /// Marks every item not yet run as cancelled with <paramref name="problem"/>, a run per page; a page whose items a
    /// chunk finishes meanwhile is done again, so no item is left pending.
    /// </summary>
    public async Task CancelPendingAsync(string batchId, string problem, CancellationToken cancellationToken)
    {
        const string sql = $"""
            WITH pending AS (
                SELECT p.batch_id, {PageSpan} - coalesce(
                    (SELECT range_agg(r.covers) FROM batch_result_runs r WHERE r.batch_id = p.batch_id AND r.covers && {PageSpan}),
                    {NoRanges}) AS m
                FROM batch_item_pages p WHERE p.batch_id = @batchId),
            runs AS (
                SELECT batch_id, m, ARRAY(SELECT generate_series(lower(x), upper(x) - 1) FROM unnest(m) AS x ORDER BY 1) AS seqs
                FROM pending WHERE NOT isempty(m))
            INSERT INTO batch_result_runs (batch_id, first_seq, covers, seqs, outcomes, statuses, results, locations,
                                           succeeded, failed, cancelled)
            SELECT batch_id, seqs[1], m, seqs, array_fill(3::smallint, ARRAY[cardinality(seqs)]),
                   array_fill(@status::smallint, ARRAY[cardinality(seqs)]), array_fill(@problem::text, ARRAY[cardinality(seqs)]),
                   array_fill(NULL::text, ARRAY[cardinality(seqs)]), 0, 0, cardinality(seqs)
            FROM runs
            ON CONFLICT DO NOTHING
            """;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            if (await ExecuteAsync(sql, new { batchId, problem, status = (short)Resources.Problems.CancelledStatus }, cancellationToken) == 0)
            {
                return;
            }
        }
    }

    /// <summary>Finished items after position <paramref name="after"/> and before <paramref name="end"/>, in order, optionally of one outcome.</summary>
    public async Task<IReadOnlyList<BatchItemResult>> ReadResultsAsync(
        string batchId, int after, int end, int limit, ItemOutcome? outcome, CancellationToken cancellationToken)
    {
        var only = outcome switch
        {
            ItemOutcome.Succeeded => " AND r.succeeded > 0",
            ItemOutcome.Failed => " AND r.failed > 0",
            ItemOutcome.Cancelled => " AND r.cancelled > 0",
            _ => "",
        };
        var sql = $"{ResultRuns.ReadWindowSql}{only}{(outcome is null ? "" : " AND u.outcome = @outcome")} ORDER BY u.seq LIMIT @limit";
        // Runs without an item of the outcome asked for are skipped by their counts, unread: a filter's window can be wide.
        var window = outcome is null ? Math.Max(limit, PageItems) : Math.Max(16 * limit, 4 * PageItems);
        var rows = await ReadWindowsAsync<StoredAnswer>(sql, batchId, after, end, limit, window, new { outcome = (short?)outcome }, cancellationToken);
        if (rows.Count == 0)
        {
            return [];
        }

        // The items' ids and sources, read apart from the results and a run of nearby positions at a time: each
        // statement's plan stays a scan of the pages around them, however sparse a filtered page of results is.
        var items = new Dictionary<int, ItemRow>();
        for (var first = 0; first < rows.Count;)
        {
            var last = first;
            while (last + 1 < rows.Count && rows[last + 1].Seq - rows[last].Seq < PageItems)
            {
                last++;
            }

            var near = rows.Skip(first).Take(last - first + 1).ToList();
            var seqs = near.Select(r => r.Seq).ToArray();
            foreach (var item in await QueryAsync<ItemRow>(
                near.Any(r => r.CreatedId is not null) ? ItemOperationsSql : ItemSourcesSql,
                new { batchId, from = seqs[0] - 1, to = seqs[^1], seqs }, cancellationToken))
            {
                items[item.Seq] = item;
            }

            first = last + 1;
        }

        return rows.Select(r =>
        {
            var item = items.GetValueOrDefault(r.Seq);
            var source = item?.Source is null ? null : JsonSerializer.Deserialize<string[]>(item.Source);
            var answer = r.Response((id, at) => item is { Method: { } method, Path: { } path }
                ? router.RenderCreated(method, path, item.Body, id, at)
                : Resources.Problems.Internal($"Item {r.Seq} was recorded as created, but its operation is not stored."));
            return new BatchItemResult(r.Seq, (ItemOutcome)r.Outcome, new OperationResult(item?.Id ?? "", answer.Status, answer.Body, answer.Location), source);
        }).ToList();
    }

    private sealed class ItemRow
    {
        public int Seq { get; init; }

        public string Id { get; init; } = "";

        public string? Source { get; init; }

        public string? Method { get; init; }

        public string? Path { get; init; }

        public string? Body { get; init; }
    }
}
