using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Scheduling;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Scheduling;

/// <summary>
/// One batch activation's slots of the cluster (<see cref="ISlotSchedulerGrain"/>): a chunk runs while it holds one.
/// While it holds any it renews them, so the slots of a batch whose silo died come back after the lease timeout.
/// One per activation (registered transient); its tenant is the call's, which must carry one.
/// </summary>
public sealed partial class TenantSlots(IGrainFactory grains, IOptions<SchedulingOptions> options, ILogger<TenantSlots> logger)
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private int _held;
    private Task? _renewing;

    /// <summary>This activation's name at the scheduler: the batch's id and a suffix, so a dead activation's slots expire on their own.</summary>
    private string? _holder;

    private ISlotSchedulerGrain Scheduler => grains.GetGrain<ISlotSchedulerGrain>(0);

    /// <summary>Waits for a slot for batch <paramref name="batchId"/>; false when <paramref name="stop"/> turns true first.</summary>
    public async Task<bool> AcquireAsync(string batchId, Func<bool> stop)
    {
        ActForTenant();
        while (!stop())
        {
            try
            {
                if (await Scheduler.AcquireAsync(Holder(batchId)))
                {
                    _held++;
                    _renewing = _renewing is { IsCompleted: false } ? _renewing : RenewAsync(Holder(batchId));
                    return true;
                }
            }
            catch (Exception e)
            {
                // The scheduler moves to a live silo once membership has noticed its silo died: ask again.
                LogUnreachable(batchId, e);
                await Task.Delay(RetryDelay);
            }
        }

        return false;
    }

    /// <summary>Gives back a slot; should the release be lost, the slot comes back once the batch holds none and its lease expires.</summary>
    public async Task ReleaseAsync(string batchId)
    {
        ActForTenant();
        _held--;
        try
        {
            await Scheduler.ReleaseAsync(Holder(batchId));
        }
        catch (Exception e)
        {
            LogUnreachable(batchId, e);
        }
    }

    private string Holder(string batchId) => _holder ??= $"{batchId}#{Guid.NewGuid().ToString("N")[..8]}";

    private async Task RenewAsync(string holder)
    {
        while (_held > 0)
        {
            await Task.Delay(options.Value.RenewInterval);
            try
            {
                await Scheduler.RenewAsync(holder, _held);
            }
            catch (Exception e)
            {
                LogUnreachable(holder, e);
            }
        }
    }

    /// <summary>
    /// The batch sets its tenant before it asks; one that did not is a defect, refused here at once rather than retried
    /// below as if the scheduler could not be reached.
    /// </summary>
    private static void ActForTenant() => _ = TenantContext.Required;

    [LoggerMessage(EventId = 5310, Level = LogLevel.Warning, Message = "Batch {Holder} could not reach the slot scheduler; it asks again")]
    private partial void LogUnreachable(string holder, Exception exception);
}
