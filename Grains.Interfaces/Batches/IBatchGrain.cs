namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>
/// One batch, keyed by its batch id. Its items and their results live in PostgreSQL; its progress is
/// checkpointed in grain state; a reminder resumes it on another silo when the one running it dies.
/// </summary>
public interface IBatchGrain : IGrainWithStringKey
{
    /// <summary>Stores every operation and starts the batch; a second call for the same id runs nothing.</summary>
    Task<BatchProgress> StartAsync(BatchRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores items from position <paramref name="firstSeq"/> of a batch still being uploaded, also after it was sealed
    /// at a larger total; a repeated range is ignored, and a batch that already ended stores nothing.
    /// </summary>
    Task<BatchProgress> AppendAsync(int firstSeq, BatchItemSlice items, CancellationToken cancellationToken = default);

    /// <summary>
    /// Fixes the batch's size at <paramref name="total"/> items and starts running them: those stored now at once,
    /// the rest as they are appended.
    /// </summary>
    Task<BatchProgress> SealAsync(int total, int? concurrency, CancellationToken cancellationToken = default);

    /// <summary>
    /// A failed upload: discards a batch not yet sealed, as if it never existed; a sealed one keeps its total, runs the
    /// items it holds and ends failed until <see cref="ResumeUploadAsync"/> reopens it.
    /// </summary>
    Task AbortAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The same upload sent again: a batch whose upload stopped is reopened (processing, waiting for the rest), and the
    /// caller appends from <see cref="BatchProgress.Stored"/>. A conflict while the first upload may still be running;
    /// null progress when no batch has this id (nothing was kept: the upload starts anew).
    /// </summary>
    Task<BatchCommandResult> ResumeUploadAsync(CancellationToken cancellationToken = default);

    /// <summary>Waits up to <paramref name="timeout"/> for the batch to end; null when it has not.</summary>
    Task<BatchProgress?> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>The batch's progress, or null when no batch has this id.</summary>
    Task<BatchProgress?> GetStatusAsync();

    /// <summary>Finished items after position <paramref name="after"/> (-1 for the start), optionally of one outcome.</summary>
    Task<BatchResultsPage?> GetResultsAsync(int after, int limit, ItemOutcome? outcome, CancellationToken cancellationToken = default);

    /// <summary>Items not yet started become cancelled; started ones finish; the batch ends cancelled.</summary>
    Task<BatchCommandResult> CancelAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs the failed items again, as the same items with the same keys; also carries on a batch that failed to resume.
    /// A conflict for a batch whose upload stopped: only sending the upload again completes it.
    /// </summary>
    Task<BatchCommandResult> RetryAsync(CancellationToken cancellationToken = default);
}
