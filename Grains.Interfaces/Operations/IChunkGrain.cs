namespace Orleans.Batch.Grains.Interfaces.Operations;

/// <summary>
/// Executes a chunk of consecutive operations as set-based statements. Placed at random, so the chunks of a
/// batch spread over every silo of the cluster instead of staying on the batch's own.
/// </summary>
public interface IChunkGrain : IGrainWithIntegerKey
{
    Task<IReadOnlyList<OperationResult>> ExecuteAsync(IReadOnlyList<OperationRequest> operations, CancellationToken cancellationToken = default);
}
