using Dapper;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// The statement that runs a chunk of staged creates inside the database: it inserts a row for each item, and writes
/// the chunk's result run with the rows' ids and their transaction's time. The rows are inserted in the items' order, and
/// their ids are aggregated in the order the insert returned them, so the i-th id is the i-th item's: sorting them by
/// value would give the same array (ids ascend in insertion order) at an eighth of the statement's cost. The rows'
/// values come from the items' bodies read from their pages or, given as <see cref="StagedRows"/>, from parameters
/// @c0, @c1, ... (one array per column). It writes no run, and
/// the caller rolls back, when it does not find every item staged; it fails as a whole on any violated constraint.
/// Takes @batchId, @from, @to (the items lie after @from up to @to), @count, @coverFrom and @coverTo (their spans), and
/// with rows @seqs (the items' positions in order).
/// </summary>
internal static class StagedRuns
{
    /// <summary>The statement for <paramref name="create"/>, from given rows or from the pages, committing without waiting for the disk unless <paramref name="synchronous"/>.</summary>
    public static string Statement(StagedCreate create, bool givenRows, bool synchronous) =>
        (synchronous ? "" : "SET LOCAL synchronous_commit = off;\n") + (givenRows ? RowsSql(create) : Sql(create));

    public static string Sql(StagedCreate create) => $"""
        WITH cover AS (SELECT {SeqSpans.Sql("@coverFrom", "@coverTo")} AS m),
        src AS (
            SELECT s.seq, s.body::jsonb AS j FROM ({BatchItemStore.ItemsInWindow(("bodies", "body"))}) AS s, cover
            WHERE s.seq > @from AND s.seq <= @to AND s.seq <@ cover.m AND s.staged),
        ins AS (INSERT INTO {create.Table} ({create.Columns}) SELECT {create.Values} FROM src ORDER BY seq RETURNING id)
        {InsertRun("s.seqs", "s.seqs[1]")}
        FROM (SELECT array_agg(seq ORDER BY seq) AS seqs, count(*) AS n FROM src) AS s,
             (SELECT array_agg(id) AS ids, count(*) AS n FROM ins) AS i
        WHERE s.n = @count AND i.n = @count
        """;

    /// <summary>The statement when the values are given as parameters: it checks on the pages that every item is staged.</summary>
    public static string RowsSql(StagedCreate create)
    {
        var columns = Enumerable.Range(0, create.Arity).Select(c => $"c{c}").ToList();
        return $"""
            WITH cover AS (SELECT {SeqSpans.Sql("@coverFrom", "@coverTo")} AS m),
            staged AS (
                SELECT 1 FROM cover
                WHERE cover.m <@ (SELECT coalesce(range_agg(p.staged), {BatchItemStore.NoRanges}) FROM batch_item_pages p WHERE {BatchItemStore.PagesInWindow})),
            ins AS (
                INSERT INTO {create.Table} ({create.Columns})
                SELECT {string.Join(", ", columns.Select(c => $"v.{c}"))}
                FROM staged, unnest({string.Join(", ", columns.Select(c => $"@{c}::text[]"))}) WITH ORDINALITY AS v({string.Join(", ", columns)}, n)
                ORDER BY v.n RETURNING id)
            {InsertRun("@seqs::integer[]", "@seqs[1]")}
            FROM (SELECT array_agg(id) AS ids, count(*) AS n FROM ins) AS i
            WHERE i.n = @count
            """;
    }

    private static string InsertRun(string seqs, string first) => $"""
        INSERT INTO batch_result_runs (batch_id, first_seq, covers, seqs, outcomes, statuses, succeeded, failed, cancelled, created_ids, created_at)
        SELECT @batchId, {first}, (SELECT m FROM cover), {seqs}, array_fill(1::smallint, ARRAY[@count]),
               array_fill(201::smallint, ARRAY[@count]), @count, 0, 0, i.ids, now()
        """;

    public static DynamicParameters Parameters(string batchId, IReadOnlyList<int> seqs, StagedRows? rows)
    {
        var (coverFrom, coverTo) = SeqSpans.Of(seqs);
        var parameters = new DynamicParameters(new { batchId, from = coverFrom[0] - 1, to = coverTo[^1] - 1, count = seqs.Count, coverFrom, coverTo });
        if (rows is not null)
        {
            parameters.Add("seqs", seqs as int[] ?? [.. seqs]);
            for (var c = 0; c < rows.Columns.Length; c++)
            {
                parameters.Add($"c{c}", rows.Columns[c]);
            }
        }

        return parameters;
    }
}
