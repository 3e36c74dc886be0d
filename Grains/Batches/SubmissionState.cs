namespace Orleans.Batch.Grains.Batches;

/// <summary>Which batch an Idempotency-Key of a submission belongs to, and since when.</summary>
[GenerateSerializer, Alias("Orleans.Batch.SubmissionState")]
public sealed class SubmissionState
{
    [Id(0)] public string BatchId { get; set; } = "";

    [Id(1)] public byte[] Fingerprint { get; set; } = [];

    [Id(2)] public DateTimeOffset ClaimedAt { get; set; }
}
