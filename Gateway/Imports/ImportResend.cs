using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Gateway.Imports;

/// <summary>What an import sent again under its <c>Idempotency-Key</c> does, from what its batch answered to being resumed.</summary>
public static class ImportResend
{
    /// <param name="resumed">What the batch answered to being resumed.</param>
    /// <param name="rows">The file's data rows.</param>
    public static ResendAction Decide(BatchCommandResult resumed, int rows) => resumed switch
    {
        { Progress: null } => ResendAction.StartAnew,
        { Conflict: not null } => ResendAction.StillUploading,
        { Progress: { Status: BatchStatus.Cancelled, Total: var total } } when total < rows => ResendAction.CancelledPart,
        { Progress: { HoldsEveryItem: true, Status: not BatchStatus.Pending } } => ResendAction.Accepted,
        _ => ResendAction.Resume,
    };
}

public enum ResendAction
{
    /// <summary>No batch was kept (the first upload failed before it was sealed): the upload starts anew under the same batch id.</summary>
    StartAnew,

    /// <summary>The batch holds every row: it is answered as the first request was.</summary>
    Accepted,

    /// <summary>The first upload may still be sending: answered 409, to be sent again later.</summary>
    StillUploading,

    /// <summary>The batch holds only its first rows: the rest are stored from the first one it does not hold.</summary>
    Resume,

    /// <summary>The batch was cancelled while the file was uploading: it takes no more rows, and the key cannot import the file.</summary>
    CancelledPart,
}

/// <summary>The batch stopped taking rows (cancelled, or its upload stopped) before it held them all.</summary>
public sealed class UploadStoppedException(BatchProgress progress)
    : Exception($"Batch {progress.BatchId} stopped taking rows at {progress.Stored} of {progress.Total} ({progress.Status}).")
{
    public BatchProgress Progress => progress;
}
