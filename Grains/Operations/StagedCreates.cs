using System.Collections.Concurrent;
using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Grains.Operations;

/// <summary>
/// Creates that the database runs from their stored bodies by itself (<see cref="IResourceHandler.Staged"/>): they are
/// checked when their batch stores them, and a chunk of them then travels as positions alone, and comes back as a count.
/// </summary>
public sealed class StagedCreates(ResourceRouter router, NpgsqlDataSource dataSource, DatabaseGate gate)
{
    private readonly ConcurrentDictionary<StagedCreate, string> _statements = new();

    /// <summary>
    /// Which of <paramref name="items"/> can run staged: valid creates, with their fields exactly as validated, without
    /// an idempotency key or headers, not rejected on upload; null when none can.
    /// </summary>
    public bool[]? Mark(IReadOnlyList<BatchItem> items)
    {
        bool[]? staged = null;
        for (var i = 0; i < items.Count; i++)
        {
            var (operation, _, rejected) = items[i];
            if (rejected is null && operation is { IdempotencyKey: null, Headers: null or { Count: 0 }, Body: not null }
                && operation.Method.Equals("POST", StringComparison.OrdinalIgnoreCase)
                && router.StagedCollection(operation.Method, operation.Path, operation.Body) is not null)
            {
                (staged ??= new bool[items.Count])[i] = true;
            }
        }

        return staged;
    }

    /// <summary>
    /// Runs the staged creates at <paramref name="seqs"/> of batch <paramref name="batchId"/>, all posted to
    /// <paramref name="path"/>, in one transaction with their result run. True when every one was created; false when
    /// none was, for the caller to run them as items: a value was taken, another run finished one, or one is not staged.
    /// </summary>
    public async Task<bool> TryRunAsync(string batchId, string path, IReadOnlyList<int> seqs, CancellationToken cancellationToken)
    {
        if (router.Route("POST", path, "{}").Creates?.Handler.Staged is not { } create)
        {
            return false;
        }

        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var session = new DbSession(connection, transaction);
        try
        {
            if (await connection.ExecuteAsync(session.Command(_statements.GetOrAdd(create, StagedRuns.Sql), StagedRuns.Parameters(batchId, seqs), cancellationToken)) != 1)
            {
                await transaction.RollbackAsync(cancellationToken);
                return false;
            }
        }
        catch (PostgresException)
        {
            await transaction.RollbackAsync(CancellationToken.None);
            return false;
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }
}
