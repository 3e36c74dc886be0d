using Microsoft.Extensions.Logging;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Diagnostics;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Resources;
using Orleans.Concurrency;
using Orleans.Placement;

namespace Orleans.Batch.Grains.Operations;

/// <summary>
/// Runs chunks through <see cref="OperationExecutor.ExecuteManyAsync(string, IReadOnlyList{OperationRequest}, ItemLedger?, CancellationToken)"/>;
/// reentrant, so one activation serves many chunks. A chunk runs for the tenant its call carries (its batch's), and a
/// call that carries none is refused: it would not know whose resources to touch.
/// </summary>
[RandomPlacement, Reentrant]
public sealed partial class ChunkGrain(OperationExecutor executor, StagedCreates staged, BatchMetrics metrics, ILogger<ChunkGrain> logger) : Grain, IChunkGrain
{
    public async Task<EncodedChunkResult> ExecuteAsync(
        string batchId, IReadOnlyList<int> seqs, BatchItemSlice items, bool resent, CancellationToken cancellationToken = default)
    {
        var tenant = TenantContext.Required;
        var operations = items.DecodeOperations();
        OperationExecutor.ChunkAnswers answers;
        using (metrics.StartOperations(operations.Count))
        {
            try
            {
                answers = await executor.ExecuteManyAsync(tenant, operations, new ItemLedger(batchId, seqs) { Resent = resent }, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (DatabaseAvailability.IsUnavailable(e))
            {
                // Not its items' answers: the batch waits for the database and sends the chunk again.
                LogChunkFailed(operations.Count, batchId, e);
                throw;
            }
        }

        var results = new OperationResult[operations.Count];
        for (var i = 0; i < results.Length; i++)
        {
            var response = answers.Responses[i];
            metrics.OperationCompleted(response.Status);
            // A result stored with its effect is read from there; the batch only counts it, so its body stays here.
            results[i] = answers.Recorded[i]
                ? new OperationResult(operations[i].Id, response.Status, null, null)
                : new OperationResult(operations[i].Id, response.Status, response.Body, response.Location);
        }

        return EncodedChunkResult.Of(new ChunkResult(results, answers.Recorded));
    }

    public async Task<bool> CreateStagedAsync(
        string batchId, string path, IReadOnlyList<int> seqs, StagedRows? rows, CancellationToken cancellationToken = default)
    {
        var tenant = TenantContext.Required;
        using (metrics.StartOperations(seqs.Count))
        {
            if (!await staged.TryRunAsync(tenant, batchId, path, seqs, rows, cancellationToken))
            {
                return false;
            }
        }

        metrics.OperationCompleted(201, seqs.Count);
        return true;
    }

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "A chunk of {Count} operations of batch {BatchId} could not reach the database")]
    private partial void LogChunkFailed(int count, string? batchId, Exception exception);
}
