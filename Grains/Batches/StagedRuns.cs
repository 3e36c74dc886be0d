using Dapper;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// The statements that run a chunk of staged creates inside the database: a row for each item, and the chunk's result run
/// with the rows' ids and their transaction's time. With the values given (<see cref="StagedRows"/>), the chunk takes its
/// ids and writes its run first (<see cref="ClaimSql"/>), then its rows by COPY; otherwise one statement reads the values
/// from the items' bodies on their pages, inserts the rows in the items' order and aggregates their ids in the order the
/// insert returned them, so the i-th id is the i-th item's. Either writes no run, and the caller rolls back, when it does
/// not find every item staged; either fails as a whole on any violated constraint.
/// Takes @batchId, @from, @to (the items lie after @from up to @to), @count, @coverFrom and @coverTo (their spans), and
/// with rows @seqs (the items' positions in order), without them @tenant (whose rows they are; the COPY writes it with
/// each row).
/// </summary>
internal static class StagedRuns
{
    /// <summary>The statement for <paramref name="create"/>, from given rows or from the pages, committing without waiting for the disk unless <paramref name="synchronous"/>.</summary>
    public static string Statement(StagedCreate create, bool givenRows, bool synchronous) =>
        (synchronous ? "" : "SET LOCAL synchronous_commit = off;\n") + (givenRows ? ClaimSql(create) : Sql(create));

    public static string Sql(StagedCreate create) => $"""
        WITH cover AS (SELECT {SeqSpans.Sql("@coverFrom", "@coverTo")} AS m),
        src AS (
            SELECT s.seq, s.body::jsonb AS j FROM ({BatchItemStore.ItemsInWindow(("bodies", "body"))}) AS s, cover
            WHERE s.seq > @from AND s.seq <= @to AND s.seq <@ cover.m AND s.staged),
        ins AS (INSERT INTO {create.Table} (tenant_id, {create.Columns}) SELECT @tenant, {create.Values} FROM src ORDER BY seq RETURNING id)
        {InsertRun("s.seqs", "s.seqs[1]")}
        FROM (SELECT array_agg(seq ORDER BY seq) AS seqs, count(*) AS n FROM src) AS s,
             (SELECT array_agg(id) AS ids, count(*) AS n FROM ins) AS i
        WHERE s.n = @count AND i.n = @count
        """;

    /// <summary>
    /// When the values are given (<see cref="StagedRows"/>), the chunk is two statements: this one checks on the pages
    /// that every item is staged, takes an id per item from the table's identity, and writes the run with them (no row
    /// when an item is not staged); the <see cref="Copy"/> then writes the rows with those ids. It returns the ids.
    /// </summary>
    public static string ClaimSql(StagedCreate create) => $"""
        WITH cover AS (SELECT {SeqSpans.Sql("@coverFrom", "@coverTo")} AS m),
        staged AS (
            SELECT 1 FROM cover
            WHERE cover.m <@ (SELECT coalesce(range_agg(p.staged), {BatchItemStore.NoRanges}) FROM batch_item_pages p WHERE {BatchItemStore.PagesInWindow})),
        i AS (
            SELECT array_agg(nextval((SELECT pg_get_serial_sequence('{create.Table}', '{StagedCreate.Identity}'))::regclass)) AS ids
            FROM staged, generate_series(1, @count))
        {InsertRun("@seqs::integer[]", "@seqs[1]")}
        FROM i WHERE i.ids IS NOT NULL
        RETURNING created_ids
        """;

    /// <summary>
    /// Writes a chunk's rows, each with the id its item claimed, as PostgreSQL's COPY: rows of one statement are written
    /// a page at a time, with a log record per page, where an INSERT writes and logs each row on its own. Each row starts
    /// with its tenant.
    /// </summary>
    public static string Copy(StagedCreate create) =>
        $"COPY {create.Table} (tenant_id, {StagedCreate.Identity}, {create.Columns}) FROM STDIN";

    private static string InsertRun(string seqs, string first) => $"""
        INSERT INTO batch_result_runs (batch_id, first_seq, covers, seqs, outcomes, statuses, succeeded, failed, cancelled, created_ids, created_at)
        SELECT @batchId, {first}, (SELECT m FROM cover), {seqs}, array_fill(1::smallint, ARRAY[@count]),
               array_fill(201::smallint, ARRAY[@count]), @count, 0, 0, i.ids, now()
        """;

    public static DynamicParameters Parameters(string tenant, string batchId, IReadOnlyList<int> seqs, StagedRows? rows)
    {
        var (coverFrom, coverTo) = SeqSpans.Of(seqs);
        var parameters = new DynamicParameters(new { batchId, from = coverFrom[0] - 1, to = coverTo[^1] - 1, count = seqs.Count, coverFrom, coverTo });
        if (rows is not null)
        {
            parameters.Add("seqs", seqs as int[] ?? [.. seqs]);
        }
        else
        {
            parameters.Add("tenant", tenant);
        }

        return parameters;
    }
}
