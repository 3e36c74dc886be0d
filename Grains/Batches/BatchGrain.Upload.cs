using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Grains.Batches;

/// <summary>A batch sealed at its size before all its items were stored: its run waits for the rest as they are appended.</summary>
public sealed partial class BatchGrain
{
    private TaskCompletionSource _appended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Appends, seals, aborts and resumes of the upload, one at a time.</summary>
    private readonly SemaphoreSlim _uploadLock = new(1, 1);

    /// <summary>
    /// When this activation last heard from its uploader; an activation counts from its start, as the uploader may be
    /// retrying a call the previous one never answered.
    /// </summary>
    private DateTimeOffset _lastUploadCall = DateTimeOffset.UtcNow;

    /// <summary>How often a write waiting for a checkpoint's lock looks whether the batch waits for the database.</summary>
    private static readonly TimeSpan LockPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>The most appended slices kept in memory for the run; a run further behind reads them back.</summary>
    private const int MaxKeptSlices = 4;

    /// <summary>Slices appended, kept until the run takes them, so a run keeping up does not read them back.</summary>
    private readonly Queue<(int First, IReadOnlyList<BatchItem> Items, string?[]?[]? Staged)> _appendedSlices = new();

    /// <summary>
    /// Keeps an appended slice for the run, in place of any kept from its first position on (an append replaces what
    /// was stored there), dropping the oldest beyond <see cref="MaxKeptSlices"/>. <paramref name="staged"/> holds the
    /// column values of each item that runs staged (see <see cref="Operations.StagedCreates.MarkAsync"/>).
    /// </summary>
    private void KeepSlice(int first, IReadOnlyList<BatchItem> items, string?[]?[]? staged)
    {
        var kept = _appendedSlices.Where(slice => slice.First < first).ToList();
        _appendedSlices.Clear();
        kept.ForEach(_appendedSlices.Enqueue);
        _appendedSlices.Enqueue((first, items, staged));
        if (_appendedSlices.Count > MaxKeptSlices)
        {
            _appendedSlices.Dequeue();
        }
    }

    /// <summary>Wakes a run waiting for items: more were appended, the upload ended, or the batch is being cancelled.</summary>
    private void SignalAppended()
    {
        var appended = _appended;
        _appended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        appended.TrySetResult();
    }

    /// <summary>
    /// Queues the oldest slice kept from an append when it is exactly what the run would read next: every item it holds is pending,
    /// except those rejected on upload, which already have their results.
    /// </summary>
    private bool TakeKeptSlice(RunContext run)
    {
        while (_appendedSlices.TryPeek(out var stale) && stale.First <= run.After)
        {
            _appendedSlices.Dequeue();
        }

        if (!_appendedSlices.TryPeek(out var kept) || kept.First != run.After + 1)
        {
            return false;
        }

        _appendedSlices.Dequeue();
        for (var i = 0; i < kept.Items.Count; i++)
        {
            if (kept.Items[i].Rejected is null)
            {
                // The gateway sends items that name their batch already: copied only when one does not.
                var operation = kept.Items[i].Operation;
                var values = kept.Staged?[i];
                run.Queue.Enqueue(new PendingItem(
                    kept.First + i, ItemOutcome.Pending, operation.BatchId == BatchId ? operation : operation with { BatchId = BatchId }, values is not null, values));
            }
        }

        run.After = kept.First + kept.Items.Count - 1;
        return true;
    }

    /// <summary>
    /// Waits until items beyond <paramref name="stored"/> are appended; when none arrive within
    /// <see cref="BatchOptions.UploadTimeout"/>, the upload is taken as dead: the batch runs what it holds and ends failed.
    /// </summary>
    private async Task WaitForItemsAsync(RunContext run, int stored)
    {
        var appended = _appended.Task;
        if (Stored > stored || !Uploading || Batch.CancelRequested)
        {
            return;
        }

        try
        {
            await appended.WaitAsync(options.Value.UploadTimeout);
        }
        catch (TimeoutException)
        {
            await _uploadLock.WaitAsync();
            try
            {
                if (!run.Abandoned && Uploading && Batch.Appended == stored)
                {
                    await StopUploadAsync($"no items arrived for {options.Value.UploadTimeout}", CancellationToken.None);
                }
            }
            finally
            {
                _uploadLock.Release();
            }
        }
    }

    /// <summary>
    /// The uploader failed or went silent: the batch keeps its total, so it can never pass for complete, runs the items it
    /// holds and ends failed, until the same upload sent again reopens it. The caller holds the upload lock. The state is
    /// changed before it is written: should the write fail (the database is away), this activation still knows.
    /// </summary>
    private async Task StopUploadAsync(string why, CancellationToken cancellationToken)
    {
        LogUploadEnded(BatchId, Batch.Appended, Batch.Total, why);
        Batch.UploadStopped = true;
        Batch.FailureReason = UploadDecisions.StoppedReason(Batch.Appended, Batch.Total, why);
        Batch.UpdatedAt = DateTimeOffset.UtcNow;
        SignalAppended();
        await WriteStateLockedAsync(cancellationToken);
    }

    /// <summary>
    /// Writes the state outside a checkpoint; the lock keeps it from racing a checkpoint's write. A checkpoint waiting for
    /// the database holds the lock: the caller is then answered at once that the database is away.
    /// </summary>
    private async Task WriteStateLockedAsync(CancellationToken cancellationToken)
    {
        while (!await _checkpointLock.WaitAsync(LockPoll, cancellationToken))
        {
            if (WaitingForDatabase)
            {
                throw Unavailable();
            }
        }

        try
        {
            await WriteStateCoveringStagedAsync(cancellationToken);
        }
        finally
        {
            _checkpointLock.Release();
        }
    }
}
