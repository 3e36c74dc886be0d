using Dapper;
using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// The statements on <c>batch_result_runs</c>: finished items' answers, a run of them per row, each row also the
/// idempotency record of the items it covers (no two rows cover one item).
/// </summary>
internal static class ResultRuns
{
    private static readonly string Insert = $"""
        INSERT INTO batch_result_runs (batch_id, first_seq, covers, seqs, outcomes, statuses, results, locations,
                                       succeeded, failed, cancelled, preset)
        SELECT @batchId, @firstSeq, {SeqSpans.Sql("@coverFrom", "@coverTo")}, @seqs,
               @outcomes, @statuses, @results, @locations, @succeeded, @failed, @cancelled, @preset
        """;

    /// <summary>
    /// A run's answers read back per item; takes @batchId, @from and @to (positions after @from up to @to). A staged
    /// create's answer is its CreatedId and CreatedAt, with no Result or Location: see <see cref="StoredAnswer"/>.
    /// </summary>
    public const string ReadWindowSql = """
        SELECT u.seq AS Seq, u.outcome AS Outcome, u.status AS Status, u.result AS Result, u.location AS Location,
               u.created_id AS CreatedId, r.created_at AS CreatedAt
        FROM batch_result_runs r
        CROSS JOIN LATERAL unnest(r.seqs, r.outcomes, r.statuses, r.results, r.locations, r.created_ids)
            AS u(seq, outcome, status, result, location, created_id)
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
        var (coverFrom, coverTo) = SeqSpans.Of(items.Select(i => i.Seq));
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
            created_ids = CASE WHEN r.created_ids IS NOT NULL THEN
                ARRAY(SELECT u.x FROM unnest(r.seqs, r.created_ids) WITH ORDINALITY AS u(s, x, n) WHERE NOT (u.s <@ c.m) ORDER BY u.n) END,
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

/// <summary>
/// One item's answer as <see cref="ResultRuns.ReadWindowSql"/> reads it. A staged create stored only its row's id and
/// time (<see cref="CreatedId"/>, <see cref="CreatedAt"/>): its answer is rendered from the item's body.
/// </summary>
internal sealed class StoredAnswer
{
    public int Seq { get; init; }

    public short Outcome { get; init; }

    public short? Status { get; init; }

    public string? Result { get; init; }

    public string? Location { get; init; }

    public long? CreatedId { get; init; }

    public DateTime? CreatedAt { get; init; }

    /// <summary>The answer, rendering a staged create's with <paramref name="render"/> (given the id and time).</summary>
    public Resources.ResourceResponse Response(Func<long, DateTime, Resources.ResourceResponse> render) =>
        CreatedId is { } id ? render(id, CreatedAt!.Value) : new(Status ?? 0, Result, Location);
}
