using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Batch.Grains.Diagnostics;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Resources;
using Orleans.Concurrency;
using Orleans.Placement;

namespace Orleans.Batch.Grains.Operations;

/// <summary>Runs chunks through <see cref="OperationExecutor.ExecuteManyAsync"/>; reentrant, so one activation serves many chunks.</summary>
[RandomPlacement, Reentrant]
public sealed partial class ChunkGrain(OperationExecutor executor, BatchMetrics metrics, ILogger<ChunkGrain> logger) : Grain, IChunkGrain
{
    public async Task<IReadOnlyList<OperationResult>> ExecuteAsync(IReadOnlyList<OperationRequest> operations, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<ResourceResponse> responses;
        using (metrics.StartOperations(operations.Count))
        {
            try
            {
                responses = await executor.ExecuteManyAsync(operations, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogChunkFailed(operations.Count, operations[0].BatchId, e);
                var unavailable = Problems.Unavailable("The database could not be reached; the operation was not applied. Retry later.");
                responses = [.. operations.Select(_ => unavailable)];
            }
        }

        var results = new OperationResult[operations.Count];
        for (var i = 0; i < results.Length; i++)
        {
            metrics.OperationCompleted(responses[i].Status);
            results[i] = new OperationResult(operations[i].Id, responses[i].Status, responses[i].Body, responses[i].Location);
        }

        return results;
    }

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "A chunk of {Count} operations of batch {BatchId} could not reach the database")]
    private partial void LogChunkFailed(int count, string? batchId, Exception exception);
}
