using Microsoft.Extensions.Logging;

namespace Orleans.Batch.Grains.Batches;

public sealed partial class BatchGrain
{
    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Batch {BatchId} started: {Total} operations, concurrency {Concurrency}")]
    private partial void LogStarted(string batchId, int total, int concurrency);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Batch {BatchId} completed: {Total} operations, {Succeeded} succeeded, {Failed} failed")]
    private partial void LogCompleted(string batchId, int total, int succeeded, int failed);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Operation {OperationId} of batch {BatchId} could not be executed")]
    private partial void LogExecutionFailed(string batchId, string operationId, Exception exception);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Writing the results of batch {BatchId} failed (attempt {Attempt}); retrying")]
    private partial void LogWriteRetry(string batchId, int attempt, Exception exception);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Error, Message = "Writing the results of batch {BatchId} failed; they are kept in memory only")]
    private partial void LogWriteFailed(string batchId, Exception exception);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Batch {BatchId} was interrupted by a silo stop and is marked failed")]
    private partial void LogInterrupted(string batchId);
}
