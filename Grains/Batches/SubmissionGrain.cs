using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Idempotency;
using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Grains.Batches;

public sealed class SubmissionGrain(
    [PersistentState("submission", BatchStorage.ProviderName)] IPersistentState<SubmissionState> state,
    IOptions<IdempotencyOptions> options) : Grain, ISubmissionGrain
{
    public async Task<SubmissionClaim> ClaimAsync(string proposedBatchId, byte[] fingerprint)
    {
        var now = DateTimeOffset.UtcNow;
        if (state.RecordExists && state.State.ClaimedAt + options.Value.Retention > now)
        {
            return new SubmissionClaim(state.State.BatchId, IsNew: false, state.State.Fingerprint.AsSpan().SequenceEqual(fingerprint));
        }

        state.State = new SubmissionState { BatchId = proposedBatchId, Fingerprint = fingerprint, ClaimedAt = now };
        await state.WriteStateAsync();
        return new SubmissionClaim(proposedBatchId, IsNew: true, SameRequest: true);
    }
}

[GenerateSerializer, Alias("Orleans.Batch.SubmissionState")]
public sealed class SubmissionState
{
    [Id(0)] public string BatchId { get; set; } = "";

    [Id(1)] public byte[] Fingerprint { get; set; } = [];

    [Id(2)] public DateTimeOffset ClaimedAt { get; set; }
}
