using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Orleans.Batch.Grains.Idempotency;

/// <summary>
/// Deletes idempotency records past their retention, a bounded slice at a time, whatever their tenant: each record's
/// expiry was set from its tenant's retention when it was written.
/// </summary>
public sealed partial class IdempotencyJanitor(
    NpgsqlDataSource dataSource, IOptions<IdempotencyOptions> options, ILogger<IdempotencyJanitor> logger) : BackgroundService
{
    private const int SliceSize = 10_000;

    // A key is a record's only within its tenant: another tenant's record under the same key may still be live.
    private const string DeleteSql = """
        DELETE FROM idempotency_records
        WHERE (tenant_id, key) IN (SELECT tenant_id, key FROM idempotency_records WHERE expires_at <= now() LIMIT @SliceSize)
        """;

    public async Task<int> DeleteExpiredAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        int deleted;
        do
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            deleted = await connection.ExecuteAsync(new CommandDefinition(DeleteSql, new { SliceSize }, cancellationToken: cancellationToken));
            total += deleted;
        }
        while (deleted == SliceSize && !cancellationToken.IsCancellationRequested);

        return total;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CleanupInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                if (await DeleteExpiredAsync(stoppingToken) is > 0 and var deleted)
                {
                    LogDeleted(deleted);
                }
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                LogFailed(e);
            }
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Deleted {Count} expired idempotency records")]
    private partial void LogDeleted(int count);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Deleting expired idempotency records failed; retrying at the next interval")]
    private partial void LogFailed(Exception exception);
}
