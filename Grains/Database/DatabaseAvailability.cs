using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Batch.Grains.Interfaces.Errors;

namespace Orleans.Batch.Grains.Database;

/// <summary>
/// Whether this silo reaches PostgreSQL. Work that failed because it does not (<see cref="IsUnavailable"/>) waits in
/// <see cref="WaitAsync"/> instead of failing: one probe loop per silo, backing off (<see cref="ProbeBackoff"/>), serves
/// every waiter, and each carries on once a probe succeeds.
/// </summary>
public sealed partial class DatabaseAvailability(NpgsqlDataSource dataSource, IOptions<DatabaseOptions> options, ILogger<DatabaseAvailability> logger)
{
    private readonly Lock _lock = new();
    private Task? _recovery;
    private long _forgotAt = long.MinValue;

    /// <summary>When this silo last found the database away, while it still is; null when it is reachable.</summary>
    public DateTimeOffset? UnavailableSince { get; private set; }

    /// <summary>
    /// Whether <paramref name="exception"/> (or one it wraps) says the database could not be reached or dropped the
    /// connection, rather than refused the statement: nothing is wrong with the work, which can run again once it is back.
    /// </summary>
    public static bool IsUnavailable(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case DatabaseUnavailableException:
                    return true;
                case PostgresException postgres:
                    return DatabaseUnavailableException.IsUnavailableState(postgres.SqlState);
                case NpgsqlException:
                    // Not a server error: the connection could not be opened, or broke (reset, closed, timed out).
                    return true;
            }
        }

        return false;
    }

    /// <summary>Waits until a probe reaches the database; the first waiter of an outage starts the probe loop, the rest join it.</summary>
    public Task WaitAsync(CancellationToken cancellationToken = default)
    {
        Task recovery;
        lock (_lock)
        {
            UnavailableSince ??= DateTimeOffset.UtcNow;
            recovery = _recovery ??= Task.Run(ProbeUntilReachableAsync, CancellationToken.None);
        }

        return recovery.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Drops the idle pooled connections (of resource statements and of grain storage alike), at most once a second: those
    /// open when the database went are broken, and each would otherwise fail one statement after it is back.
    /// </summary>
    public void ForgetConnections()
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _forgotAt);
        if (now - last >= 1000 && Interlocked.CompareExchange(ref _forgotAt, now, last) == last)
        {
            dataSource.Clear();
            NpgsqlConnection.ClearAllPools();
        }
    }

    /// <summary>One probe: whether a fresh statement reaches the database now.</summary>
    public async Task<bool> ProbeAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            command.CommandTimeout = (int)Math.Ceiling(options.Value.MaxProbeInterval.TotalSeconds);
            await command.ExecuteScalarAsync(cancellationToken);
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException || IsUnavailable(e))
        {
            return false;
        }
    }

    /// <summary>The wait before probe <paramref name="attempt"/> (from 0): doubling from <paramref name="first"/>, never above <paramref name="max"/>.</summary>
    public static TimeSpan ProbeBackoff(int attempt, TimeSpan first, TimeSpan max) =>
        TimeSpan.FromTicks(Math.Min(max.Ticks, first.Ticks * (1L << Math.Clamp(attempt, 0, 20))));

    private async Task ProbeUntilReachableAsync()
    {
        var since = UnavailableSince ?? DateTimeOffset.UtcNow;
        LogUnavailable(since);
        for (var attempt = 0; ; attempt++)
        {
            await Task.Delay(ProbeBackoff(attempt, options.Value.FirstProbeInterval, options.Value.MaxProbeInterval));
            ForgetConnections();
            if (await ProbeAsync())
            {
                break;
            }
        }

        lock (_lock)
        {
            UnavailableSince = null;
            _recovery = null;
        }

        LogReachable(DateTimeOffset.UtcNow - since);
    }

    [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "The database is unreachable since {Since:O}; work that needs it waits, probing it until it answers")]
    private partial void LogUnavailable(DateTimeOffset since);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "The database answers again after {Outage}; waiting work carries on")]
    private partial void LogReachable(TimeSpan outage);
}
