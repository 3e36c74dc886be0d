using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Idempotency;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Batches;

public sealed class SubmissionGrain(
    [PersistentState("submission", BatchStorage.ProviderName)] IPersistentState<SubmissionState> state,
    IOptions<IdempotencyOptions> options) : Grain, ISubmissionGrain
{
    public async Task<SubmissionClaim> ClaimAsync(string proposedBatchId, byte[] fingerprint)
    {
        // The key names its tenant (see SubmissionKeys): no other tenant claims it or learns its batch.
        if (SubmissionKeys.TenantOf(this.GetPrimaryKeyString()) != TenantContext.Required)
        {
            throw new InvalidOperationException("The submission key belongs to another tenant.");
        }

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
