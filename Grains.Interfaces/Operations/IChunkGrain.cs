using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Grains.Interfaces.Operations;

/// <summary>
/// Executes a chunk of consecutive items of a batch, as set-based statements where it can. Placed at random, so the
/// chunks of a batch spread over every silo of the cluster instead of staying on the batch's own.
/// </summary>
public interface IChunkGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Runs <paramref name="operations"/>, the items at positions <paramref name="seqs"/> of batch <paramref name="batchId"/>;
    /// <paramref name="resent"/> says an earlier attempt of the chunk may have run, so its items' stored results are read first.
    /// Items and results travel encoded: a chunk is hundreds of them, and most chunks run on another silo.
    /// </summary>
    Task<EncodedChunkResult> ExecuteAsync(
        string batchId, IReadOnlyList<int> seqs, BatchItemSlice operations, bool resent, CancellationToken cancellationToken = default);
}
