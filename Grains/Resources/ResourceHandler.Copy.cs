using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Database;

namespace Orleans.Batch.Grains.Resources;

public abstract partial class ResourceHandler<TEntity, TFields>
{
    /// <summary>The create by COPY of this resource, tried before <see cref="Bulk"/>'s statements; null when it has none.</summary>
    protected virtual BulkCopy<TFields, TEntity>? Copy => null;

    /// <summary>
    /// Copies every row in at once under a savepoint, with ids drawn from the table's sequence first, so each created
    /// entity is known without reading it back; when one takes a taken value, rolls back to the savepoint and answers
    /// null, so the caller looks values up. Outside a transaction there is nothing to roll back to: null at once.
    /// </summary>
    private async Task<IEnumerable<(int Ord, TEntity Entity)>?> CopyOptimisticallyAsync(
        DbSession session, BulkCopy<TFields, TEntity> copy, IReadOnlyList<(int Ord, TFields Fields)> rows, CancellationToken cancellationToken)
    {
        if (session.Transaction is null)
        {
            return null;
        }

        // now() is the transaction's start, so it is also what the rows' created_at default takes.
        var drawn = await session.Connection.QuerySingleAsync<DrawnIds>(session.Command(
            $"SELECT now() AS Now, ARRAY(SELECT nextval(pg_get_serial_sequence('{Collection}', 'id')) FROM generate_series(1, @count)) AS Ids; SAVEPOINT bulk_copy",
            new { count = rows.Count }, cancellationToken)).ConfigureAwait(false);
        try
        {
            await using (var writer = await session.Connection.BeginBinaryImportAsync(copy.Command, cancellationToken).ConfigureAwait(false))
            {
                for (var i = 0; i < rows.Count; i++)
                {
                    await writer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                    await writer.WriteAsync(drawn.Ids[i], NpgsqlTypes.NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                    await copy.WriteAsync(writer, rows[i].Fields, cancellationToken).ConfigureAwait(false);
                }

                await writer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            }

            return rows.Select((row, i) => (row.Ord, copy.Entity(drawn.Ids[i], row.Fields, drawn.Now)));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == copy.UniqueConstraint)
        {
            await session.Connection.ExecuteAsync(session.Command("ROLLBACK TO SAVEPOINT bulk_copy", null, cancellationToken)).ConfigureAwait(false);
            return null;
        }
    }

    private sealed class DrawnIds
    {
        public DateTime Now { get; init; }

        public long[] Ids { get; init; } = [];
    }
}

/// <summary>
/// A create by binary COPY: <paramref name="Command"/> copies <c>id</c> and then the columns <paramref name="WriteAsync"/>
/// writes of one row's fields; <paramref name="Entity"/> is the row as the database then holds it, from its id, its
/// fields and the transaction's timestamp. A taken value violates <paramref name="UniqueConstraint"/>.
/// </summary>
public sealed record BulkCopy<TFields, TEntity>(
    string Command,
    Func<NpgsqlBinaryImporter, TFields, CancellationToken, Task> WriteAsync,
    Func<long, TFields, DateTime, TEntity> Entity,
    string UniqueConstraint);
