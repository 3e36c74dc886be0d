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

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "Batch {BatchId} stopped running; its reminder resumes it from the last checkpoint")]
    private partial void LogRunFailed(string batchId, Exception exception);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Batch {BatchId} resumed ({Why}), attempt {Attempt}")]
    private partial void LogResumed(string batchId, string why, int attempt);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "Batch {BatchId} failed: resumed {Attempts} times without progress")]
    private partial void LogGaveUp(string batchId, int attempts);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Batch {BatchId} has not checkpointed since {HeartbeatAt}; running it again")]
    private partial void LogStalled(string batchId, DateTimeOffset? heartbeatAt);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Information, Message = "Batch {BatchId} cancelled; {Cancelled} items never ran")]
    private partial void LogCancelled(string batchId, int cancelled);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "The chunk of batch {BatchId} starting at operation {OperationId} failed (attempt {Attempt}); sending it again")]
    private partial void LogChunkRetry(string batchId, string operationId, int attempt, Exception exception);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "Batch {BatchId} retried: {Count} failed items run again")]
    private partial void LogRetried(string batchId, int count);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "Batch {BatchId} stopped its upload at {Appended} of {Total} items: {Why}")]
    private partial void LogUploadEnded(string batchId, int appended, int total, string why);

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Batch {BatchId} resumed its upload at {Appended} of {Total} items")]
    private partial void LogUploadResumed(string batchId, int appended, int total);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "Batch {BatchId} ran every item, but {Missing} have no stored result after pass {Pass}; running them again")]
    private partial void LogItemsWithoutResults(string batchId, int missing, int pass);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Batch {BatchId} waits for the database ({Cause}: {Detail}); it carries on once the database is back")]
    private partial void LogWaitingForDatabase(string batchId, string cause, string detail);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Information, Message = "Batch {BatchId} carries on: the database is back after {Waited}")]
    private partial void LogDatabaseBack(string batchId, TimeSpan waited);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Information, Message = "Batch {BatchId} deleted after its retention; its id answers 410 until its tombstone expires")]
    private partial void LogExpired(string batchId);
}
