using Dapper;
using Orleans.Batch.Grains.Database;

namespace Orleans.Batch.Grains.Resources;

public abstract partial class ResourceHandler<TEntity, TFields>
{
    public async Task<IReadOnlyList<ResourceResponse>?> UpdateManyAsync(
        DbSession session, IReadOnlyList<ItemUpdate> updates, CancellationToken cancellationToken)
    {
        if (BulkUpdate is not { } bulk)
        {
            return null;
        }

        var responses = new ResourceResponse[updates.Count];
        var valid = new List<(int Ord, long Id, TFields Fields)>(updates.Count);
        for (var i = 0; i < updates.Count; i++)
        {
            var reader = new FieldReader(updates[i].Body, updates[i].Partial);
            var fields = Read(reader, creating: false);
            if (reader.IsValid)
            {
                valid.Add((i, updates[i].Id, fields));
            }
            else
            {
                responses[i] = Problems.Validation(reader.Errors);
            }
        }

        // A later update of an id answers with what an earlier one wrote: only running them in order answers that.
        if (valid.DistinctBy(v => v.Id).Count() != valid.Count)
        {
            return null;
        }

        var conflicts = bulk.Key is { } key ? await ConflictsAsync(session, key, valid, cancellationToken).ConfigureAwait(false) : [];
        if (conflicts is null)
        {
            return null;
        }

        var rows = valid.Where(v => !conflicts.Contains(v.Ord)).ToList();
        if (rows.Count > 0)
        {
            var updated = (await session.Connection.QueryAsync<TEntity>(
                session.TenantCommand(bulk.Sql, bulk.Parameters(rows), cancellationToken)).ConfigureAwait(false)).ToDictionary(IdOf);
            foreach (var (ord, id, _) in rows)
            {
                responses[ord] = updated.TryGetValue(id, out var entity) ? Ok(entity) : NotFound(id);
            }
        }

        if (conflicts.Count > 0)
        {
            var (field, message) = Constraints[bulk.Key!.Constraint];
            foreach (var ord in conflicts)
            {
                responses[ord] = Problems.Conflict(field, message);
            }
        }

        return responses;
    }

    /// <summary>
    /// The positions of the updates whose new unique value is taken, by a row outside the call (or one the call
    /// keeps it on), or by an earlier update of the call; null when a value moves from one row of the call to
    /// another, where the answer depends on which of the two runs first. A row that changes concurrently makes
    /// the update itself fail, and the caller runs the updates one by one.
    /// </summary>
    private async Task<HashSet<int>?> ConflictsAsync(
        DbSession session, UniqueKey key, List<(int Ord, long Id, TFields Fields)> valid, CancellationToken cancellationToken)
    {
        var wanting = valid.Where(v => key.Value(v.Fields) is not null).ToList();
        if (wanting.Count == 0)
        {
            return [];
        }

        var sql = $"""
            SELECT t.id AS Id, {key.Of("t." + key.Column)} AS Current, {key.Of("u.wanted")} AS Wanted,
                   EXISTS (SELECT 1 FROM {Collection} h WHERE h.tenant_id = @Tenant AND {key.Of("h." + key.Column)} = {key.Of("u.wanted")}) AS Held
            FROM unnest(@Ids, @Values) AS u(id, wanted) JOIN {Collection} t ON t.tenant_id = @Tenant AND t.id = u.id
            """;
        var found = (await session.Connection.QueryAsync<KeyRow>(session.TenantCommand(sql, new
        {
            Ids = wanting.Select(w => w.Id).ToArray(),
            Values = wanting.Select(w => key.Value(w.Fields)).ToArray(),
        }, cancellationToken)).ConfigureAwait(false)).ToDictionary(r => r.Id);
        var changing = wanting
            .Where(w => found.TryGetValue(w.Id, out var row) && !string.Equals(row.Wanted, row.Current, StringComparison.Ordinal))
            .Select(w => (w.Ord, Row: found[w.Id]))
            .ToList();
        var vacated = changing.Select(c => c.Row.Current).ToHashSet(StringComparer.Ordinal);
        if (changing.Exists(c => vacated.Contains(c.Row.Wanted)))
        {
            return null;
        }

        var claimed = new HashSet<string>(StringComparer.Ordinal);
        return [.. changing.Where(c => c.Row.Held || !claimed.Add(c.Row.Wanted)).Select(c => c.Ord)];
    }

    private sealed record KeyRow(long Id, string Current, string Wanted, bool Held);
}

/// <summary>
/// A set-based update: <paramref name="Sql"/> updates each given row of tenant <c>@Tenant</c> (<c>@Ids</c> and the fields' arrays), keeping
/// each column whose field is null, and returns the entity's columns for each row it found. <paramref name="Key"/>
/// is the resource's unique value, checked before the update so a taken value answers 409 for its item alone.
/// </summary>
public sealed record BulkUpdate(string Sql, Func<IReadOnlyList<(long Id, object Fields)>, object> Build, UniqueKey? Key = null)
{
    public object Parameters<TFields>(IReadOnlyList<(int Ord, long Id, TFields Fields)> rows)
        where TFields : class => Build([.. rows.Select(r => (r.Id, (object)r.Fields))]);
}

/// <summary>
/// A unique value of a resource: its <paramref name="Column"/>, the SQL of its key for a column (as its unique
/// index compares it, e.g. <c>lower(email)</c>), the given value from the fields (null: unchanged), and the
/// constraint that guards it.
/// </summary>
public sealed record UniqueKey(string Column, Func<string, string> Of, Func<object, string?> Value, string Constraint);
