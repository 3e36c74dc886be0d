namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>
/// One <c>Idempotency-Key</c> of a batch submission, keyed by the key: the first submission claims it for its batch,
/// and every later one within the retention gets that batch back instead of starting another.
/// </summary>
public interface ISubmissionGrain : IGrainWithStringKey
{
    Task<SubmissionClaim> ClaimAsync(string proposedBatchId, byte[] fingerprint);
}

/// <param name="BatchId">The batch the key belongs to: the proposed one when this claim was first.</param>
/// <param name="IsNew">True when this claim was the first within the retention.</param>
/// <param name="SameRequest">False when the key was first used with a different request.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.SubmissionClaim")]
public sealed record SubmissionClaim(
    [property: Id(0)] string BatchId,
    [property: Id(1)] bool IsNew,
    [property: Id(2)] bool SameRequest);
