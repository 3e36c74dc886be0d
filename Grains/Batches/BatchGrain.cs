using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Resources;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// One batch. Its items and results live in <see cref="BatchItemStore"/>; its progress is checkpointed in grain
/// state; a persistent reminder wakes it on a surviving silo when the silo running it dies, and it carries on
/// from its checkpoint. Reentrant, so status, results and cancel are answered while it runs; every continuation
/// still runs on the grain's one thread.
/// </summary>
[Reentrant]
public sealed partial class BatchGrain(
    [PersistentState("batch", BatchStorage.ProviderName)] IPersistentState<BatchState> state,
    BatchItemStore store,
    Operations.StagedCreates staged,
    Database.DatabaseAvailability availability,
    BatchRegistry registry,
    BatchQuotas quotas,
    Scheduling.TenantSlots slots,
    Database.DatabaseGate gate,
    IOptions<BatchOptions> options,
    ILogger<BatchGrain> logger) : Grain, IBatchGrain, IRemindable
{
    private const string ResumeReminder = "resume";

    private TaskCompletionSource? _ended;

    /// <summary>A resume is writing its attempt and has not started its run yet.</summary>
    private bool _resuming;

    private string? _batchId;

    private BatchState Batch => state.State;

    private string BatchId => _batchId ??= this.GetPrimaryKeyString();

    private bool Exists => state.RecordExists;

    /// <summary>Sealed before all its items were stored, and some are still missing.</summary>
    private bool Incomplete => Batch.Status != BatchStatus.Pending && Batch.Appended > 0 && Batch.Appended < Batch.Total;

    /// <summary>Sealed before all its items were stored: the rest are still being appended.</summary>
    private bool Uploading => Batch.Status == BatchStatus.Processing && Incomplete && !Batch.UploadStopped;

    /// <summary>Items stored so far; batches from before <see cref="BatchState.Appended"/> was kept stored all before sealing.</summary>
    private int Stored => Incomplete ? Batch.Appended : Batch.Total;

    private bool IsTerminal => Batch.Status is BatchStatus.Completed or BatchStatus.Failed or BatchStatus.Cancelled;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (Exists && Batch.Status == BatchStatus.Processing)
        {
            try
            {
                await CatchUpAsync(cancellationToken);
            }
            catch (Exception e) when (Database.DatabaseAvailability.IsUnavailable(e))
            {
                // The database went away after the state was read: the resume catches up once it is back.
                _reconciled = false;
            }

            _ = ResumeForOwnerAsync("activated while processing");
        }
    }

    /// <summary>Resumes acting for the batch's tenant, whatever woke the activation; the tenant is set for this flow only.</summary>
    private async Task ResumeForOwnerAsync(string why)
    {
        TenantContext.Set(Owner!);
        await ResumeAsync(why);
    }

    /// <summary>
    /// Brings an activation's counts up to what is stored. Results stored after the last checkpoint count before the first
    /// status is answered, so progress read from this activation never goes back behind what the previous one reported.
    /// </summary>
    private async Task CatchUpAsync(CancellationToken cancellationToken)
    {
        if (Incomplete)
        {
            await ReadAppendedExtentAsync(cancellationToken);
        }

        await ReconcileAsync(cancellationToken);
        _reconciled = true;
    }

    /// <summary>Slices appended after sealing are not checkpointed one by one: the stored pages say how far they reach.</summary>
    private async Task ReadAppendedExtentAsync(CancellationToken cancellationToken)
    {
        var extent = await store.ReadExtentAsync(BatchId, cancellationToken);
        Batch.Appended = Math.Clamp(extent.Appended, Batch.Appended, Batch.Total);
        Batch.HasSource |= extent.HasSource;
    }

    public async Task<BatchProgress> StartAsync(BatchRequest request, CancellationToken cancellationToken = default)
    {
        // A call sent again after a failure finishes what the first one began: items stored but never sealed are sealed.
        if (Exists && Batch.Status != BatchStatus.Pending || _run is not null)
        {
            return Progress();
        }

        await AppendItemsAsync(0, [.. request.Operations.Select(o => new BatchItem(o))], null, request.Mode == BatchMode.Async, cancellationToken);
        return await SealAsync(request.Operations.Count, request.Concurrency, cancellationToken);
    }

    /// <remarks>Only uploads (imports) append: a batch they create is async.</remarks>
    public Task<BatchProgress> AppendAsync(int firstSeq, BatchItemSlice items, CancellationToken cancellationToken = default) =>
        AppendItemsAsync(firstSeq, items.Decode(), items.SourceFields, isAsync: true, cancellationToken);

    /// <param name="isAsync">A batch this call creates answers its client before it ends: it counts against the active async batches quota.</param>
    private async Task<BatchProgress> AppendItemsAsync(
        int firstSeq, IReadOnlyList<BatchItem> items, string[]? sourceFields, bool isAsync, CancellationToken cancellationToken)
    {
        // One append at a time: a slice sent again while its first call still runs would otherwise store it twice over
        // and take back the results of items already run.
        await _uploadLock.WaitAsync(cancellationToken);
        try
        {
            _lastUploadCall = DateTimeOffset.UtcNow;
            return await AppendLockedAsync(firstSeq, items, sourceFields, isAsync, cancellationToken);
        }
        finally
        {
            _uploadLock.Release();
        }
    }

    private async Task<BatchProgress> AppendLockedAsync(
        int firstSeq, IReadOnlyList<BatchItem> items, string[]? sourceFields, bool isAsync, CancellationToken cancellationToken)
    {
        if (!Exists)
        {
            var now = DateTimeOffset.UtcNow;
            state.State = new BatchState { Status = BatchStatus.Pending, CreatedAt = now, UpdatedAt = now, Tenant = Batch.Tenant };
        }

        var sealedEarly = Uploading;
        if (Batch.Status != BatchStatus.Pending && !sealedEarly)
        {
            // Cancelled, ended or stopped while the rest was uploading: nothing more is stored, and the caller sees why.
            return IsTerminal || Batch.CancelRequested || Batch.UploadStopped
                ? Progress()
                : throw new InvalidOperationException($"Batch {BatchId} is {Batch.Status}; items can only be added while it is pending.");
        }

        var end = firstSeq + items.Count;
        if (firstSeq > Batch.Appended || sealedEarly && end > Batch.Appended && (firstSeq != Batch.Appended || end > Batch.Total))
        {
            throw new ArgumentOutOfRangeException(nameof(firstSeq),
                $"Batch {BatchId} holds items up to {Batch.Appended} of {(sealedEarly ? Batch.Total : "an open total")}; got a slice from {firstSeq} to {end}.");
        }

        if (end <= Batch.Appended)
        {
            return Progress();
        }

        if (!Exists && Batch.Tenant is null)
        {
            await RegisterAsync(isAsync, cancellationToken);
        }

        // Storing a slice is most of an import's work: it takes a slot of the cluster like a chunk, so one tenant's uploads
        // share the database with another's by weight instead of first come first served.
        TenantContext.Set(Owner!);
        if (!await slots.AcquireAsync(BatchId, () => cancellationToken.IsCancellationRequested))
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        string?[]?[]? stagedItems;
        try
        {
            using var turn = await gate.EnterLargeAsync(Owner!, BatchId, items.Count, cancellationToken);
            stagedItems = await staged.MarkAsync(items);
            await store.AppendAsync(BatchId, firstSeq, items, stagedItems?.Select(values => values is not null).ToArray(), sourceFields, cancellationToken);
        }
        finally
        {
            await slots.ReleaseAsync(BatchId);
        }

        if (!sealedEarly)
        {
            Batch.Total = end;
        }

        Batch.Appended = end;
        Batch.HasSource |= sourceFields is not null || items.Any(i => i.Source is not null);
        Batch.UpdatedAt = DateTimeOffset.UtcNow;
        if (!sealedEarly)
        {
            // Once sealed, the next checkpoint writes the count, and an activation reads it from the stored pages.
            await WriteStateLockedAsync(cancellationToken);
        }

        KeepSlice(firstSeq, items, stagedItems);
        SignalAppended();
        return Progress();
    }

    public async Task<BatchProgress> SealAsync(int total, int? concurrency, CancellationToken cancellationToken = default)
    {
        await _uploadLock.WaitAsync(cancellationToken);
        try
        {
            _lastUploadCall = DateTimeOffset.UtcNow;
            return await SealLockedAsync(total, concurrency, cancellationToken);
        }
        finally
        {
            _uploadLock.Release();
        }
    }

    private async Task<BatchProgress> SealLockedAsync(int total, int? concurrency, CancellationToken cancellationToken)
    {
        if (!Exists || Batch.Status != BatchStatus.Pending)
        {
            return Exists ? Progress() : throw new InvalidOperationException($"Batch {BatchId} has no items.");
        }

        if (total < Batch.Appended)
        {
            throw new ArgumentOutOfRangeException(nameof(total), $"Batch {BatchId} holds {Batch.Appended} items, more than {total}.");
        }

        var before = (Batch.Total, Batch.UpdatedAt);
        Batch.Total = total;
        Batch.Status = BatchStatus.Processing;
        Batch.Concurrency = options.Value.ClampConcurrency(concurrency);
        Batch.UpdatedAt = DateTimeOffset.UtcNow;
        try
        {
            await RegisterResumeReminderAsync();
            await StoreStateAsync(cancellationToken);
        }
        catch
        {
            // Not sealed after all (the caller sees the failure, e.g. a 503, and may seal again): still pending, and nothing runs.
            (Batch.Total, Batch.UpdatedAt, Batch.Status) = (before.Total, before.UpdatedAt, BatchStatus.Pending);
            throw;
        }

        LogStarted(BatchId, Batch.Total, Batch.Concurrency);
        StartRun();
        return Progress();
    }

    public async Task AbortAsync(CancellationToken cancellationToken = default)
    {
        await _uploadLock.WaitAsync(cancellationToken);
        try
        {
            if (Exists && Batch.Status == BatchStatus.Pending)
            {
                await store.DeleteAsync(BatchId, cancellationToken);
                await state.ClearStateAsync(cancellationToken);
                state.State = new BatchState();
                await registry.RemoveAsync(BatchId, cancellationToken);
            }
            else if (Exists && Uploading)
            {
                await StopUploadAsync("the upload failed", cancellationToken);
            }
        }
        finally
        {
            _uploadLock.Release();
        }
    }

    public async Task<BatchCommandResult> ResumeUploadAsync(CancellationToken cancellationToken = default)
    {
        await _uploadLock.WaitAsync(cancellationToken);
        try
        {
            if (!Exists)
            {
                return new BatchCommandResult(null);
            }

            if (Batch.Status == BatchStatus.Pending || Uploading)
            {
                var silentFor = DateTimeOffset.UtcNow - _lastUploadCall;
                var timeout = options.Value.UploadTimeout;
                if (UploadDecisions.StillUploading(silentFor, timeout))
                {
                    return new BatchCommandResult(Progress(), string.Create(CultureInfo.InvariantCulture,
                        $"The batch's first upload may still be running (it stored {Stored} of {Batch.Total} items, the last {silentFor.TotalSeconds:0} s ago); send the request again once it has ended, or after {timeout.TotalSeconds:0} s without news from it."));
                }

                if (Batch.Status == BatchStatus.Pending)
                {
                    // Never sealed and silent: the caller stores the rest from where it stopped and seals it.
                    return new BatchCommandResult(Progress());
                }

                await StopUploadAsync($"no items arrived for {timeout}", cancellationToken);
            }

            if (!Batch.UploadStopped || Batch.CancelRequested)
            {
                return new BatchCommandResult(Progress());
            }

            // The next slice goes where the stored pages end, or it would replace stored items and the results of those already run.
            await ReadAppendedExtentAsync(cancellationToken);
            await RegisterResumeReminderAsync();
            var (status, reason) = (Batch.Status, Batch.FailureReason);
            (Batch.UploadStopped, Batch.FailureReason, Batch.Status, Batch.ResumeAttempts, Batch.UpdatedAt) =
                (false, null, BatchStatus.Processing, 0, DateTimeOffset.UtcNow);
            try
            {
                await WriteStateLockedAsync(cancellationToken);
            }
            catch
            {
                // Not reopened after all (the database is away): the batch still reads as stopped, so the next try resumes it.
                (Batch.UploadStopped, Batch.FailureReason, Batch.Status) = (true, reason, status);
                throw;
            }

            LogUploadResumed(BatchId, Batch.Appended, Batch.Total);
            _lastUploadCall = DateTimeOffset.UtcNow;
            StartRun();
            return new BatchCommandResult(Progress());
        }
        finally
        {
            _uploadLock.Release();
        }
    }

    public async Task<BatchProgress?> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (!Exists || IsTerminal)
        {
            return Exists ? CountedProgress() : null;
        }

        var wait = timeout < options.Value.MaxWait ? timeout : options.Value.MaxWait;
        try
        {
            await (_ended ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task.WaitAsync(wait, cancellationToken);
        }
        catch (TimeoutException)
        {
        }

        return IsTerminal ? CountedProgress() : null;
    }

    public Task<BatchProgress?> GetStatusAsync() => Task.FromResult(Exists ? CountedProgress() : null);

    public async Task<BatchResultsPage?> GetResultsAsync(int after, int limit, ItemOutcome? outcome, CancellationToken cancellationToken = default)
    {
        if (!Exists)
        {
            return null;
        }

        if (_stagedDurable < _stagedCommits)
        {
            // Staged chunks commit without waiting for the disk (Database:SynchronousStagedCommits): a state write makes
            // them durable before any of their results is served.
            await WriteStateLockedAsync(cancellationToken);
        }

        var items = await store.ReadResultsAsync(BatchId, after, Batch.Total, limit, outcome, cancellationToken);
        return new BatchResultsPage(Progress(), items, items.Count == limit && limit > 0 ? items[^1].Seq : null);
    }

    public async Task<BatchCommandResult> CancelAsync(CancellationToken cancellationToken = default)
    {
        if (!Exists)
        {
            return new BatchCommandResult(null);
        }

        if (IsTerminal)
        {
            return new BatchCommandResult(Progress(), $"The batch already ended {Batch.Status.ToString().ToLowerInvariant()}.");
        }

        Batch.CancelRequested = true;
        try
        {
            await WriteStateLockedAsync(cancellationToken);
        }
        catch
        {
            // Not requested after all: the caller sees the failure and may cancel again.
            Batch.CancelRequested = false;
            throw;
        }

        SignalAppended();
        if (_run is null)
        {
            await EndCancelledAsync(null, cancellationToken);
        }
        else
        {
            await WaitAsync(options.Value.MaxWait, cancellationToken);
        }

        return new BatchCommandResult(Progress());
    }

    public async Task<BatchCommandResult> RetryAsync(CancellationToken cancellationToken = default)
    {
        if (!Exists)
        {
            return new BatchCommandResult(null);
        }

        if (Batch.UploadStopped)
        {
            return new BatchCommandResult(Progress(),
                $"The batch holds {Batch.Appended} of its {Batch.Total} items: its upload stopped. Send the same request again with the same Idempotency-Key to store and run the rest; retry only runs again the failed items of a batch that holds them all.");
        }

        if (!IsTerminal)
        {
            return new BatchCommandResult(Progress(), $"The batch is still {Batch.Status.ToString().ToLowerInvariant()}; retry once it has ended.");
        }

        var reset = await store.ResetFailedAsync(BatchId, cancellationToken);
        if (reset == 0 && Batch.Status != BatchStatus.Failed)
        {
            return new BatchCommandResult(Progress(), "The batch has no failed items to retry.");
        }

        LogRetried(BatchId, reset);
        Batch.Status = BatchStatus.Processing;
        Batch.FailureReason = null;
        Batch.CancelRequested = false;
        Batch.ResumeAttempts = 0;
        Batch.UpdatedAt = DateTimeOffset.UtcNow;
        await RegisterResumeReminderAsync();
        await StoreStateAsync(cancellationToken);
        StartRun();
        return new BatchCommandResult(Progress());
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (!Exists || IsTerminal)
        {
            await UnregisterResumeReminderAsync();
            return;
        }

        if (Batch.Status != BatchStatus.Processing)
        {
            return;
        }

        // A run counts from its last checkpoint, or from when it started or stopped waiting for the database if that was
        // later (no checkpoint could be written before); a run waiting for the database is not stalled.
        var heartbeat = Batch.HeartbeatAt ?? Batch.UpdatedAt;
        if (_run is not null && !WaitingForDatabase && (_aliveAt > heartbeat ? _aliveAt : heartbeat) < DateTimeOffset.UtcNow - options.Value.HeartbeatTimeout)
        {
            LogStalled(BatchId, Batch.HeartbeatAt ?? Batch.UpdatedAt);
            _run.Abandon();
            _run = null;
            _appendedSlices.Clear();
        }

        if (_run is null)
        {
            // Not awaited: a resume that waits for the database would hold the reminder's call for as long.
            _ = ResumeAsync("woken by its reminder");
        }
    }

    /// <summary>
    /// Runs the batch again from its checkpoint, once per wake-up: an activation and the reminder that caused it both
    /// ask, and the second must not count (or log) a second attempt while the first is still writing it. A resume waits
    /// for a database that is away, and counts once however long that takes; one after a run stopped for want of the
    /// database (<paramref name="counts"/> false) is no attempt at all.
    /// </summary>
    private async Task ResumeAsync(string why, bool counts = true)
    {
        if (_run is not null || _resuming || _deactivated || Batch.Status != BatchStatus.Processing)
        {
            return;
        }

        _resuming = true;
        try
        {
            if (!_reconciled)
            {
                await UntilDoneAsync(() => CatchUpAsync(CancellationToken.None), null);
            }

            Batch.ResumeAttempts += counts ? 1 : 0;
            if (Batch.ResumeAttempts > options.Value.MaxResumeAttempts)
            {
                Batch.Status = BatchStatus.Failed;
                Batch.FailureReason = $"The batch was resumed {options.Value.MaxResumeAttempts} times without progress; POST /batch/{BatchId}/retry carries it on from its last checkpoint.";
                Batch.UpdatedAt = DateTimeOffset.UtcNow;
                LogGaveUp(BatchId, options.Value.MaxResumeAttempts);
                await UntilDoneAsync(() => StoreStateAsync(CancellationToken.None), null);
                await UntilDoneAsync(UnregisterResumeReminderAsync, null);
                _ended?.TrySetResult();
                return;
            }

            LogResumed(BatchId, why, Batch.ResumeAttempts);
            await UntilDoneAsync(() => StoreStateAsync(CancellationToken.None), null);
            StartRun();
        }
        catch (Exception e)
        {
            LogRunFailed(BatchId, e);
        }
        finally
        {
            _resuming = false;
        }
    }

    /// <summary>Ends the batch cancelled; within <paramref name="run"/>, each step waits for a database that is away.</summary>
    private async Task EndCancelledAsync(RunContext? run, CancellationToken cancellationToken)
    {
        await (run is null
            ? store.CancelPendingAsync(BatchId, Problems.Cancelled().Body!, cancellationToken)
            : UntilDoneAsync(() => store.CancelPendingAsync(BatchId, Problems.Cancelled().Body!, cancellationToken), run));
        await (run is null ? ReconcileAsync(cancellationToken) : UntilDoneAsync(() => ReconcileAsync(cancellationToken), run));
        // Rows of a file never stored are not items of the batch, so its counts add up to its total; but they were
        // cancelled. A cancel that arrives as the last items finish cancels nothing: the batch simply completed.
        var uploading = Incomplete;
        Batch.Total = Stored;
        Batch.UploadStopped = false;
        Batch.Status = Batch.Cancelled > 0 || uploading ? BatchStatus.Cancelled : BatchStatus.Completed;
        Batch.UpdatedAt = DateTimeOffset.UtcNow;
        await (run is null ? StoreStateAsync(cancellationToken) : UntilDoneAsync(() => StoreStateAsync(cancellationToken), run));
        await (run is null ? UnregisterResumeReminderAsync() : UntilDoneAsync(UnregisterResumeReminderAsync, run));
        LogCancelled(BatchId, Batch.Cancelled);
        _ended?.TrySetResult();
    }

    /// <summary>Counts from the stored results: they may be ahead of the checkpoint, never behind it.</summary>
    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        var counts = await store.CountAsync(BatchId, cancellationToken);
        Batch.Succeeded = counts.Succeeded;
        Batch.Failed = counts.Failed;
        Batch.Cancelled = counts.Cancelled;
    }

    private Task RegisterResumeReminderAsync() =>
        this.RegisterOrUpdateReminder(ResumeReminder, options.Value.ResumeCheckPeriod, options.Value.ResumeCheckPeriod);

    private async Task UnregisterResumeReminderAsync()
    {
        if (await this.GetReminder(ResumeReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    private BatchProgress Progress() => new(
        BatchId, Batch.Status, Batch.Total, Batch.Succeeded, Batch.Failed, Batch.CreatedAt, Batch.UpdatedAt,
        Batch.Concurrency, Batch.FailureReason, Batch.Cancelled, Batch.HeartbeatAt, Batch.HasSource, Stored, Batch.UploadStopped,
        WaitingForDatabase ? "database" : null, WaitingForDatabase ? _waitingSince : null, IsTerminal ? Batch.ExpiresAt : null);

    /// <summary>The progress for a status: not before this activation counted the stored results, which could go back behind what an earlier one reported.</summary>
    private BatchProgress CountedProgress() => _reconciled ? Progress() : throw Unavailable();
}
