using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// The statement that runs a chunk of staged creates inside the database: it reads the items' bodies from their pages,
/// inserts a row for each, and writes the chunk's result run with the rows' ids (ascending, as the rows were inserted
/// in the items' order, so the i-th id is the i-th item's) and their transaction's time. It writes no run, and the
/// caller rolls back, when it does not find every item staged; it fails as a whole on any violated constraint.
/// Takes @batchId, @from, @to (the items lie after @from up to @to), @count, @coverFrom and @coverTo (their spans).
/// </summary>
internal static class StagedRuns
{
    public static string Sql(StagedCreate create) => $"""
        WITH cover AS (SELECT {SeqSpans.Sql("@coverFrom", "@coverTo")} AS m),
        src AS (
            SELECT s.seq, s.body::jsonb AS j FROM ({BatchItemStore.ItemsInWindow(("bodies", "body"))}) AS s, cover
            WHERE s.seq > @from AND s.seq <= @to AND s.seq <@ cover.m AND s.staged),
        ins AS (INSERT INTO {create.Table} ({create.Columns}) SELECT {create.Values} FROM src ORDER BY seq RETURNING id)
        INSERT INTO batch_result_runs (batch_id, first_seq, covers, seqs, outcomes, statuses, succeeded, failed, cancelled, created_ids, created_at)
        SELECT @batchId, s.seqs[1], (SELECT m FROM cover), s.seqs, array_fill(1::smallint, ARRAY[@count]),
               array_fill(201::smallint, ARRAY[@count]), @count, 0, 0, i.ids, now()
        FROM (SELECT array_agg(seq ORDER BY seq) AS seqs, count(*) AS n FROM src) AS s,
             (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM ins) AS i
        WHERE s.n = @count AND i.n = @count
        """;

    public static object Parameters(string batchId, IReadOnlyList<int> seqs)
    {
        var (coverFrom, coverTo) = SeqSpans.Of(seqs);
        return new { batchId, from = coverFrom[0] - 1, to = coverTo[^1] - 1, count = seqs.Count, coverFrom, coverTo };
    }
}
