using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Resources;
using Orleans.Concurrency;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// One batch: fans its operations out to <see cref="IOperationGrain"/> through a fixed pool of workers, so at most
/// the batch's concurrency is ever in flight, and keeps every result in request order. Reentrant, so status and
/// result reads are answered while the batch runs; every continuation still runs on the grain's one thread.
/// </summary>
[Reentrant]
public sealed partial class BatchGrain(
    [PersistentState("batch", BatchStorage.ProviderName)] IPersistentState<BatchState> state,
    IOptions<BatchOptions> options,
    ILogger<BatchGrain> logger) : Grain, IBatchGrain
{
    private const int FinalWriteAttempts = 3;

    private OperationResult?[]? _running;
    private TaskCompletionSource<BatchOutcome>? _completion;

    private BatchState Batch => state.State;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.RecordExists && Batch.Status is BatchStatus.Processing or BatchStatus.Pending)
        {
            // Nothing runs this batch any more: the silo that ran it stopped before it ended.
            Batch.Status = BatchStatus.Failed;
            Batch.FailureReason = "The silo running this batch stopped before the batch finished; operations that had not reported may or may not have been applied.";
            Batch.UpdatedAt = DateTimeOffset.UtcNow;
            LogInterrupted(this.GetPrimaryKeyString());
            await state.WriteStateAsync(cancellationToken);
        }
    }

    public async Task<BatchProgress> StartAsync(BatchRequest request, CancellationToken cancellationToken = default)
    {
        if (_completion is not null || state.RecordExists)
        {
            return Progress();
        }

        var now = DateTimeOffset.UtcNow;
        var concurrency = options.Value.ClampConcurrency(request.Concurrency);
        _completion = new TaskCompletionSource<BatchOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        _running = new OperationResult?[request.Operations.Count];
        state.State = new BatchState
        {
            Status = BatchStatus.Processing,
            Total = request.Operations.Count,
            Concurrency = concurrency,
            CreatedAt = now,
            UpdatedAt = now,
        };

        try
        {
            await state.WriteStateAsync(cancellationToken);
        }
        catch
        {
            _completion = null;
            _running = null;
            state.State = new BatchState();
            throw;
        }

        LogStarted(this.GetPrimaryKeyString(), request.Operations.Count, concurrency);
        _ = RunAsync(request.Operations, _running, concurrency);
        return Progress();
    }

    public async Task<BatchOutcome?> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (_completion is { } completion)
        {
            var wait = timeout < options.Value.MaxWait ? timeout : options.Value.MaxWait;
            try
            {
                return await completion.Task.WaitAsync(wait, cancellationToken);
            }
            catch (TimeoutException)
            {
                return null;
            }
        }

        return state.RecordExists && Progress().IsTerminal ? new BatchOutcome(Progress(), Batch.Results) : null;
    }

    public Task<BatchProgress?> GetStatusAsync() =>
        Task.FromResult(state.RecordExists || _completion is not null ? Progress() : null);

    public Task<BatchResultsPage?> GetResultsAsync(int offset, int limit)
    {
        if (!state.RecordExists && _completion is null)
        {
            return Task.FromResult<BatchResultsPage?>(null);
        }

        IReadOnlyList<OperationResult?> all = _running ?? (IReadOnlyList<OperationResult?>)Batch.Results;
        var start = Math.Clamp(offset, 0, all.Count);
        var end = (int)Math.Min((long)start + Math.Max(limit, 0), all.Count);
        var items = new List<OperationResult>(end - start);
        for (var i = start; i < end; i++)
        {
            if (all[i] is { } result)
            {
                items.Add(result);
            }
        }

        return Task.FromResult<BatchResultsPage?>(new BatchResultsPage(Progress(), items, end < all.Count ? end : null));
    }

    private async Task RunAsync(IReadOnlyList<OperationRequest> operations, OperationResult?[] results, int concurrency)
    {
        var executor = GrainFactory.GetGrain<IOperationGrain>(0);
        var next = 0;
        var workers = new Task[Math.Min(concurrency, operations.Count)];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = WorkAsync();
        }

        await Task.WhenAll(workers);
        await FinishAsync(results);

        // Workers pull the next index one at a time; the grain's single thread makes next++ safe.
        async Task WorkAsync()
        {
            while (next < operations.Count)
            {
                var index = next++;
                var result = await ExecuteAsync(executor, operations[index]);
                results[index] = result;
                if (result.Succeeded)
                {
                    Batch.Succeeded++;
                }
                else
                {
                    Batch.Failed++;
                }

                Batch.UpdatedAt = DateTimeOffset.UtcNow;
            }
        }
    }

    private async Task<OperationResult> ExecuteAsync(IOperationGrain executor, OperationRequest operation)
    {
        try
        {
            return await executor.ExecuteAsync(operation);
        }
        catch (Exception e)
        {
            LogExecutionFailed(this.GetPrimaryKeyString(), operation.Id, e);
            var problem = Problems.Unavailable("The operation could not be run to completion; it may or may not have been applied.");
            return new OperationResult(operation.Id, problem.Status, problem.Body, null);
        }
    }

    private async Task FinishAsync(OperationResult?[] results)
    {
        Batch.Results = [.. results.Select(r => r!)];
        Batch.Status = BatchStatus.Completed;
        Batch.UpdatedAt = DateTimeOffset.UtcNow;
        for (var attempt = 1; attempt <= FinalWriteAttempts; attempt++)
        {
            try
            {
                await state.WriteStateAsync();
                break;
            }
            catch (Exception e) when (attempt < FinalWriteAttempts)
            {
                LogWriteRetry(this.GetPrimaryKeyString(), attempt, e);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
            }
            catch (Exception e)
            {
                LogWriteFailed(this.GetPrimaryKeyString(), e);
            }
        }

        LogCompleted(this.GetPrimaryKeyString(), Batch.Total, Batch.Succeeded, Batch.Failed);
        _running = null;
        _completion!.TrySetResult(new BatchOutcome(Progress(), Batch.Results));
    }

    private BatchProgress Progress() => new(
        this.GetPrimaryKeyString(), Batch.Status, Batch.Total, Batch.Succeeded, Batch.Failed,
        Batch.CreatedAt, Batch.UpdatedAt, Batch.Concurrency, Batch.FailureReason);
}
