using Orleans.Batch.Grains.Batches.Retention;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// A batch belongs to the tenant that created it. Every call of <see cref="IBatchGrain"/> passes through this grain's own
/// call filter, the one place that sees them all (a method added later is refused until it is listed here): a call that
/// carries no tenant is refused, and one of another tenant is answered exactly as for an id no batch has. Calls that
/// come from the runtime (its reminder) or the retention janitor act for the batch's own tenant, and so do the chunks
/// and stores the run calls out to.
/// </summary>
public sealed partial class BatchGrain : IIncomingGrainCallFilter, IBatchRetention
{
    /// <summary><see cref="IBatchGrain"/> calls running now: the janitor deletes no batch while one is.</summary>
    private int _calls;

    /// <summary>The janitor is deleting the batch: calls are answered as for a batch that no longer exists.</summary>
    private bool _expiring;

    /// <summary>Whether the registry holds the batch as finished, as far as this activation wrote it; null before it did.</summary>
    private bool? _registeredFinished;

    /// <summary>The batch's tenant; null while no batch has this id (a batch from before tenants belongs to the default one).</summary>
    private string? Owner => Batch.Tenant ?? (Exists ? TenantContext.Default : null);

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.InterfaceMethod?.DeclaringType != typeof(IBatchGrain))
        {
            if (Owner is { } owner)
            {
                TenantContext.Set(owner);
            }

            await context.Invoke();
            return;
        }

        var caller = TenantContext.Required;
        if (_expiring || Owner is { } other && other != caller)
        {
            context.Result = NotFound(context.MethodName);
            return;
        }

        if (Owner is null && !Creates(context.MethodName) && await registry.DeletedAtAsync(BatchId, caller, CancellationToken.None) is { } deletedAt)
        {
            throw new BatchGoneException(BatchId, deletedAt);
        }

        _calls++;
        try
        {
            await context.Invoke();
        }
        finally
        {
            _calls--;
        }
    }

    /// <summary>Methods that create the batch when no batch has the id: they learn of a deleted one as they register it.</summary>
    private static bool Creates(string method) => method is nameof(IBatchGrain.StartAsync) or nameof(IBatchGrain.AppendAsync);

    /// <summary>What <paramref name="method"/> answers when no batch has the id.</summary>
    private object? NotFound(string method) => method switch
    {
        nameof(IBatchGrain.GetStatusAsync) or nameof(IBatchGrain.WaitAsync) or nameof(IBatchGrain.GetResultsAsync) => null,
        nameof(IBatchGrain.CancelAsync) or nameof(IBatchGrain.RetryAsync) or nameof(IBatchGrain.ResumeUploadAsync) => new BatchCommandResult(null),
        nameof(IBatchGrain.AbortAsync) => null,
        // The id is taken: gateways never send it (ids are new, or claimed under the tenant's own keys); nothing is done.
        nameof(IBatchGrain.StartAsync) or nameof(IBatchGrain.AppendAsync) or nameof(IBatchGrain.SealAsync) =>
            throw new InvalidOperationException($"No batch {BatchId} can be created or sealed: the id is taken."),
        _ => throw new InvalidOperationException($"IBatchGrain.{method} has no answer for a batch of another tenant; list it in BatchGrain.NotFound."),
    };

    /// <summary>
    /// Registers the batch being created for the caller's tenant; an async one only within its active async batches quota.
    /// Nothing is stored before: a refused batch leaves no trace.
    /// </summary>
    private async Task RegisterAsync(bool isAsync, CancellationToken cancellationToken)
    {
        var tenant = TenantContext.Required;
        var limit = isAsync ? (await quotas.ForAsync(tenant, cancellationToken)).ActiveBatches : int.MaxValue;
        switch (await registry.AdmitAsync(BatchId, tenant, isAsync, limit, cancellationToken))
        {
            case Admission.OverQuota:
                throw new TenantQuotaExceededException("activeBatches", limit,
                    $"The tenant has {limit} async batches pending or processing, its quota; nothing was accepted. Send it again once one has ended.");
            case Admission.Gone:
                throw new BatchGoneException(BatchId, DateTimeOffset.UtcNow);
            case Admission.Taken:
                throw new InvalidOperationException($"No batch {BatchId} can be created: the id is taken.");
        }

        Batch.Tenant = tenant;
        _registeredFinished = false;
    }

    /// <summary>Before a state write: a batch that ended gets its expiry from its tenant's retention; an active one has none.</summary>
    private async Task PrepareExpiryAsync(CancellationToken cancellationToken)
    {
        if (!IsTerminal)
        {
            Batch.ExpiresAt = null;
        }
        else if (Batch.ExpiresAt is null)
        {
            Batch.ExpiresAt = Batch.UpdatedAt + (await quotas.ForAsync(Owner!, cancellationToken)).Retention;
        }
    }

    /// <summary>After a state write: the registry learns that the batch became active or finished, once per change.</summary>
    private async Task SyncRegistryAsync(CancellationToken cancellationToken)
    {
        if (_registeredFinished == IsTerminal || Owner is not { } tenant)
        {
            return;
        }

        await (IsTerminal
            ? registry.SetFinishedAsync(BatchId, tenant, Batch.UpdatedAt, Batch.ExpiresAt!.Value, cancellationToken)
            : registry.SetActiveAsync(BatchId, tenant, cancellationToken));
        _registeredFinished = IsTerminal;
    }

    public async Task<bool> ExpireAsync(CancellationToken cancellationToken = default)
    {
        if (!Exists)
        {
            // Deleted already, and the registry was not told (the silo died in between); items with no state are none of
            // this service's (another service sharing the database, as test clusters do): they are left alone.
            if ((await store.ReadExtentAsync(BatchId, cancellationToken)).Appended > 0)
            {
                return false;
            }

            await registry.MarkDeletedAsync(BatchId, cancellationToken);
            return true;
        }

        if (!IsTerminal)
        {
            // Registered as finished while it runs (a batch from before the registry): it is active.
            await registry.SetActiveAsync(BatchId, Owner!, cancellationToken);
            _registeredFinished = false;
            return false;
        }

        if (_run is not null || _resuming || _calls > 0 || _expiring)
        {
            return false;
        }

        _expiring = true;
        try
        {
            await UnregisterResumeReminderAsync();
            await store.DeleteAsync(BatchId, cancellationToken);
            await state.ClearStateAsync(cancellationToken);
            state.State = new BatchState();
            await registry.MarkDeletedAsync(BatchId, cancellationToken);
            LogExpired(BatchId);
        }
        finally
        {
            _expiring = false;
        }

        DeactivateOnIdle();
        return true;
    }
}
