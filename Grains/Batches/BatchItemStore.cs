using System.Buffers;
using System.Text;
using System.Text.Json;
using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Text;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// A batch's items (<c>batch_item_pages</c>, a page of consecutive items per row) and their results
/// (<c>batch_result_runs</c>, see <see cref="ResultRuns"/>) in PostgreSQL, read and written a bounded slice at a time.
/// </summary>
public sealed partial class BatchItemStore(NpgsqlDataSource dataSource, DatabaseGate gate, Resources.ResourceRouter router)
{
    /// <summary>The most items one page row holds.</summary>
    public const int PageItems = 1000;

    internal const string NoRanges = "'{}'::int4multirange";

    /// <summary>The positions page <c>p</c> holds.</summary>
    private const string PageSpan = "int4multirange(int4range(p.first_seq, p.first_seq + p.item_count))";

    /// <summary>
    /// Stores the items at @firstSeq on as pages of <see cref="PageItems"/>, in one statement: each page takes its part of
    /// the per-item arrays, a shared array (one element) whole, and an optional array only when one of its items has a value.
    /// </summary>
    private static readonly string InsertPagesSql = $"""
        INSERT INTO batch_item_pages (batch_id, first_seq, item_count, op_ids, methods, paths, bodies, headers, idempotency_keys, sources, staged, source_fields)
        SELECT @batchId, @firstSeq + k.o, least(@count - k.o, {PageItems}), {PagePart("@opIds")}, {PageShare("@methods")}, {PageShare("@paths")},
               {PagePart("@bodies")}, {PagePartOrNull("@headers")}, {PagePartOrNull("@keys")}, {PagePartOrNull("@sources")},
               s.m * int4multirange(int4range(@firstSeq + k.o, @firstSeq + k.o + {PageItems})), @sourceFields::text[]
        FROM generate_series(0, @count - 1, {PageItems}) AS k(o), (SELECT {SeqSpans.Sql("@stagedFrom", "@stagedTo")} AS m) AS s
        """;

    private static string PagePart(string array) => $"({array}::text[])[k.o + 1 : k.o + {PageItems}]";

    private static string PageShare(string array) => $"(CASE WHEN cardinality({array}::text[]) = 1 THEN {array}::text[] ELSE {PagePart(array)} END)";

    private static string PagePartOrNull(string array) =>
        $"(SELECT CASE WHEN bool_or(e IS NOT NULL) THEN {PagePart(array)} END FROM unnest({PagePart(array)}) AS e)";

    /// <summary>
    /// Arrays a page may store as one element when all its items share it (an import's method and path): the element
    /// is then every item's, and is read back as an array of the page's length.
    /// </summary>
    private static readonly string[] Shared = ["methods", "paths"];

    private static string SharedSql(string array) =>
        $"(CASE WHEN cardinality(p.{array}) = 1 THEN array_fill(p.{array}[1], ARRAY[p.item_count]) ELSE p.{array} END)";

    /// <summary>
    /// The items of the pages holding positions after @from up to @to (each page holds at most <see cref="PageItems"/>),
    /// as rows of <c>seq</c>, <c>retried</c> and an element of each of the page's <paramref name="arrays"/> under its name.
    /// </summary>
    internal static string ItemsInWindow(params (string Array, string Name)[] arrays) => $"""
        SELECT p.first_seq + (u.n - 1)::integer AS seq, (p.first_seq + (u.n - 1)::integer) <@ p.retried AS retried,
               (p.first_seq + (u.n - 1)::integer) <@ p.staged AS staged, p.source_fields, u.*
        FROM batch_item_pages p
        CROSS JOIN LATERAL unnest({string.Join(", ", arrays.Select(a => Shared.Contains(a.Array) ? SharedSql(a.Array) : $"p.{a.Array}"))})
            WITH ORDINALITY AS u({string.Join(", ", arrays.Select(a => a.Name))}, n)
        WHERE {PagesInWindow}
        """;

    /// <summary>The condition on page <c>p</c> that it holds positions after @from up to @to of batch @batchId.</summary>
    internal static readonly string PagesInWindow =
        $"p.batch_id = @batchId AND p.first_seq <= @to AND p.first_seq > @from - {PageItems} AND p.first_seq + p.item_count > @from + 1";

    /// <summary>
    /// Stores items at positions from <paramref name="firstSeq"/>, replacing any stored there or after (so a repeated
    /// append is harmless); items rejected on upload get their answer at once, in a preset run. What is stored there is
    /// cleared first only when there is any: clearing scans every result run of the batch, a cost that grew with each
    /// slice of a large upload, while an upload's slices almost always go where nothing is stored yet.
    /// </summary>
    public Task AppendAsync(string batchId, int firstSeq, IReadOnlyList<BatchItem> items, CancellationToken cancellationToken) =>
        AppendAsync(batchId, firstSeq, items, null, null, cancellationToken);

    /// <summary>As above, marking the <paramref name="staged"/> items.</summary>
    /// <param name="staged">Which items are creates the database runs from their bodies (see <see cref="Resources.IResourceHandler.Staged"/>), or null for none.</param>
    /// <param name="sourceFields">For items without a source of their own, the body's fields that are their input (see <see cref="BatchItemSlice.SourceFields"/>).</param>
    public async Task AppendAsync(
        string batchId, int firstSeq, IReadOnlyList<BatchItem> items, IReadOnlyList<bool>? staged, string[]? sourceFields, CancellationToken cancellationToken)
    {
        if (UnstorableText(firstSeq, items) is { } unstorable)
        {
            throw new ArgumentException(unstorable, nameof(items));
        }

        var preset = Enumerable.Range(0, items.Count).Where(i => items[i].Rejected is not null)
            .Select(i => new FinishedAnswer(firstSeq + i, ItemOutcome.Failed, items[i].Rejected!.Status, items[i].Rejected!.Body, items[i].Rejected!.Location))
            .ToList();
        DynamicParameters? pages = null;
        if (items.Count > 0)
        {
            var (stagedFrom, stagedTo) = SeqSpans.Of(Enumerable.Range(0, items.Count).Where(i => staged?[i] == true).Select(i => firstSeq + i));
            pages = new DynamicParameters(ItemParameters(batchId, firstSeq, items));
            pages.Add("stagedFrom", stagedFrom);
            pages.Add("stagedTo", stagedTo);
            pages.Add("sourceFields", sourceFields);
        }

        using var slot = await gate.EnterAsync(batchId, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            await StoreAsync(connection, batchId, firstSeq, pages, preset, cancellationToken);
        }
        catch (Exception e) when (PreparedStatements.MayBeBroken(e))
        {
            PreparedStatements.Forget(connection);
            throw;
        }
    }

    /// <summary>
    /// Why an item's text cannot be stored (a NUL, a lone surrogate: PostgreSQL would refuse the statement), naming the
    /// item and its field, or null. The gateway refuses such requests first; this keeps any other caller's from the database.
    /// </summary>
    internal static string? UnstorableText(int firstSeq, IReadOnlyList<BatchItem> items)
    {
        // Runs over every item of an upload on the batch's thread: no allocation unless one is refused.
        for (var i = 0; i < items.Count; i++)
        {
            if (UnstorableField(items[i]) is { } refused)
            {
                return $"Item {firstSeq + i}, {refused.Name}: {refused.Problem}";
            }
        }

        return null;
    }

    private static (string Name, string Problem)? UnstorableField(BatchItem item)
    {
        var operation = item.Operation;
        if ((Refused("id", operation.Id) ?? Refused("method", operation.Method) ?? Refused("path", operation.Path)
            ?? Refused("body", operation.Body) ?? Refused("idempotencyKey", operation.IdempotencyKey)) is { } refused)
        {
            return refused;
        }

        foreach (var (name, value) in operation.Headers ?? EmptyHeaders)
        {
            if ((Refused("headers", name) ?? Refused("headers", value)) is { } header)
            {
                return header;
            }
        }

        foreach (var value in item.Source ?? [])
        {
            if (Refused("source", value) is { } source)
            {
                return source;
            }
        }

        return null;
    }

    private static readonly IReadOnlyDictionary<string, string> EmptyHeaders = new Dictionary<string, string>();

    private static (string Name, string Problem)? Refused(string name, string? text) =>
        StorableText.Problem(text) is { } problem ? (name, problem) : null;

    private async Task StoreAsync(
        NpgsqlConnection connection, string batchId, int firstSeq, DynamicParameters? pages, List<FinishedAnswer> preset, CancellationToken cancellationToken)
    {
        // An upload's slice almost always goes where nothing is stored, with no answer to store: one statement then.
        if (pages is not null && preset.Count == 0
            && await connection.ExecuteScalarAsync<int>(new CommandDefinition(InsertPagesIfNoneSql, pages, cancellationToken: cancellationToken)) > 0)
        {
            return;
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var session = new DbSession(connection, transaction);
        if (await connection.ExecuteScalarAsync<bool>(session.Command(AnyStoredFromExistsSql, new { batchId, firstSeq }, cancellationToken)))
        {
            await connection.ExecuteAsync(session.Command(ClearSql, new { batchId, firstSeq }, cancellationToken));
        }

        if (pages is not null)
        {
            await connection.ExecuteAsync(session.Command(InsertPagesSql, pages, cancellationToken));
        }

        if (preset.Count > 0)
        {
            await connection.ExecuteAsync(ResultRuns.InsertCommand(batchId, preset, preset: true, skipConflicts: false, session, cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The pages holding an item at @firstSeq or after (a page holds at most <see cref="PageItems"/>), and whether there are any.</summary>
    private static readonly string AnyStoredFromSql =
        $"SELECT 1 FROM batch_item_pages WHERE batch_id = @batchId AND first_seq > @firstSeq - {PageItems} AND first_seq + item_count > @firstSeq";

    private static readonly string AnyStoredFromExistsSql = $"SELECT EXISTS ({AnyStoredFromSql})";

    /// <summary>Stores the pages as <see cref="InsertPagesSql"/> does when nothing is stored from @firstSeq on; how many it stored.</summary>
    private static readonly string InsertPagesIfNoneSql =
        $"WITH stored AS ({InsertPagesSql} WHERE NOT EXISTS ({AnyStoredFromSql}) RETURNING 1) SELECT count(*)::int FROM stored";

    /// <summary>Takes out the items stored from @firstSeq on, and the answers given to them on upload.</summary>
    private static readonly string ClearSql = $"""
        UPDATE batch_item_pages SET item_count = @firstSeq - first_seq, op_ids = op_ids[:@firstSeq - first_seq],
            methods = methods[:@firstSeq - first_seq], paths = paths[:@firstSeq - first_seq], bodies = bodies[:@firstSeq - first_seq],
            headers = headers[:@firstSeq - first_seq], idempotency_keys = idempotency_keys[:@firstSeq - first_seq],
            sources = sources[:@firstSeq - first_seq], retried = retried * int4multirange(int4range(first_seq, @firstSeq)),
            staged = staged * int4multirange(int4range(first_seq, @firstSeq))
        WHERE batch_id = @batchId AND first_seq < @firstSeq AND first_seq + item_count > @firstSeq;
        DELETE FROM batch_item_pages WHERE batch_id = @batchId AND first_seq >= @firstSeq;
        {ResultRuns.RemoveSql("int4multirange(int4range(@firstSeq, NULL))", "r.preset")}
        """;

    private static readonly string PendingSql = $"""
        SELECT s.seq AS Seq, s.retried AS Retried, s.staged AS Staged, s.op_id AS Id, s.method AS Method, s.path AS Path, s.body AS Body,
               s.header AS Headers, s.idempotency_key AS IdempotencyKey
        FROM ({ItemsInWindow(("op_ids", "op_id"), ("methods", "method"), ("paths", "path"), ("bodies", "body"), ("headers", "header"), ("idempotency_keys", "idempotency_key"))}) AS s
        WHERE s.seq > @from AND s.seq <= @to
          AND NOT (s.seq <@ (SELECT coalesce(range_agg(r.covers), {NoRanges}) FROM batch_result_runs r
                             WHERE r.batch_id = @batchId AND r.covers && int4multirange(int4range(@from + 1, @to + 1))))
        ORDER BY s.seq LIMIT @limit
        """;

    /// <summary>Up to <paramref name="limit"/> items not yet run, after position <paramref name="after"/> and before <paramref name="end"/>, in order.</summary>
    public async Task<IReadOnlyList<PendingItem>> ReadPendingAsync(string batchId, int after, int end, int limit, CancellationToken cancellationToken)
    {
        // A window unpacks every page it touches, so it spans about as many positions as it may return.
        var rows = await ReadWindowsAsync<PendingRow>(PendingSql, batchId, after, end, limit, Math.Max(limit, PageItems), new { }, cancellationToken);
        return rows.Select(r => new PendingItem(r.Seq, r.Retried ? ItemOutcome.Failed : ItemOutcome.Pending, new OperationRequest(
            r.Id, r.Method, r.Path, r.Body,
            r.Headers is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(r.Headers),
            batchId, r.IdempotencyKey), r.Staged)).ToList();
    }

    /// <summary>Makes every failed item (that was ever run) pending again, counted as failed until it runs; returns how many.</summary>
    public async Task<int> ResetFailedAsync(string batchId, CancellationToken cancellationToken)
    {
        // The failed items are marked retried on their pages first, then taken out of their runs: both statements find
        // them in the runs, in one transaction, and no list of them travels to the silo and back.
        const string failed = $"""
            (SELECT coalesce(range_agg(int4range(u.seq, u.seq + 1)), {NoRanges})
             FROM batch_result_runs f CROSS JOIN LATERAL unnest(f.seqs, f.outcomes) AS u(seq, outcome)
             WHERE f.batch_id = @batchId AND f.failed > 0 AND NOT f.preset AND u.outcome = 2)
            """;
        using var slot = await gate.EnterAsync(batchId, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var session = new DbSession(connection, transaction);
        var reset = await connection.ExecuteScalarAsync<int>(session.Command(
            $"""
            SELECT coalesce(sum(failed), 0)::int FROM batch_result_runs WHERE batch_id = @batchId AND NOT preset;
            WITH c AS (SELECT {failed} AS m)
            UPDATE batch_item_pages p SET retried = p.retried + (c.m * {PageSpan})
            FROM c WHERE p.batch_id = @batchId AND {PageSpan} && c.m;
            {ResultRuns.RemoveSql(failed, "NOT r.preset")}
            """,
            new { batchId }, cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return reset;
    }

    public Task DeleteAsync(string batchId, CancellationToken cancellationToken) => ExecuteAsync(
        "DELETE FROM batch_result_runs WHERE batch_id = @batchId; DELETE FROM batch_item_pages WHERE batch_id = @batchId",
        new { batchId }, cancellationToken);

    private static object ItemParameters(string batchId, int firstSeq, IReadOnlyList<BatchItem> items) => new
    {
        batchId,
        firstSeq,
        count = items.Count,
        opIds = items.Select(i => i.Operation.Id).ToArray(),
        methods = SharedOrEach(items, i => i.Operation.Method),
        paths = SharedOrEach(items, i => i.Operation.Path),
        bodies = items.Select(i => i.Operation.Body).ToArray(),
        headers = items.Any(i => i.Operation.Headers is not null)
            ? items.Select(i => i.Operation.Headers is null ? null : JsonSerializer.Serialize(i.Operation.Headers)).ToArray()
            : null,
        keys = items.Any(i => i.Operation.IdempotencyKey is not null) ? items.Select(i => i.Operation.IdempotencyKey).ToArray() : null,
        sources = items.Any(i => i.Source is not null) ? SourcesJson(items) : null,
    };

    /// <summary>One element when every item has the same value (see <see cref="Shared"/>), else one per item.</summary>
    private static string[] SharedOrEach(IReadOnlyList<BatchItem> items, Func<BatchItem, string> value)
    {
        var first = value(items[0]);
        return items.All(i => string.Equals(value(i), first, StringComparison.Ordinal)) ? [first] : [.. items.Select(value)];
    }

    /// <summary>Each item's input fields as a JSON array, written by one writer for all the items.</summary>
    private static string?[] SourcesJson(IReadOnlyList<BatchItem> items)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using var writer = new Utf8JsonWriter(buffer);
        var sources = new string?[items.Count];
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].Source is not { } source)
            {
                continue;
            }

            buffer.ResetWrittenCount();
            writer.Reset(buffer);
            writer.WriteStartArray();
            for (var f = 0; f < source.Count; f++)
            {
                writer.WriteStringValue(source[f]);
            }

            writer.WriteEndArray();
            writer.Flush();
            sources[i] = Encoding.UTF8.GetString(buffer.WrittenSpan);
        }

        return sources;
    }

    /// <summary>
    /// Reads up to <paramref name="limit"/> rows after <paramref name="after"/> a <paramref name="window"/> of positions at a time, so each
    /// statement's plan scans a bounded range of the batch even when the table's statistics lag far behind its size
    /// (a large batch is written faster than autovacuum analyzes it). <paramref name="sql"/> takes @from, @to and @limit.
    /// </summary>
    private async Task<List<T>> ReadWindowsAsync<T>(
        string sql, string batchId, int after, int end, int limit, int window, object extra, CancellationToken cancellationToken)
    {
        var rows = new List<T>();
        var parameters = new DynamicParameters(extra);
        parameters.Add("batchId", batchId);
        for (var from = after; rows.Count < limit && from < end - 1;)
        {
            var to = (int)Math.Min(end - 1L, (long)from + window);
            parameters.Add("from", from);
            parameters.Add("to", to);
            parameters.Add("limit", limit - rows.Count);
            rows.AddRange(await QueryAsync<T>(sql, parameters, cancellationToken));
            from = to;
        }

        return rows;
    }

    /// <summary>How far the stored items reach, and whether any of them has its input's fields.</summary>
    public async Task<StoredExtent> ReadExtentAsync(string batchId, CancellationToken cancellationToken)
    {
        const string sql = """
            SELECT coalesce(max(first_seq + item_count), 0)::int AS Appended, coalesce(bool_or(sources IS NOT NULL OR source_fields IS NOT NULL), false) AS HasSource
            FROM batch_item_pages WHERE batch_id = @batchId
            """;
        return (await QueryAsync<StoredExtent>(sql, new { batchId }, cancellationToken))[0];
    }

    private async Task<List<T>> QueryAsync<T>(string sql, object parameters, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<T>(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken))).AsList();
    }

    private async Task<int> ExecuteAsync(string sql, object parameters, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
    }

    private sealed record PendingRow(int Seq, bool Retried, bool Staged, string Id, string Method, string Path, string? Body, string? Headers, string? IdempotencyKey);
}

/// <summary>
/// An item still to run; <paramref name="Prior"/> is what it was before a retry reset it. <paramref name="Staged"/>: a
/// create the database runs by itself (see <see cref="Resources.IResourceHandler.Staged"/>), from
/// <paramref name="StagedValues"/>, the column values its batch checked, when it still has them (not when the item was
/// read back from its page), else from its stored body.
/// </summary>
public sealed record PendingItem(int Seq, ItemOutcome Prior, OperationRequest Operation, bool Staged = false, string?[]? StagedValues = null);

/// <summary>A finished item; <paramref name="Recorded"/> says its result was stored with its effect.</summary>
public sealed record FinishedItem(int Seq, ItemOutcome Prior, ItemOutcome Outcome, OperationResult Result, bool Recorded = false);

public sealed record ItemCounts(int Succeeded, int Failed, int Cancelled);

public sealed record StoredExtent(int Appended, bool HasSource);
