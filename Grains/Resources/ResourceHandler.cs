using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Text;

namespace Orleans.Batch.Grains.Resources;

/// <summary>
/// The shared flow of every resource: validate, run one statement under the silo's database gate, and turn
/// constraint violations into the statuses a client expects (unique 409, missing reference 422, still referenced 409).
/// </summary>
/// <typeparam name="TEntity">The row as returned to clients.</typeparam>
/// <typeparam name="TFields">The writable fields; null means "not given" (and, on PATCH, "unchanged").</typeparam>
public abstract partial class ResourceHandler<TEntity, TFields> : IResourceHandler
    where TEntity : class
    where TFields : class
{
    private const int DefaultPageSize = 100;
    private const int MaxPageSize = 1000;

    public abstract string Collection { get; }

    /// <summary>The resource's name in messages, e.g. <c>user</c>.</summary>
    protected abstract string Noun { get; }

    /// <summary>The select list, aliased to <typeparamref name="TEntity"/>'s constructor parameters.</summary>
    protected abstract string Columns { get; }

    /// <summary>Inserts <typeparamref name="TFields"/> as a row of tenant <c>@Tenant</c> and returns <see cref="Columns"/>.</summary>
    protected abstract string InsertSql { get; }

    /// <summary>Updates the row <c>@Id</c> of tenant <c>@Tenant</c>, keeping each column whose field is null, and returns <see cref="Columns"/>.</summary>
    protected abstract string UpdateSql { get; }

    /// <summary>Constraint name to the field it guards and the message a client sees when it is violated.</summary>
    protected abstract IReadOnlyDictionary<string, (string Field, string Message)> Constraints { get; }

    /// <summary>Query parameters that filter a listing, each with its SQL condition on the parameter of the same name.</summary>
    protected virtual IReadOnlyList<ListFilter> Filters => [];

    /// <summary>The set-based create of this resource, or null when it has none.</summary>
    protected virtual BulkInsert? Bulk => null;

    /// <summary>The set-based update of this resource, or null when it has none.</summary>
    protected virtual BulkUpdate? BulkUpdate => null;

    public virtual StagedCreate? Staged => null;

    protected abstract TFields ReadFields(FieldReader fields, bool creating);

    /// <summary>The names of the fields a body of this resource may hold, for the error an unknown one gets.</summary>
    protected abstract string FieldList { get; }

    /// <summary>Reads the body's fields (<see cref="ReadFields"/>) and refuses any other field it holds.</summary>
    protected TFields Read(FieldReader fields, bool creating)
    {
        var read = ReadFields(fields, creating);
        fields.RefuseUnknown(FieldList);
        return read;
    }

    /// <summary>The row a staged create of <paramref name="fields"/> made, as returned to clients; only with <see cref="Staged"/>.</summary>
    protected virtual TEntity Created(TFields fields, long id, DateTime createdAt) =>
        throw new NotSupportedException($"The {Noun} collection has no staged create.");

    /// <summary>The values of <see cref="StagedCreate.Columns"/> that a staged create of <paramref name="fields"/> stores; only with <see cref="Staged"/>.</summary>
    protected virtual string?[] StagedColumns(TFields fields) =>
        throw new NotSupportedException($"The {Noun} collection has no staged create.");

    public string?[]? StagedValues(FieldReader fields)
    {
        if (Staged is null)
        {
            return null;
        }

        var read = Read(fields, creating: true);
        return fields.IsValid && fields.Verbatim ? StagedColumns(read) : null;
    }

    public ResourceResponse RenderCreated(FieldReader fields, long id, DateTime createdAt) =>
        new(201, ResourceJson.Serialize(Created(Read(fields, creating: true), id, createdAt)), $"/{Collection}/{id}");

    protected abstract long IdOf(TEntity entity);

    public async Task<ResourceResponse> CreateAsync(DbSession session, JsonElement body, CancellationToken cancellationToken)
    {
        var reader = new FieldReader(body, partial: false);
        var fields = Read(reader, creating: true);
        if (!reader.IsValid)
        {
            return Problems.Validation(reader.Errors);
        }

        try
        {
            var created = await session.Connection.QuerySingleAsync<TEntity>(
                session.TenantCommand(InsertSql, fields, cancellationToken)).ConfigureAwait(false);
            return new ResourceResponse(201, ResourceJson.Serialize(created), $"/{Collection}/{IdOf(created)}");
        }
        catch (PostgresException e) when (WriteViolation(e) is { } problem)
        {
            return problem;
        }
    }

    public async Task<IReadOnlyList<ResourceResponse>?> CreateManyAsync(
        DbSession session, IReadOnlyList<JsonElement> bodies, CancellationToken cancellationToken)
    {
        if (Bulk is not { } bulk)
        {
            return null;
        }

        var responses = new ResourceResponse[bodies.Count];
        var valid = new List<(int Ord, TFields Fields)>(bodies.Count);
        for (var i = 0; i < bodies.Count; i++)
        {
            var reader = new FieldReader(bodies[i], partial: false);
            var fields = Read(reader, creating: true);
            if (reader.IsValid)
            {
                valid.Add((i, fields));
            }
            else
            {
                responses[i] = Problems.Validation(reader.Errors);
            }
        }

        if (valid.Count > 0)
        {
            var parameters = bulk.Parameters(valid);
            var created = await InsertOptimisticallyAsync(session, bulk, valid, parameters, cancellationToken).ConfigureAwait(false)
                ?? await session.Connection.QueryAsync<int, TEntity, (int Ord, TEntity Entity)>(
                    session.TenantCommand(bulk.Sql, parameters, cancellationToken), (ord, entity) => (ord, entity), splitOn: "id").ConfigureAwait(false);
            foreach (var (ord, entity) in created)
            {
                responses[ord] = new ResourceResponse(201, ResourceJson.Serialize(entity), $"/{Collection}/{IdOf(entity)}");
            }

            var (field, message) = Constraints[bulk.UniqueConstraint];
            foreach (var (ord, _) in valid)
            {
                responses[ord] ??= Problems.Conflict(field, message);
            }
        }

        return responses;
    }

    /// <summary>
    /// Inserts every row at once under a savepoint; when one takes a taken value, rolls back to it and answers null, so
    /// the caller looks values up. Outside a transaction there is nothing to roll back to: null at once.
    /// </summary>
    private static async Task<IEnumerable<(int Ord, TEntity Entity)>?> InsertOptimisticallyAsync(
        DbSession session, BulkInsert bulk, IReadOnlyList<(int Ord, TFields Fields)> rows, object parameters, CancellationToken cancellationToken)
    {
        if (session.Transaction is null)
        {
            return null;
        }

        try
        {
            var rowOf = new Dictionary<string, (int Ord, TFields Fields)>(rows.Count, StringComparer.Ordinal);
            foreach (var row in rows)
            {
                rowOf[bulk.FieldKey(row.Fields)] = row;
            }

            return await ReadCreatedAsync(session, bulk, parameters, rowOf, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == bulk.UniqueConstraint)
        {
            await session.Connection.ExecuteAsync(session.Command("ROLLBACK TO SAVEPOINT bulk_insert", null, cancellationToken)).ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>
    /// Runs <see cref="BulkInsert.OptimisticSql"/> and reads each row straight off the reader (a general mapper's
    /// per-column boxing and splitting was the largest cost a chunk of creates had in its silo); the reader is closed
    /// before a failure reaches the caller, who then rolls back to the savepoint.
    /// </summary>
    private static async Task<List<(int Ord, TEntity Entity)>> ReadCreatedAsync(
        DbSession session, BulkInsert bulk, object parameters, Dictionary<string, (int Ord, TFields Fields)> rowOf, CancellationToken cancellationToken)
    {
        var created = new List<(int Ord, TEntity Entity)>(rowOf.Count);
        await using var reader = await session.Connection.ExecuteReaderAsync(
            session.TenantCommand(bulk.OptimisticSql, parameters, cancellationToken)).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var (ord, fields) = rowOf[reader.GetString(0)];
            created.Add((ord, (TEntity)bulk.Created(reader, 1, fields)));
        }

        return created;
    }

    public async Task<IReadOnlyList<ResourceResponse>> DeleteManyAsync(DbSession session, IReadOnlyList<long> ids, CancellationToken cancellationToken)
    {
        var sql = $"DELETE FROM {Collection} WHERE tenant_id = @Tenant AND id = ANY(@Ids) RETURNING id";
        var deleted = (await session.Connection.QueryAsync<long>(
            session.TenantCommand(sql, new { Ids = ids.Distinct().ToArray() }, cancellationToken)).ConfigureAwait(false)).ToHashSet();
        var responses = new ResourceResponse[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            // The first delete of an id removes it; a later one in the same call finds nothing, as it would in sequence.
            responses[i] = deleted.Remove(ids[i]) ? new ResourceResponse(204, null) : NotFound(ids[i]);
        }

        return responses;
    }

    public async Task<ResourceResponse> GetAsync(DbSession session, long id, CancellationToken cancellationToken)
    {
        var sql = $"SELECT {Columns} FROM {Collection} WHERE tenant_id = @Tenant AND id = @Id";
        var found = await session.Connection.QuerySingleOrDefaultAsync<TEntity>(
            session.TenantCommand(sql, new { Id = id }, cancellationToken)).ConfigureAwait(false);
        return found is null ? NotFound(id) : Ok(found);
    }

    public async Task<ResourceResponse> UpdateAsync(DbSession session, long id, JsonElement body, bool partial, CancellationToken cancellationToken)
    {
        var reader = new FieldReader(body, partial);
        var fields = Read(reader, creating: false);
        if (!reader.IsValid)
        {
            return Problems.Validation(reader.Errors);
        }

        var parameters = new DynamicParameters(fields);
        parameters.Add("Id", id);
        try
        {
            var updated = await session.Connection.QuerySingleOrDefaultAsync<TEntity>(
                session.TenantCommand(UpdateSql, parameters, cancellationToken)).ConfigureAwait(false);
            return updated is null ? NotFound(id) : Ok(updated);
        }
        catch (PostgresException e) when (WriteViolation(e) is { } problem)
        {
            return problem;
        }
    }

    public async Task<ResourceResponse> DeleteAsync(DbSession session, long id, CancellationToken cancellationToken)
    {
        var sql = $"DELETE FROM {Collection} WHERE tenant_id = @Tenant AND id = @Id";
        try
        {
            var deleted = await session.Connection.ExecuteAsync(
                session.TenantCommand(sql, new { Id = id }, cancellationToken)).ConfigureAwait(false);
            return deleted == 0 ? NotFound(id) : new ResourceResponse(204, null);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            return Problems.Conflict("id", $"{Noun} {id} is still referenced by {e.TableName ?? "other resources"}; delete those first.");
        }
    }

    public async Task<ResourceResponse> ListAsync(DbSession session, IReadOnlyDictionary<string, string> query, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var limit = ParseQueryInt64(query, "limit", DefaultPageSize, 1, MaxPageSize, errors);
        var after = ParseQueryInt64(query, "after", 0, 0, long.MaxValue, errors);
        var parameters = new DynamicParameters();
        var where = new List<string> { "tenant_id = @Tenant", "id > @After" };
        foreach (var filter in Filters)
        {
            if (query.TryGetValue(filter.Name, out var raw))
            {
                if (filter.Parse(raw) is { } value)
                {
                    parameters.Add(filter.Name, value);
                    where.Add(filter.Condition);
                }
                else
                {
                    errors[filter.Name] = [filter.Hint];
                }
            }
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors);
        }

        parameters.Add("After", after);
        parameters.Add("Limit", limit);
        var sql = $"SELECT {Columns} FROM {Collection} WHERE {string.Join(" AND ", where)} ORDER BY id LIMIT @Limit";
        var items = (await session.Connection.QueryAsync<TEntity>(
            session.TenantCommand(sql, parameters, cancellationToken)).ConfigureAwait(false)).AsList();
        long? nextAfter = items.Count == limit ? IdOf(items[^1]) : null;
        return new ResourceResponse(200, ResourceJson.Serialize(new ResourcePage<TEntity>(items, nextAfter)));
    }

    private ResourceResponse? WriteViolation(PostgresException e)
    {
        var known = e.ConstraintName is { } name && Constraints.TryGetValue(name, out var c) ? c : ((string, string)?)null;
        return e.SqlState switch
        {
            PostgresErrorCodes.UniqueViolation when known is var (field, message) => Problems.Conflict(field, message),
            PostgresErrorCodes.ForeignKeyViolation when known is var (field, message) => Problems.MissingReference(field, message),
            PostgresErrorCodes.CheckViolation when known is var (field, message) => Problems.Validation(
                new Dictionary<string, string[]> { [field] = [message] }),
            _ => null,
        };
    }

    private ResourceResponse NotFound(long id) => Problems.NotFound($"{Noun} {id} does not exist.");

    private static ResourceResponse Ok(TEntity entity) => new(200, ResourceJson.Serialize(entity));

    private static long ParseQueryInt64(
        IReadOnlyDictionary<string, string> query, string name, long fallback, long min, long max, Dictionary<string, string[]> errors)
    {
        if (!query.TryGetValue(name, out var raw))
        {
            return fallback;
        }

        if (long.TryParse(raw, out var value) && value >= min && value <= max)
        {
            return value;
        }

        errors[name] = [$"Must be a whole number from {min} to {max}."];
        return fallback;
    }
}

/// <summary>
/// One page of a listing. <c>nextAfter</c> is always written, as <c>null</c> on the last page, so a client can tell
/// "no more pages" from a missing field (the shared options leave nulls out).
/// </summary>
public sealed record ResourcePage<TEntity>(
    IReadOnlyList<TEntity> Items,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] long? NextAfter);

/// <summary>
/// A set-based create of rows from <paramref name="Input"/> (an <c>unnest(...) AS t(ord, ...)</c> of the call's rows)
/// into <paramref name="Columns"/> of <paramref name="Table"/>, as rows of tenant <c>@Tenant</c>, whose unique
/// <paramref name="Key"/> within the tenant (an expression of a row alias, over the column <paramref name="KeyColumn"/>,
/// read from a row's fields by <paramref name="FieldKey"/>) is guarded by <paramref name="UniqueConstraint"/>. <see cref="Sql"/> returns <c>ord</c> (the row's position in the call),
/// <see cref="OptimisticSql"/> the key, followed by the <paramref name="Generated"/> columns, the ones the database sets;
/// <paramref name="Created"/> makes the entity of such a row (from those columns, from the given ordinal on) and the
/// fields it was inserted with, which the row holds exactly as given.
/// </summary>
public sealed record BulkInsert(
    string Table, string Input, string Columns, Func<string, string> Key, string Returning,
    Func<IReadOnlyList<(int Ord, object Fields)>, object> Build, string UniqueConstraint, string KeyColumn, Func<object, string> FieldKey,
    string Generated, Func<DbDataReader, int, object, object> Created)
{
    /// <summary>
    /// Inserts every row, and fails as a whole when one takes a taken value: the common case of new rows at the cost of
    /// the inserts alone, a fifth of <see cref="Sql"/>'s, whose lookups of every value dominate it.
    /// </summary>
    /// <remarks>
    /// Rows come back with their <paramref name="KeyColumn"/> exactly as given, not joined to the input: when every row
    /// was inserted, no two share a key, so the key finds each row's input (a join on the key expression cost a third
    /// of the statement). The insert runs under <c>SAVEPOINT bulk_insert</c>, set in the same round trip, for the
    /// caller to roll back to when it fails; the savepoint is released with the transaction, and the statements after
    /// it commit with it.
    /// </remarks>
    public string OptimisticSql => $"""
        SAVEPOINT bulk_insert;
        INSERT INTO {Table} (tenant_id, {Columns}) SELECT @Tenant, {Columns} FROM {Input} ORDER BY ord RETURNING {KeyColumn} AS key, {Generated}
        """;

    /// <summary>
    /// Inserts every row it can, skipping those whose value is taken (or repeated in the call) by looking them up, not with
    /// ON CONFLICT, whose speculative insertion costs far more per row; a row a concurrent transaction takes meanwhile
    /// fails the statement, and the caller falls back to one row at a time.
    /// </summary>
    public string Sql => $"""
        WITH input AS (SELECT * FROM {Input}),
        fresh AS (
            SELECT DISTINCT ON ({Key("i")}) i.* FROM input i
            WHERE NOT EXISTS (SELECT 1 FROM {Table} x WHERE x.tenant_id = @Tenant AND {Key("x")} = {Key("i")})
            ORDER BY {Key("i")}, i.ord),
        ins AS (INSERT INTO {Table} (tenant_id, {Columns}) SELECT @Tenant, {Columns} FROM fresh ORDER BY ord RETURNING {Returning})
        SELECT f.ord, ins.* FROM ins JOIN fresh f ON {Key("f")} = {Key("ins")}
        """;

    public object Parameters<TFields>(IReadOnlyList<(int Ord, TFields Fields)> rows)
        where TFields : class => Build([.. rows.Select(r => (r.Ord, (object)r.Fields))]);
}

/// <summary>A listing filter: the query parameter, its SQL condition and how to parse it (null when invalid).</summary>
public sealed record ListFilter(string Name, string Condition, Func<string, object?> Parse, string Hint)
{
    public static ListFilter Text(string name, string condition) =>
        new(name, condition, raw => raw.Length is > 0 and <= 500 && StorableText.IsStorable(raw) ? raw : null,
            "Must be 1 to 500 characters of valid text, without NUL (%00).");

    public static ListFilter Id(string name, string condition) =>
        new(name, condition, raw => long.TryParse(raw, out var v) && v > 0 ? v : null, "Must be a positive whole number.");
}
