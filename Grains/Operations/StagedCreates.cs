using System.Collections.Concurrent;
using System.Text;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Operations;

/// <summary>
/// Creates that the database runs by itself (<see cref="IResourceHandler.Staged"/>): they are checked when their batch
/// stores them, and a chunk of them then travels as positions and the checked column values (positions alone when the
/// batch read them back from their pages), and comes back as a yes or no.
/// </summary>
public sealed class StagedCreates(
    ResourceRouter router, NpgsqlDataSource dataSource, DatabaseGate gate, IOptions<DatabaseOptions> options)
{
    private readonly ConcurrentDictionary<(StagedCreate Create, bool GivenRows), string> _statements = new();

    /// <summary>Items one task checks when <see cref="MarkAsync"/> splits a slice over the cores.</summary>
    private const int MarkPartition = 1000;

    /// <summary>Characters of COPY text sent at a time.</summary>
    private const int CopyBlock = 16 * 1024;

    /// <summary>
    /// Which of <paramref name="items"/> can run staged, each with the column values it stores (null for one that cannot):
    /// valid creates, with their fields exactly as validated, without an idempotency key or headers, not rejected on
    /// upload; null when none can. A large slice is checked a part per core at once: the check parses and validates
    /// every body, and its batch stores nothing until it is done.
    /// </summary>
    public async Task<string?[]?[]?> MarkAsync(IReadOnlyList<BatchItem> items)
    {
        var staged = new string?[]?[items.Count];
        var parts = Math.Min(Environment.ProcessorCount, (items.Count + MarkPartition - 1) / MarkPartition);
        if (parts <= 1)
        {
            Mark(items, staged, 0, items.Count);
        }
        else
        {
            var size = (items.Count + parts - 1) / parts;
            await Task.WhenAll(Enumerable.Range(0, parts).Select(p =>
                Task.Run(() => Mark(items, staged, p * size, Math.Min(items.Count, (p + 1) * size)))));
        }

        return Array.Exists(staged, values => values is not null) ? staged : null;
    }

    private void Mark(IReadOnlyList<BatchItem> items, string?[]?[] staged, int from, int to)
    {
        for (var i = from; i < to; i++)
        {
            var (operation, _, rejected) = items[i];
            staged[i] = rejected is null && operation is { IdempotencyKey: null, Headers: null or { Count: 0 } }
                ? router.StagedValues(operation.Method, operation.Path, operation.Body)
                : null;
        }
    }

    /// <summary>
    /// Runs the staged creates at <paramref name="seqs"/> of batch <paramref name="batchId"/> as rows of <paramref name="tenant"/>, all posted to
    /// <paramref name="path"/>, in one transaction with their result run: from <paramref name="rows"/> when given, else
    /// from their stored bodies. True when every one was created; false when none was, for the caller to run them as
    /// items: a value was taken, another run finished one, or one is not staged.
    /// </summary>
    public async Task<bool> TryRunAsync(string tenant, string batchId, string path, IReadOnlyList<int> seqs, StagedRows? rows, CancellationToken cancellationToken)
    {
        if (router.StagedCreateAt(path) is not { } create)
        {
            return false;
        }

        if (rows is not null && (rows.Columns.Length != create.Arity || Array.Exists(rows.Columns, column => column.Length != seqs.Count)))
        {
            throw new ArgumentException(
                $"A chunk of {seqs.Count} staged creates of {path} needs {create.Arity} columns of as many values each.", nameof(rows));
        }

        using var turn = await gate.EnterLargeAsync(tenant, batchId, seqs.Count, cancellationToken);
        return await RunAsync(create, tenant, batchId, seqs, rows, cancellationToken);
    }

    private async Task<bool> RunAsync(StagedCreate create, string tenant, string batchId, IReadOnlyList<int> seqs, StagedRows? rows, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(batchId, cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var session = new DbSession(connection, transaction);
        try
        {
            var sql = _statements.GetOrAdd(
                (create, rows is not null), key => StagedRuns.Statement(key.Create, key.GivenRows, options.Value.SynchronousStagedCommits));
            var command = session.Command(sql, StagedRuns.Parameters(tenant, batchId, seqs, rows), cancellationToken);
            var done = false;
            if (rows is null)
            {
                done = await connection.ExecuteAsync(command) == 1;
            }
            else if (await connection.QuerySingleOrDefaultAsync<long[]>(command) is { } ids && ids.Length == seqs.Count)
            {
                await CopyAsync(connection, create, tenant, ids, rows, cancellationToken);
                done = true;
            }

            if (!done)
            {
                await transaction.RollbackAsync(cancellationToken);
                return false;
            }
        }
        catch (PostgresException e) when (!DatabaseAvailability.IsUnavailable(e))
        {
            await transaction.RollbackAsync(CancellationToken.None);
            return false;
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Writes the rows, the i-th with the i-th id, all of <paramref name="tenant"/>, as COPY text (<see cref="CopyText"/>);
    /// throws when PostgreSQL refuses a row. A tenant id needs no escaping (<see cref="TenantContext.IsValidId"/>), but one
    /// that is not an id is refused rather than written.
    /// </summary>
    private static async Task CopyAsync(
        NpgsqlConnection connection, StagedCreate create, string tenant, long[] ids, StagedRows rows, CancellationToken cancellationToken)
    {
        if (!TenantContext.IsValidId(tenant))
        {
            throw new ArgumentException($"'{tenant}' is not a tenant id.", nameof(tenant));
        }

        var text = new StringBuilder(CopyBlock + 1024);
        await using (var writer = await connection.BeginTextImportAsync(StagedRuns.Copy(create), cancellationToken))
        {
            for (var i = 0; i < ids.Length; i++)
            {
                text.Append(tenant).Append('\t').Append(ids[i]);
                foreach (var column in rows.Columns)
                {
                    text.Append('\t');
                    CopyText.AppendValue(text, column[i]);
                }

                text.Append('\n');
                if (text.Length >= CopyBlock)
                {
                    await writer.WriteAsync(text, cancellationToken);
                    text.Clear();
                }
            }

            await writer.WriteAsync(text, cancellationToken);
        }
    }
}
