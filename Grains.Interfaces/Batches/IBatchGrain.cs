namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>One batch, keyed by its batch id: runs its operations and keeps their results.</summary>
public interface IBatchGrain : IGrainWithStringKey
{
    /// <summary>Starts the batch; a second call for the same id returns the existing batch's progress and runs nothing.</summary>
    Task<BatchProgress> StartAsync(BatchRequest request, CancellationToken cancellationToken = default);

    /// <summary>Waits up to <paramref name="timeout"/> for the batch to end; null when it is still running.</summary>
    Task<BatchOutcome?> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>The batch's progress, or null when no batch has this id.</summary>
    Task<BatchProgress?> GetStatusAsync();

    /// <summary>A page of results in request order, or null when no batch has this id.</summary>
    Task<BatchResultsPage?> GetResultsAsync(int offset, int limit);
}
