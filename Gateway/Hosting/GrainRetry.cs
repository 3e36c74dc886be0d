using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace Orleans.Batch.Gateway.Hosting;

/// <summary>
/// Re-sends a grain call that failed because its silo died, for up to <see cref="ClusterClientOptions.FailoverTimeout"/>.
/// It wraps call sites, not every call (a client call filter would): only a caller knows its call is safe to send twice
/// (a status read, a slice stored at its position, a batch started under its own id), and a plain POST never is.
/// </summary>
public sealed partial class GrainRetry(IOptions<ClusterClientOptions> options, ILogger<GrainRetry> logger)
{
    /// <summary>Sends <paramref name="call"/> again while it fails because a silo died, within the failover time.</summary>
    public Task<T> RunAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken) =>
        RunAsync(call, ClusterFailures.SiloDied, cancellationToken);

    /// <summary>As above, for a call that answers nothing, failing in a way <paramref name="transient"/> accepts.</summary>
    public async Task RunAsync(Func<CancellationToken, Task> call, Func<Exception, bool> transient, CancellationToken cancellationToken) =>
        await RunAsync(async attempt => { await call(attempt); return true; }, transient, cancellationToken);

    /// <summary>Sends <paramref name="call"/> again while it fails in a way <paramref name="transient"/> accepts, within the failover time.</summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> call, Func<Exception, bool> transient, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + options.Value.FailoverTimeout;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && transient(e)
                                      && RetryPlan.DelayBefore(attempt + 1, deadline - DateTimeOffset.UtcNow) is { } delay)
            {
                LogRetrying(attempt, delay, e.GetType().Name, e.Message);
                await Task.Delay(delay, cancellationToken);
            }
        }
    }

    /// <summary>
    /// As above, for a call that should be quick: each attempt is given its own token, cancelled after
    /// <see cref="ClusterClientOptions.AttemptTimeout"/>, and an attempt that ran out of time is sent again like one whose
    /// silo died (the call must be as safe to repeat after it was cancelled part way).
    /// </summary>
    public Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> call, Func<Exception, bool> transient, CancellationToken cancellationToken) =>
        RunAsync(
            async () =>
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                attempt.CancelAfter(options.Value.AttemptTimeout);
                try
                {
                    return await call(attempt.Token);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"The call was not answered within {options.Value.AttemptTimeout}.", e);
                }
            },
            transient,
            cancellationToken);

    [LoggerMessage(EventId = 3200, Level = LogLevel.Warning, Message = "A grain call failed (attempt {Attempt}: {Type}: {Reason}); sending it again in {Delay}")]
    private partial void LogRetrying(int attempt, TimeSpan delay, string type, string reason);
}

/// <summary>When a re-sent call goes out: backing off from a quarter second to two, never past the failover time.</summary>
public static class RetryPlan
{
    private static readonly TimeSpan First = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan Longest = TimeSpan.FromSeconds(2);

    /// <summary>The pause before attempt <paramref name="attempt"/> (2 or more) with <paramref name="left"/> of the failover time; null to give up.</summary>
    public static TimeSpan? DelayBefore(int attempt, TimeSpan left)
    {
        if (left <= TimeSpan.Zero)
        {
            return null;
        }

        var doubled = First * Math.Pow(2, Math.Min(attempt - 2, 8));
        var delay = doubled < Longest ? doubled : Longest;
        return delay < left ? delay : left;
    }
}

/// <summary>Which failures of a grain call say that the call may go through if sent again.</summary>
public static class ClusterFailures
{
    /// <summary>
    /// The silo holding the grain died or could not be reached: the call never ran, or ran on a silo that is gone,
    /// and membership moves the grain to a live silo within seconds. A timeout is an answer that never came back.
    /// </summary>
    public static bool SiloDied(Exception exception) =>
        exception is SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException or TimeoutException
            or GatewayTooBusyException;

    /// <summary>A silo died, or the silos lost PostgreSQL for a moment: for calls that commit nothing when they fail.</summary>
    public static bool SiloOrDatabase(Exception exception) =>
        SiloDied(exception) || exception is DatabaseUnavailableException || DatabaseFailures.LostConnection(exception);
}
