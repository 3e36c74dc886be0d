using System.Diagnostics;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Resources;
using Orleans.Runtime;

namespace Orleans.Batch.Grains.Batches;

public sealed partial class BatchGrain
{
    private const int MaxUnwrittenFlushes = 8;

    /// <summary>
    /// The bound for results already stored with their effects, in slices: a checkpoint only counts them, and each is a
    /// position and a status, so a run keeps on while many more of them wait for the checkpoint in flight.
    /// </summary>
    private const int MaxUncountedFlushes = 64;

    /// <summary>How long results stored with their effects may wait to be counted by a checkpoint (progress moves in such steps).</summary>
    private static readonly TimeSpan CountInterval = TimeSpan.FromMilliseconds(250);

    private const int ChunkAttempts = 6;
    private static readonly TimeSpan ChunkRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>How often one run goes over its pending items before it gives up on items without a result.</summary>
    private const int MaxRunPasses = 3;

    /// <summary>Staged chunks this activation sent (each may have committed), and how many of them a state write (a commit that waits for the disk) has covered since.</summary>
    private long _stagedCommits, _stagedDurable;

    private readonly SemaphoreSlim _checkpointLock = new(1, 1);
    private RunContext? _run;

    /// <summary>Starts running the pending items in this activation, unless it already is.</summary>
    private void StartRun()
    {
        if (_run is null)
        {
            // A batch run again (retried, its upload resumed) ends again: waiters from now on wait for that end.
            if (_ended is { Task.IsCompleted: true })
            {
                _ended = null;
            }

            _run = new RunContext();
            _aliveAt = DateTimeOffset.UtcNow;
            _ = RunAsync(_run);
        }
    }

    /// <summary>
    /// A fixed pool of <see cref="BatchState.Concurrency"/> workers pulls pending items a page at a time, so at most
    /// that many are in flight and memory holds one page; results are written a slice at a time with a checkpoint.
    /// </summary>
    private async Task RunAsync(RunContext run)
    {
        IGrainTimer? heartbeat = null;
        var ended = false;
        var lostDatabase = false;
        try
        {
            await UntilDoneAsync(() => ReconcileAsync(CancellationToken.None), run);
            await CheckpointAsync(run);
            heartbeat = this.RegisterGrainTimer(
                () => Beat(run),
                new GrainTimerCreationOptions(options.Value.HeartbeatInterval, options.Value.HeartbeatInterval) { Interleave = true, KeepAlive = true });

            for (var pass = 1; ; pass++)
            {
                var workers = new Task[Math.Max(1, Batch.Concurrency)];
                for (var w = 0; w < workers.Length; w++)
                {
                    workers[w] = WorkAsync(run, w);
                }

                await Task.WhenAll(workers);
                if (run.Flush is { } flush)
                {
                    await flush;
                }

                await CheckpointAsync(run);
                if (run.Abandoned)
                {
                    return;
                }

                if (Batch.CancelRequested)
                {
                    await EndCancelledAsync(run, CancellationToken.None);
                    return;
                }

                await UntilDoneAsync(() => ReconcileAsync(CancellationToken.None), run);
                if (Uploading)
                {
                    // The upload was resumed while this run finished the items held when it stopped: it waits for the rest.
                    run.Restart();
                    pass = 0;
                    continue;
                }

                var missing = Stored - (Batch.Succeeded + Batch.Failed + Batch.Cancelled);
                if (missing <= 0)
                {
                    break;
                }

                // Items ran but have no stored result: a staged chunk's commit, which does not wait for the disk, was
                // lost with the database. Their effects went with it, so they run again; a run that cannot complete them
                // stops here and its reminder resumes the batch.
                LogItemsWithoutResults(BatchId, missing, pass);
                if (pass == MaxRunPasses)
                {
                    throw new InvalidOperationException($"Batch {BatchId} still has {missing} items without a result after {pass} passes.");
                }

                _appendedSlices.Clear();
                run.Restart();
            }

            // An upload that stopped part way ends the batch failed, with the reason, once it ran what it holds: its counts
            // stay short of its total.
            Batch.Status = Batch.UploadStopped ? BatchStatus.Failed : BatchStatus.Completed;
            Batch.ResumeAttempts = 0;
            Batch.UpdatedAt = DateTimeOffset.UtcNow;
            await UntilDoneAsync(() => StoreStateAsync(CancellationToken.None), run);
            await UntilDoneAsync(UnregisterResumeReminderAsync, run);
            LogCompleted(BatchId, Batch.Total, Batch.Succeeded, Batch.Failed);
            _ended?.TrySetResult();
            ended = true;
        }
        catch (Exception e)
        {
            lostDatabase = !run.Abandoned && Database.DatabaseAvailability.IsUnavailable(e);
            run.Abandon();
            LogRunFailed(BatchId, e);
        }
        finally
        {
            heartbeat?.Dispose();
            if (ReferenceEquals(_run, run))
            {
                _run = null;
                // Kept slices are items known to be pending; once a run has ended, only the stored results say which are.
                _appendedSlices.Clear();
                if (ended && Batch.Status == BatchStatus.Processing)
                {
                    // Reopened (retried, its upload resumed) while this run wrote its end: that could not start a run
                    // while this one was still here, and this one may have unregistered the reminder it registered.
                    _ = RunAgainAsync();
                }
            }
        }

        if (lostDatabase)
        {
            // A step that does not wait for the database by itself: the batch carries on once it is back, and that is no
            // resume attempt.
            await ResumeAsync("the database is back", counts: false);
        }
    }

    /// <summary>
    /// Starts a heartbeat's checkpoint unless the last one still runs. The timer's tick does not wait for it: a tick is
    /// a call, and one waiting for the database would hold off the activation's deactivation for as long.
    /// </summary>
    private Task Beat(RunContext run)
    {
        if (!run.Abandoned && run.Beat is not { IsCompleted: false })
        {
            run.Beat = BeatAsync(run);
        }

        return Task.CompletedTask;
    }

    private async Task BeatAsync(RunContext run)
    {
        // A timer's tick carries no tenant: what the checkpoint calls acts for the batch's.
        TenantContext.Set(Owner!);
        try
        {
            await CheckpointAsync(run);
        }
        catch (Exception e)
        {
            // The checkpoint abandoned the run, whose reminder resumes it.
            LogRunFailed(BatchId, e);
        }
    }

    private async Task RunAgainAsync()
    {
        StartRun();
        try
        {
            await RegisterResumeReminderAsync();
        }
        catch (Exception e)
        {
            // The run goes on; should it stop too, the next call or activation resumes the batch.
            LogRunFailed(BatchId, e);
        }
    }

    private async Task WorkAsync(RunContext run, int worker)
    {
        // Chunks run for the batch's own tenant, whatever started the run (a call, its reminder, an activation).
        TenantContext.Set(Owner!);
        var executor = GrainFactory.GetGrain<IChunkGrain>(worker);
        while (!run.Abandoned && !Batch.CancelRequested && await NextAsync(run) is { } first)
        {
            var chunk = TakeChunk(run, first);
            // A chunk runs in one of the cluster's slots, shared out between tenants by weight and their in-flight quotas.
            if (!await slots.AcquireAsync(BatchId, () => run.Abandoned || Batch.CancelRequested))
            {
                return;
            }

            ChunkResult answer;
            try
            {
                answer = await ExecuteAsync(run, executor, chunk);
            }
            finally
            {
                await slots.ReleaseAsync(BatchId);
            }

            for (var i = 0; i < chunk.Count; i++)
            {
                var result = answer.Results[i];
                var outcome = result.Succeeded ? ItemOutcome.Succeeded : ItemOutcome.Failed;
                run.Finished.Add(new FinishedItem(chunk[i].Seq, chunk[i].Prior, outcome, result, answer.Recorded[i]));
                run.Unwritten += answer.Recorded[i] ? 0 : 1;
            }

            if (run.Finished.Count >= options.Value.FlushSize)
            {
                await FlushAsync(run);
            }
        }
    }

    /// <summary>
    /// Starts a checkpoint in the background so workers go on running items while results are written; a
    /// checkpoint writes everything finished so far in one statement. Results already stored with their effects
    /// only need counting, which waits for <see cref="CountInterval"/> since the last checkpoint: each checkpoint is a
    /// commit that waits for the disk. A worker waits only when the results not yet written reach
    /// <see cref="MaxUnwrittenFlushes"/> slices, or those finished and not yet counted <see cref="MaxUncountedFlushes"/>,
    /// which bounds memory.
    /// </summary>
    private Task FlushAsync(RunContext run)
    {
        var size = options.Value.FlushSize;
        var crowded = run.Unwritten >= size * MaxUnwrittenFlushes || run.Finished.Count >= size * MaxUncountedFlushes;
        if ((run.Flush is null || run.Flush.IsCompleted) && (crowded || run.Unwritten >= size || run.SinceCheckpoint.Elapsed >= CountInterval))
        {
            run.Flush = CheckpointAsync(run);
        }

        return crowded ? run.Flush! : Task.CompletedTask;
    }

    /// <summary>The item and the fetched items right after it that create, update, or delete, the same resource, up to the chunk size.</summary>
    private List<PendingItem> TakeChunk(RunContext run, PendingItem first)
    {
        var chunk = new List<PendingItem> { first };
        if (SetKind(first.Operation) is not { } kind)
        {
            return chunk;
        }

        while (chunk.Count < options.Value.ChunkSize && run.Queue.TryPeek(out var next) && kind.Matches(SetKind(next.Operation)))
        {
            chunk.Add(run.Queue.Dequeue());
        }

        return chunk;
    }

    /// <summary>
    /// What a set-based statement could run this operation with: creates of a collection, updates of its items (one
    /// statement runs PUT and PATCH alike), deletes of them, or null.
    /// </summary>
    private static SetKey? SetKind(OperationRequest operation) => operation.Method switch
    {
        "POST" => new SetKey(SetVerb.Create, operation.Path.AsMemory()),
        "PUT" or "PATCH" when operation.Path.LastIndexOf('/') is > 0 and var slash => new SetKey(SetVerb.Update, operation.Path.AsMemory(0, slash)),
        "DELETE" when operation.Path.LastIndexOf('/') is > 0 and var slash => new SetKey(SetVerb.Delete, operation.Path.AsMemory(0, slash)),
        _ => null,
    };

    private enum SetVerb
    {
        Create,
        Update,
        Delete,
    }

    /// <summary>A kind of set-based statement: the verb and the collection's path, a slice of the operation's own path.</summary>
    private readonly record struct SetKey(SetVerb Verb, ReadOnlyMemory<char> Collection)
    {
        public bool Matches(SetKey? other) =>
            other is { } key && key.Verb == Verb && key.Collection.Span.SequenceEqual(Collection.Span);
    }

    private async Task<PendingItem?> NextAsync(RunContext run)
    {
        while (true)
        {
            if (run.Queue.TryDequeue(out var item))
            {
                return item;
            }

            if (run.Exhausted || run.Abandoned || Batch.CancelRequested)
            {
                return null;
            }

            // Concurrent workers share one fetch; it is cleared here, not inside FetchAsync, because a fetch that
            // completes synchronously would otherwise be stored after clearing itself and be awaited forever.
            var fetch = run.Fetch ??= FetchAsync(run);
            try
            {
                await fetch;
            }
            finally
            {
                if (ReferenceEquals(run.Fetch, fetch))
                {
                    run.Fetch = null;
                }
            }
        }
    }

    private async Task FetchAsync(RunContext run)
    {
        var stored = Stored;
        if (TakeKeptSlice(run))
        {
            return;
        }

        var page = await UntilDoneAsync(() => store.ReadPendingAsync(BatchId, run.After, stored, options.Value.PageSize, CancellationToken.None), run);
        foreach (var item in page)
        {
            run.Queue.Enqueue(item);
        }

        run.After = page.Count > 0 ? page[^1].Seq : run.After;
        // Read after the page: an upload that stopped or resumed meanwhile decides whether more items may come.
        run.Exhausted = page.Count < options.Value.PageSize && !Uploading && stored >= Stored;
        if (page.Count == 0 && !run.Exhausted)
        {
            await WaitForItemsAsync(run, stored);
        }
    }

    /// <summary>
    /// Runs a chunk on its (randomly placed) grain. When the silo holding that grain dies, the chunk is sent again,
    /// to an activation on a live silo once membership has noticed: its items' result rows make a second run answer what
    /// the first one committed. When the database is away, the chunk waits until it is back and is sent again, however
    /// long that takes, and that counts as no attempt. Only after every attempt failed otherwise do its items fail (503).
    /// </summary>
    private async Task<ChunkResult> ExecuteAsync(RunContext run, IChunkGrain executor, List<PendingItem> chunk)
    {
        var seqs = chunk.Select(item => item.Seq).ToList();
        // Staged creates travel as positions and, when the batch still has them, their column values; when they do not
        // all run that way, none did, and they run as items. When the call itself failed, they may have: the items'
        // stored results are read first.
        var resent = false;
        while (chunk.TrueForAll(item => item.Staged) && !run.Abandoned)
        {
            try
            {
                // Counted before the call: a call that failed on the way back may still have committed.
                _stagedCommits++;
                if (await executor.CreateStagedAsync(BatchId, chunk[0].Operation.Path, seqs, StagedRowsOf(chunk)))
                {
                    return new ChunkResult([.. chunk.Select(item => new OperationResult(item.Operation.Id, 201, null, null))], [.. chunk.Select(_ => true)]);
                }

                break;
            }
            catch (Exception e)
            {
                resent = true;
                // Sent again as it was once the database is back: had it committed, its result run covers its items, the
                // statement then does nothing, and they run as items that answer from what it stored.
                if (run.Abandoned || !await WaitedOutOutageAsync(e))
                {
                    LogChunkRetry(BatchId, chunk[0].Operation.Id, 0, e);
                    break;
                }
            }
        }

        var operations = BatchItemSlice.Of([.. chunk.Select(item => new BatchItem(item.Operation))]);
        for (var attempt = 1; ;)
        {
            Exception failure;
            try
            {
                return (await executor.ExecuteAsync(BatchId, seqs, operations, resent)).Decode();
            }
            catch (Exception e)
            {
                failure = e;
            }

            resent = true;
            if (!run.Abandoned && await WaitedOutOutageAsync(failure) && !run.Abandoned)
            {
                continue;
            }

            if (attempt < ChunkAttempts && !run.Abandoned)
            {
                LogChunkRetry(BatchId, chunk[0].Operation.Id, attempt, failure);
                await Task.Delay(ChunkRetryDelay * attempt);
                attempt++;
                continue;
            }

            LogExecutionFailed(BatchId, chunk[0].Operation.Id, failure);
            var problem = Problems.Unavailable("The operation could not be run to completion; retrying the batch runs it again, at most once in effect.");
            return new ChunkResult([.. chunk.Select(item => new OperationResult(item.Operation.Id, problem.Status, problem.Body, null))], new bool[chunk.Count]);
        }
    }

    /// <summary>The column values of a chunk of staged creates, when it has every item's; else null.</summary>
    private static StagedRows? StagedRowsOf(List<PendingItem> chunk)
    {
        if (chunk[0].StagedValues is not { Length: var arity } || !chunk.TrueForAll(item => item.StagedValues?.Length == arity))
        {
            return null;
        }

        var columns = new string?[arity][];
        for (var c = 0; c < arity; c++)
        {
            columns[c] = new string?[chunk.Count];
            for (var i = 0; i < chunk.Count; i++)
            {
                columns[c][i] = chunk[i].StagedValues![c];
            }
        }

        return new StagedRows(columns);
    }

    /// <summary>Writes the finished results, then the counts and heartbeat: stored results are never behind the checkpoint.</summary>
    private async Task CheckpointAsync(RunContext run)
    {
        await _checkpointLock.WaitAsync();
        try
        {
            if (run.Abandoned)
            {
                return;
            }

            var finished = run.Finished;
            run.Finished = [];
            run.Unwritten = 0;
            run.SinceCheckpoint.Restart();
            if (finished.Count > 0)
            {
                await UntilDoneAsync(() => store.SaveResultsAsync(BatchId, finished, CancellationToken.None), run);
                foreach (var item in finished)
                {
                    Count(item.Prior, -1);
                    Count(item.Outcome, +1);
                }

                Batch.ResumeAttempts = 0;
            }

            await UntilDoneAsync(
                () =>
                {
                    Batch.HeartbeatAt = Batch.UpdatedAt = DateTimeOffset.UtcNow;
                    return WriteStateCoveringStagedAsync(CancellationToken.None);
                },
                run);
        }
        catch
        {
            run.Abandon();
            throw;
        }
        finally
        {
            _checkpointLock.Release();
        }
    }

    /// <summary>
    /// Writes the state, a commit that waits for the disk: the staged chunks committed before it, which did not wait,
    /// are then durable too.
    /// </summary>
    private async Task WriteStateCoveringStagedAsync(CancellationToken cancellationToken)
    {
        var covered = _stagedCommits;
        await StoreStateAsync(cancellationToken);
        _stagedDurable = Math.Max(_stagedDurable, covered);
    }

    private void Count(ItemOutcome outcome, int delta)
    {
        switch (outcome)
        {
            case ItemOutcome.Succeeded:
                Batch.Succeeded += delta;
                break;
            case ItemOutcome.Failed:
                Batch.Failed += delta;
                break;
            case ItemOutcome.Cancelled:
                Batch.Cancelled += delta;
                break;
        }
    }

    /// <summary>One run of the batch in this activation; abandoned when it fails or a newer run replaces it.</summary>
    private sealed class RunContext
    {
        public Queue<PendingItem> Queue { get; } = new();

        public List<FinishedItem> Finished { get; set; } = [];

        /// <summary>How many of <see cref="Finished"/> a checkpoint writes: those whose results were not stored with their effects.</summary>
        public int Unwritten { get; set; }

        public Stopwatch SinceCheckpoint { get; } = Stopwatch.StartNew();

        public Task? Fetch { get; set; }

        public Task? Flush { get; set; }

        public Task? Beat { get; set; }

        public int After { get; set; } = -1;

        public bool Exhausted { get; set; }

        public bool Abandoned { get; private set; }

        public void Abandon() => Abandoned = true;

        /// <summary>Starts over from the first item: the next fetches read what is still pending from the stored pages.</summary>
        public void Restart()
        {
            Queue.Clear();
            After = -1;
            Exhausted = false;
        }
    }
}
