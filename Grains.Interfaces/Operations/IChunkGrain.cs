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

    /// <summary>
    /// Runs the creates at positions <paramref name="seqs"/> of batch <paramref name="batchId"/>, all posted to
    /// <paramref name="path"/> and staged when stored (checked, and run by the database), in one transaction with their
    /// results: from <paramref name="rows"/>, their column values as checked, or when null from their stored bodies.
    /// True when every one was created (201, its result stored); false when none was, and the caller runs them as items.
    /// </summary>
    Task<bool> CreateStagedAsync(string batchId, string path, IReadOnlyList<int> seqs, StagedRows? rows, CancellationToken cancellationToken = default);
}
