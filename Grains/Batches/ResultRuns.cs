using Dapper;
using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// The statements on <c>batch_result_runs</c>: finished items' answers, a run of them per row, each row also the
/// idempotency record of the items it covers (no two rows cover one item).
/// </summary>
internal static class ResultRuns
{
    private const string Insert = """
        INSERT INTO batch_result_runs (batch_id, first_seq, covers, seqs, outcomes, statuses, results, locations,
                                       succeeded, failed, cancelled, preset)
        SELECT @batchId, @firstSeq, (SELECT range_agg(int4range(l, u)) FROM unnest(@coverFrom, @coverTo) AS c(l, u)), @seqs,
               @outcomes, @statuses, @results, @locations, @succeeded, @failed, @cancelled, @preset
        """;

    /// <summary>A run's answers read back per item; takes @batchId, @from and @to (positions after @from up to @to).</summary>
    public const string ReadWindowSql = """
        SELECT u.seq AS Seq, u.outcome AS Outcome, u.status AS Status, u.result AS Result, u.location AS Location
        FROM batch_result_runs r
        CROSS JOIN LATERAL unnest(r.seqs, r.outcomes, r.statuses, r.results, r.locations) AS u(seq, outcome, status, result, location)
        WHERE r.batch_id = @batchId AND r.covers && int4multirange(int4range(@from + 1, @to + 1)) AND u.seq > @from AND u.seq <= @to
        """;

    /// <summary>
    /// Inserts one row covering <paramref name="items"/>. With <paramref name="skipConflicts"/> a row that would cover
    /// an item another row covers is not written (0 rows); without, it fails the statement (an exclusion violation).
    /// </summary>
    public static CommandDefinition InsertCommand(
        string batchId, IReadOnlyList<FinishedAnswer> items, bool preset, bool skipConflicts, Database.DbSession? session,
        CancellationToken cancellationToken)
    {
        var (coverFrom, coverTo) = Spans(items);
        var parameters = new
        {
            batchId,
            firstSeq = coverFrom[0],
            coverFrom,
            coverTo,
            seqs = items.Select(i => i.Seq).ToArray(),
            outcomes = items.Select(i => (short)i.Outcome).ToArray(),
            statuses = items.Select(i => (short)i.Status).ToArray(),
            results = items.Select(i => i.Body).ToArray(),
            locations = items.Select(i => i.Location).ToArray(),
            succeeded = items.Count(i => i.Outcome == ItemOutcome.Succeeded),
            failed = items.Count(i => i.Outcome == ItemOutcome.Failed),
            cancelled = items.Count(i => i.Outcome == ItemOutcome.Cancelled),
            preset,
        };
        var sql = skipConflicts ? Insert + " ON CONFLICT DO NOTHING" : Insert;
        return new CommandDefinition(sql, parameters, session?.Transaction, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// The items' positions as spans of consecutive ones, [from, to): a chunk's are usually one span, so the database
    /// builds the row's covered ranges from one or a few, not from a range per item.
    /// </summary>
    private static (int[] From, int[] To) Spans(IReadOnlyList<FinishedAnswer> items)
    {
        var seqs = items.Select(i => i.Seq).Order().ToArray();
        var (from, to) = (new List<int>(1), new List<int>(1));
        foreach (var seq in seqs)
        {
            if (to.Count > 0 && seq <= to[^1])
            {
                to[^1] = Math.Max(to[^1], seq + 1);
            }
            else
            {
                from.Add(seq);
                to.Add(seq + 1);
            }
        }

        return ([.. from], [.. to]);
    }

    /// <summary>
    /// Takes the items of <c>@cut</c> (an int4multirange expression, given as <paramref name="cut"/>) out of the rows of
    /// batch <c>@batchId</c> that match <paramref name="condition"/>, so they are pending again; rows left empty go.
    /// </summary>
    public static string RemoveSql(string cut, string condition) => $"""
        WITH c AS (SELECT {cut} AS m)
        UPDATE batch_result_runs r SET
            covers = r.covers - c.m,
            first_seq = coalesce((SELECT min(u.s) FROM unnest(r.seqs) AS u(s) WHERE NOT (u.s <@ c.m)), r.first_seq),
            seqs = ARRAY(SELECT u.s FROM unnest(r.seqs) WITH ORDINALITY AS u(s, n) WHERE NOT (u.s <@ c.m) ORDER BY u.n),
            outcomes = ARRAY(SELECT u.x FROM unnest(r.seqs, r.outcomes) WITH ORDINALITY AS u(s, x, n) WHERE NOT (u.s <@ c.m) ORDER BY u.n),
            statuses = ARRAY(SELECT u.x FROM unnest(r.seqs, r.statuses) WITH ORDINALITY AS u(s, x, n) WHERE NOT (u.s <@ c.m) ORDER BY u.n),
            results = ARRAY(SELECT u.x FROM unnest(r.seqs, r.results) WITH ORDINALITY AS u(s, x, n) WHERE NOT (u.s <@ c.m) ORDER BY u.n),
            locations = ARRAY(SELECT u.x FROM unnest(r.seqs, r.locations) WITH ORDINALITY AS u(s, x, n) WHERE NOT (u.s <@ c.m) ORDER BY u.n),
            succeeded = (SELECT count(*) FROM unnest(r.seqs, r.outcomes) AS u(s, x) WHERE NOT (u.s <@ c.m) AND u.x = 1),
            failed = (SELECT count(*) FROM unnest(r.seqs, r.outcomes) AS u(s, x) WHERE NOT (u.s <@ c.m) AND u.x = 2),
            cancelled = (SELECT count(*) FROM unnest(r.seqs, r.outcomes) AS u(s, x) WHERE NOT (u.s <@ c.m) AND u.x = 3)
        FROM c
        WHERE r.batch_id = @batchId AND r.covers && c.m AND ({condition});
        DELETE FROM batch_result_runs WHERE batch_id = @batchId AND isempty(covers);
        """;
}

/// <summary>One item's answer as a result run stores it.</summary>
internal readonly record struct FinishedAnswer(int Seq, ItemOutcome Outcome, int Status, string? Body, string? Location);
