using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Scheduling;
using Orleans.Batch.Grains.Fairness;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Tenancy;
using Orleans.Concurrency;

namespace Orleans.Batch.Grains.Scheduling;

/// <summary>
/// Hands out the cluster's slots for batch chunks (<see cref="FairShare"/> decides who is next). Its counts live in
/// memory only: should it move to another silo, the batches' renewals count their slots again within a renewal
/// interval. Reentrant: requests wait on completions while releases and renewals come in.
/// </summary>
[Reentrant]
public sealed partial class SlotSchedulerGrain(
    IOptions<SchedulingOptions> options,
    IOptions<TenantQuotaOptions> defaults,
    ILogger<SlotSchedulerGrain> logger) : Grain, ISlotSchedulerGrain
{
    private readonly FairShare _share = new(options.Value.ClusterConcurrency, options.Value.MaxWaitingPerTenant);
    private readonly Dictionary<long, TaskCompletionSource> _waiters = [];
    private readonly Dictionary<string, QuotaRead> _quotas = new(StringComparer.Ordinal);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var sweep = options.Value.LeaseTimeout / 4;
        this.RegisterGrainTimer(Sweep, new GrainTimerCreationOptions(sweep, sweep) { Interleave = true });
        return Task.CompletedTask;
    }

    public async Task<bool> AcquireAsync(string holder, CancellationToken cancellationToken = default)
    {
        var tenant = TenantContext.Required;
        await QuotasOfAsync(tenant);
        if (_share.Enqueue(tenant, holder, DateTimeOffset.UtcNow) is not { } waiter)
        {
            // The tenant's queue is full: the caller asks again after a wait, not at once.
            LogQueueFull(tenant, holder);
            await Task.Delay(options.Value.MaxWait, cancellationToken);
            return false;
        }

        var granted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters[waiter] = granted;
        Dispatch();
        try
        {
            await granted.Task.WaitAsync(options.Value.MaxWait, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            // Still waiting: it leaves the queue. Granted just as the wait ended: the caller has the slot.
            return !_share.Cancel(waiter);
        }
        catch (OperationCanceledException)
        {
            if (!_share.Cancel(waiter))
            {
                // Granted to a caller that is gone: the slot goes to the next.
                _share.Release(holder, DateTimeOffset.UtcNow);
                Dispatch();
            }

            throw;
        }
        finally
        {
            _waiters.Remove(waiter);
        }
    }

    public Task ReleaseAsync(string holder)
    {
        _share.Release(holder, DateTimeOffset.UtcNow);
        Dispatch();
        return Task.CompletedTask;
    }

    public Task RenewAsync(string holder, int held, CancellationToken cancellationToken = default)
    {
        _share.Renew(TenantContext.Required, holder, held, DateTimeOffset.UtcNow);
        Dispatch();
        return Task.CompletedTask;
    }

    public Task<int> GetInFlightAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_share.InFlightOf(TenantContext.Required));

    private Task Sweep()
    {
        foreach (var (holder, tenant, slots) in _share.Expire(DateTimeOffset.UtcNow, options.Value.LeaseTimeout))
        {
            LogReclaimed(holder, tenant, slots, options.Value.LeaseTimeout);
        }

        Dispatch();
        return Task.CompletedTask;
    }

    private void Dispatch()
    {
        foreach (var waiter in _share.Grant(DateTimeOffset.UtcNow))
        {
            if (_waiters.Remove(waiter, out var granted))
            {
                granted.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Makes the tenant's quotas known to the share. The first read is waited for; after that the last ones read serve
    /// while a newer read runs, every <see cref="SchedulingOptions.QuotaRefresh"/>.
    /// </summary>
    private Task QuotasOfAsync(string tenant)
    {
        if (!_quotas.TryGetValue(tenant, out var read))
        {
            _quotas[tenant] = read = new QuotaRead();
        }

        if (read.Reading is not { IsCompleted: false } && DateTimeOffset.UtcNow - read.ReadAt >= options.Value.QuotaRefresh)
        {
            read.Reading = ReadQuotasAsync(tenant, read);
        }

        return read.Known ? Task.CompletedTask : read.Reading!;
    }

    private async Task ReadQuotasAsync(string tenant, QuotaRead read)
    {
        try
        {
            var quotas = await GrainFactory.GetGrain<ITenantGrain>(tenant).GetQuotasAsync();
            if (quotas is null)
            {
                LogUnknownTenant(tenant);
            }

            _share.SetQuotas(tenant, quotas?.Weight ?? defaults.Value.Weight, quotas?.InFlightOperations ?? defaults.Value.InFlightOperations);
        }
        catch (Exception e)
        {
            // The tenant's quotas could not be read (the database is away): the last ones known serve, else the defaults.
            LogQuotasUnread(tenant, e);
            if (!read.Known)
            {
                _share.SetQuotas(tenant, defaults.Value.Weight, defaults.Value.InFlightOperations);
            }
        }

        read.Known = true;
        read.ReadAt = DateTimeOffset.UtcNow;
    }

    private sealed class QuotaRead
    {
        public bool Known { get; set; }

        public DateTimeOffset ReadAt { get; set; } = DateTimeOffset.MinValue;

        public Task? Reading { get; set; }
    }

    [LoggerMessage(EventId = 5300, Level = LogLevel.Warning, Message = "Batch {Holder} of tenant {Tenant} was not heard from for {LeaseTimeout}; its {Slots} slots were reclaimed")]
    private partial void LogReclaimed(string holder, string tenant, int slots, TimeSpan leaseTimeout);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Warning, Message = "Tenant {Tenant} has the most requests for a slot waiting; batch {Holder} asks again later")]
    private partial void LogQueueFull(string tenant, string holder);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Warning, Message = "No tenant {Tenant} exists, yet its batch asks for slots; it runs with the default quotas")]
    private partial void LogUnknownTenant(string tenant);

    [LoggerMessage(EventId = 5303, Level = LogLevel.Warning, Message = "The quotas of tenant {Tenant} could not be read; the last known (or the defaults) apply")]
    private partial void LogQuotasUnread(string tenant, Exception exception);
}
