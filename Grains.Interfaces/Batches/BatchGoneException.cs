namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>
/// The batch existed, ended and was deleted after its retention: its routes answer 410 Gone until its tombstone expires,
/// then 404 like any unknown id. Only its own tenant is told; any other is answered as for an unknown id.
/// </summary>
[GenerateSerializer, Alias("Orleans.Batch.BatchGoneException")]
public sealed class BatchGoneException : Exception
{
    public BatchGoneException()
    {
    }

    public BatchGoneException(string batchId, DateTimeOffset deletedAt)
        : base($"Batch {batchId} was deleted at {deletedAt:O}, after its retention.")
    {
        BatchId = batchId;
        DeletedAt = deletedAt;
    }

    public BatchGoneException(string message)
        : base(message)
    {
    }

    public BatchGoneException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    [Id(0)] public string BatchId { get; init; } = "";

    [Id(1)] public DateTimeOffset DeletedAt { get; init; }
}
