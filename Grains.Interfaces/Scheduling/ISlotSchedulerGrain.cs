using Orleans.Concurrency;

namespace Orleans.Batch.Grains.Interfaces.Scheduling;

/// <summary>
/// The one place, cluster-wide, that counts the batch chunks running for each tenant and hands out the cluster's slots
/// between them by weight (key 0). The tenant is the call's (<c>TenantContext</c>); a holder is one batch activation, which holds
/// a slot while one of its chunks runs and renews what it holds while it runs.
/// </summary>
public interface ISlotSchedulerGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Waits for a slot for <paramref name="holder"/>: true once one is held, false when none came within the configured
    /// wait (the caller asks again). A caller cancelled while waiting leaves the queue.
    /// </summary>
    Task<bool> AcquireAsync(string holder, CancellationToken cancellationToken = default);

    /// <summary>Gives back one slot of <paramref name="holder"/>.</summary>
    [OneWay]
    Task ReleaseAsync(string holder);

    /// <summary>
    /// Keeps <paramref name="holder"/>'s slots from being reclaimed as a dead caller's, and counts again those of the
    /// <paramref name="held"/> the scheduler no longer knows (it moved to another silo, or reclaimed them).
    /// </summary>
    Task RenewAsync(string holder, int held, CancellationToken cancellationToken = default);

    /// <summary>Slots the call's tenant holds across the cluster.</summary>
    Task<int> GetInFlightAsync(CancellationToken cancellationToken = default);
}
