namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>A batch's status as of one moment.</summary>
/// <param name="HasSource">Its items carry the input they came from (e.g. CSV rows), whether or not any has finished.</param>
/// <param name="Stored">Items stored so far: <paramref name="Total"/> once its upload is complete.</param>
/// <param name="UploadStopped">
/// Its upload stopped before every item was stored: it runs (or ran) the items it holds and ends failed, until the same
/// upload is sent again and stores the rest.
/// </param>
/// <param name="WaitingFor">What the batch's run waits for before it can move on (<c>database</c>), else null.</param>
/// <param name="WaitingSince">Since when it has waited for <paramref name="WaitingFor"/>.</param>
/// <param name="ExpiresAt">When a finished batch is deleted (its tenant's retention from when it ended), else null.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.BatchProgress")]
public sealed record BatchProgress(
    [property: Id(0)] string BatchId,
    [property: Id(1)] BatchStatus Status,
    [property: Id(2)] int Total,
    [property: Id(3)] int Succeeded,
    [property: Id(4)] int Failed,
    [property: Id(5)] DateTimeOffset CreatedAt,
    [property: Id(6)] DateTimeOffset UpdatedAt,
    [property: Id(7)] int Concurrency,
    [property: Id(8)] string? FailureReason,
    [property: Id(9)] int Cancelled,
    [property: Id(10)] DateTimeOffset? HeartbeatAt,
    [property: Id(11)] bool HasSource = false,
    [property: Id(20)] int Stored = 0,
    [property: Id(21)] bool UploadStopped = false,
    [property: Id(30)] string? WaitingFor = null,
    [property: Id(31)] DateTimeOffset? WaitingSince = null,
    [property: Id(40)] DateTimeOffset? ExpiresAt = null)
{
    public int Completed => Succeeded + Failed + Cancelled;

    public double Progress => Total == 0 ? 1.0 : (double)Completed / Total;

    /// <summary>Every item of its total is stored: a batch may be answered as accepted only then.</summary>
    public bool HoldsEveryItem => Stored >= Total && !UploadStopped;

    public bool IsTerminal => Status is BatchStatus.Completed or BatchStatus.Failed or BatchStatus.Cancelled;
}
