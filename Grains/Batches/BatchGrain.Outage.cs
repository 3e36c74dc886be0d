using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Storage;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// A batch while PostgreSQL is away: what failed for that reason is neither an item's failure nor an attempt; the run
/// waits until the silo's <see cref="DatabaseAvailability"/> finds the database back, does it again, and carries on.
/// </summary>
public sealed partial class BatchGrain
{
    /// <summary>Workers, checkpoints and resumes of this activation now waiting for the database.</summary>
    private int _waitingForDatabase;

    /// <summary>Since when the batch waits for the database, while it does.</summary>
    private DateTimeOffset? _waitingSince;

    /// <summary>
    /// When this activation's run started or last stopped waiting for the database: no checkpoint could be written before,
    /// so its heartbeat counts from then.
    /// </summary>
    private DateTimeOffset _aliveAt;

    /// <summary>
    /// A state write failed for want of the database, and may have been stored all the same: the stored version can then
    /// be ahead of this activation's.
    /// </summary>
    private bool _stateWriteInDoubt;

    /// <summary>False while this activation could not count the stored results yet (the database went away as it activated).</summary>
    private bool _reconciled = true;

    /// <summary>This activation was deactivated: what still runs in it must not write once another activation took over.</summary>
    private bool _deactivated;

    private bool WaitingForDatabase => _waitingForDatabase > 0;

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivated = true;
        _run?.Abandon();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Runs <paramref name="action"/> until it is done: each time it fails for want of the database, waits until the
    /// database is back and runs it again, unless <paramref name="run"/> was abandoned or the activation deactivated
    /// meanwhile (then it throws). A failure while the database answers a probe (a statement timeout, a connection left
    /// broken by the outage) is run again at most <see cref="MaxFailuresWhileAnswering"/> times, then thrown: no endless loop.
    /// </summary>
    private async Task<T> UntilDoneAsync<T>(Func<Task<T>> action, RunContext? run)
    {
        var failuresWhileAnswering = 0;
        while (true)
        {
            Exception failure;
            try
            {
                return await action();
            }
            catch (Exception e) when (DatabaseAvailability.IsUnavailable(e) && StillWanted(run))
            {
                failure = e;
            }

            if (!await availability.ProbeAsync())
            {
                failuresWhileAnswering = 0;
                await WaitForDatabaseAsync(failure);
            }
            else if (++failuresWhileAnswering >= MaxFailuresWhileAnswering)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }

            if (!StillWanted(run))
            {
                throw new OperationCanceledException($"Batch {BatchId} stopped waiting for the database: its run was abandoned.");
            }
        }
    }

    private const int MaxFailuresWhileAnswering = 3;

    private bool StillWanted(RunContext? run) => run is not { Abandoned: true } && !_deactivated;

    private Task UntilDoneAsync(Func<Task> action, RunContext? run) => UntilDoneAsync(
        async () =>
        {
            await action();
            return true;
        },
        run);

    /// <summary>
    /// Whether <paramref name="failure"/> came from the database being away, as a probe confirms; if so, waits until it is
    /// back. A failure while the database answers (a statement timeout, say) is the caller's own and counts as an attempt,
    /// so a chunk that always fails ends instead of being sent forever.
    /// </summary>
    private async Task<bool> WaitedOutOutageAsync(Exception failure)
    {
        if (await availability.ProbeAsync())
        {
            return false;
        }

        await WaitForDatabaseAsync(failure);
        return true;
    }

    /// <summary>Waits until the database answers again; the status says so meanwhile.</summary>
    private async Task WaitForDatabaseAsync(Exception cause)
    {
        var back = availability.WaitAsync();
        if (_waitingForDatabase++ == 0)
        {
            _waitingSince = availability.UnavailableSince ?? DateTimeOffset.UtcNow;
            LogWaitingForDatabase(BatchId, cause.GetType().Name, cause.Message);
        }

        try
        {
            await back;
        }
        finally
        {
            if (--_waitingForDatabase == 0)
            {
                _aliveAt = DateTimeOffset.UtcNow;
                LogDatabaseBack(BatchId, _aliveAt - (_waitingSince ?? _aliveAt));
                _waitingSince = null;
            }
        }
    }

    /// <summary>
    /// Writes the state, and tells the registry when the batch became active or finished (see <see cref="SyncRegistryAsync"/>). After a write that failed for want of the database, and may have been stored all the same, the
    /// stored version can be ahead of this activation's: the write then takes the stored version and writes over it.
    /// </summary>
    private async Task StoreStateAsync(CancellationToken cancellationToken)
    {
        await PrepareExpiryAsync(cancellationToken);
        try
        {
            try
            {
                await state.WriteStateAsync(cancellationToken);
            }
            catch (InconsistentStateException) when (_stateWriteInDoubt && !_deactivated)
            {
                var current = state.State;
                await state.ReadStateAsync(cancellationToken);
                state.State = current;
                await state.WriteStateAsync(cancellationToken);
            }

            _stateWriteInDoubt = false;
            await SyncRegistryAsync(cancellationToken);
        }
        catch (Exception e) when (DatabaseAvailability.IsUnavailable(e))
        {
            _stateWriteInDoubt = true;
            throw;
        }
    }

    /// <summary>What a request that cannot wait answers while the batch's own work waits for the database.</summary>
    private DatabaseUnavailableException Unavailable() =>
        new($"Batch {BatchId} cannot reach the database; nothing of the call was committed.");
}
