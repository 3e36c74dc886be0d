using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// A batch's checkpoint, as persisted in grain storage: its counts, never more than what its stored results show,
/// and what it needs to resume. The items and their results live in <see cref="BatchItemStore"/>.
/// </summary>
[GenerateSerializer, Alias("Orleans.Batch.BatchState")]
public sealed class BatchState
{
    [Id(0)] public BatchStatus Status { get; set; }

    [Id(1)] public int Total { get; set; }

    [Id(2)] public int Succeeded { get; set; }

    [Id(3)] public int Failed { get; set; }

    [Id(4)] public DateTimeOffset CreatedAt { get; set; }

    [Id(5)] public DateTimeOffset UpdatedAt { get; set; }

    [Id(6)] public int Concurrency { get; set; }

    // Id 7 held every result in the first version; results now live in batch_results. Do not reuse it.

    /// <summary>Why the batch ended <see cref="BatchStatus.Failed"/>, else null.</summary>
    [Id(8)] public string? FailureReason { get; set; }

    [Id(9)] public int Cancelled { get; set; }

    /// <summary>When the activation running the batch last checkpointed.</summary>
    [Id(10)] public DateTimeOffset? HeartbeatAt { get; set; }

    /// <summary>
    /// Items stored so far; while uploading, the next item's position. After sealing it is written only with
    /// checkpoints, so the stored value may lag the stored pages, which an activation reads instead.
    /// </summary>
    [Id(11)] public int Appended { get; set; }

    [Id(12)] public bool CancelRequested { get; set; }

    /// <summary>Resumes since the batch last made progress.</summary>
    [Id(13)] public int ResumeAttempts { get; set; }

    /// <summary>Its items carry the input they came from (e.g. CSV rows); results files give them back in those columns.</summary>
    [Id(14)] public bool HasSource { get; set; }

    /// <summary>
    /// The upload stopped before every item was stored (the uploader failed or went silent): the batch keeps its total, runs
    /// what it holds and ends failed; the same upload sent again clears it and stores the rest.
    /// </summary>
    [Id(20)] public bool UploadStopped { get; set; }

    /// <summary>The tenant the batch belongs to; null for a batch stored before tenants, which belongs to the default one.</summary>
    [Id(21)] public string? Tenant { get; set; }

    /// <summary>When the batch, finished, is deleted (see <see cref="BatchRegistry"/>); null while it is active.</summary>
    [Id(22)] public DateTimeOffset? ExpiresAt { get; set; }
}
