using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Batch.Grains.Batches;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>
/// Keeps what every silo of this process logged about resuming batches (events of the batch grain), by batch and
/// event. Add it to a silo's services as an <see cref="ILoggerProvider"/>.
/// </summary>
public sealed class BatchLog : ILoggerProvider, ILogger
{
    /// <summary>"Batch {BatchId} resumed ({Why}), attempt {Attempt}".</summary>
    public const int Resumed = 1005;

    /// <summary>"Batch {BatchId} failed: resumed {Attempts} times without progress".</summary>
    public const int GaveUp = 1006;

    /// <summary>"Batch {BatchId} has not checkpointed since {HeartbeatAt}; running it again".</summary>
    public const int Stalled = 1007;

    /// <summary>"Batch {BatchId} stopped running; its reminder resumes it from the last checkpoint", with the exception.</summary>
    public const int RunFailed = 1004;

    /// <summary>"Batch {BatchId} waits for the database ({Cause}: {Detail}); it carries on once the database is back".</summary>
    public const int WaitingForDatabase = 1302;

    /// <summary>"Batch {BatchId} carries on: the database is back after {Waited}".</summary>
    public const int DatabaseBack = 1303;

    private static readonly int[] Kept = [Resumed, GaveUp, Stalled, RunFailed, WaitingForDatabase, DatabaseBack];
    private static readonly ConcurrentDictionary<(string BatchId, int EventId), ConcurrentQueue<string>> Events = new();

    /// <summary>The messages logged with <paramref name="eventId"/> about <paramref name="batchId"/>, in order.</summary>
    public static IReadOnlyList<string> Of(string batchId, int eventId) =>
        Events.TryGetValue((batchId, eventId), out var messages) ? [.. messages] : [];

    public ILogger CreateLogger(string categoryName) =>
        categoryName == typeof(BatchGrain).FullName ? this : NullLogger.Instance;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (Kept.Contains(eventId.Id) && state is IReadOnlyList<KeyValuePair<string, object?>> fields
            && fields.FirstOrDefault(f => f.Key == "BatchId").Value is string batchId)
        {
            Events.GetOrAdd((batchId, eventId.Id), _ => new ConcurrentQueue<string>()).Enqueue(exception is null ? formatter(state, exception) : $"{formatter(state, exception)} ({exception.GetType().Name}: {exception.Message})");
        }
    }

    public void Dispose()
    {
    }
}
