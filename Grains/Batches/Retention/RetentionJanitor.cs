using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Batches.Retention;

/// <summary>
/// Deletes finished batches past their tenant's retention, a bounded slice at a time, through each batch's own grain (which
/// refuses while it runs), then forgets their tombstones once they have been kept as long again. Every silo runs one;
/// a session advisory lock lets one sweep at a time, and the others skip their turn.
/// </summary>
public sealed partial class RetentionJanitor(
    NpgsqlDataSource dataSource, BatchRegistry registry, BatchQuotas quotas, IGrainFactory grains,
    IOptions<RetentionOptions> options, ILogger<RetentionJanitor> logger) : BackgroundService
{
    /// <summary>A batch registered this long ago without a stored item was abandoned as it was created.</summary>
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromHours(1);

    /// <summary>Sweeps once, unless another silo is sweeping: batches deleted and tombstones forgotten, or null when it did not sweep.</summary>
    public async Task<(int Deleted, int Forgotten)?> SweepAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT pg_try_advisory_lock(hashtext('batch-retention'))", cancellationToken: cancellationToken)))
        {
            return null;
        }

        try
        {
            var size = options.Value.SliceSize;
            foreach (var tenant in await registry.TenantsWithoutExpiryAsync(size, cancellationToken))
            {
                await registry.SetExpiriesAsync(tenant, (await quotas.ForAsync(tenant, cancellationToken)).Retention, cancellationToken);
            }

            var deleted = 0;
            IReadOnlyList<ExpiredBatch> slice;
            do
            {
                slice = await registry.ExpiredAsync(size, cancellationToken);
                var expired = 0;
                foreach (var batch in slice)
                {
                    // One batch at a time: each deletes its pages in one statement, so a sweep never crowds running batches out.
                    TenantContext.Set(batch.TenantId);
                    expired += await grains.GetGrain<IBatchRetention>(batch.BatchId).ExpireAsync(cancellationToken) ? 1 : 0;
                }

                deleted += expired;
                if (expired == 0)
                {
                    // Every batch of the slice was busy: they are tried again at the next sweep.
                    break;
                }
            }
            while (slice.Count == size && !cancellationToken.IsCancellationRequested);

            await registry.ForgetAbandonedAsync(AbandonedAfter, size, cancellationToken);
            int forgotten = 0, removed;
            do
            {
                removed = await registry.ForgetAsync(size, cancellationToken);
                forgotten += removed;
            }
            while (removed == size && !cancellationToken.IsCancellationRequested);

            return (deleted, forgotten);
        }
        finally
        {
            TenantContext.Clear();
            await connection.ExecuteAsync(new CommandDefinition(
                "SELECT pg_advisory_unlock(hashtext('batch-retention'))", cancellationToken: CancellationToken.None));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                if (await SweepAsync(stoppingToken) is { } swept && (swept.Deleted > 0 || swept.Forgotten > 0))
                {
                    LogSwept(swept.Deleted, swept.Forgotten);
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // The database or a silo is away (or the silo is still starting): the next sweep carries on.
                LogFailed(e);
            }
        }
    }

    [LoggerMessage(EventId = 5200, Level = LogLevel.Information, Message = "Retention: deleted {Deleted} expired batches, forgot {Forgotten} tombstones")]
    private partial void LogSwept(int deleted, int forgotten);

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Retention sweep failed; retrying at the next interval")]
    private partial void LogFailed(Exception exception);
}
