using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Quotas;

/// <summary>
/// Tenants' quotas as this gateway last read them from the cluster (<see cref="ITenantGrain"/>): read again every
/// <see cref="TenantRateLimitOptions.QuotaRefresh"/>, while the last ones read go on serving.
/// </summary>
internal sealed partial class TenantQuotaCache(IClusterClient cluster, IOptions<TenantRateLimitOptions> options, ILogger<TenantQuotaCache> logger)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>The tenant's quotas; null when no tenant has the id, or they were never read (the cluster is away).</summary>
    public async ValueTask<TenantQuotas?> GetAsync(string tenant)
    {
        var entry = _entries.GetOrAdd(tenant, _ => new Entry());
        Task<TenantQuotas?> reading;
        lock (entry)
        {
            if (entry.Known && DateTime.UtcNow - entry.ReadAt < options.Value.QuotaRefresh || entry.Reading is { IsCompleted: false } && entry.Known)
            {
                return entry.Quotas;
            }

            reading = entry.Reading is { IsCompleted: false } running ? running : entry.Reading = ReadAsync(tenant, entry);
            if (entry.Known)
            {
                // Stale: read again in the background, the last ones serve meanwhile.
                return entry.Quotas;
            }
        }

        return await reading;
    }

    private async Task<TenantQuotas?> ReadAsync(string tenant, Entry entry)
    {
        try
        {
            var quotas = await cluster.GetGrain<ITenantGrain>(tenant).GetQuotasAsync();
            lock (entry)
            {
                (entry.Quotas, entry.Known, entry.ReadAt) = (quotas, true, DateTime.UtcNow);
            }

            return quotas;
        }
        catch (Exception e)
        {
            // Not limited while unknown: the request itself meets the same cluster and is answered for what it finds.
            LogUnread(tenant, e);
            lock (entry)
            {
                return entry.Quotas;
            }
        }
    }

    private sealed class Entry
    {
        public TenantQuotas? Quotas { get; set; }

        public bool Known { get; set; }

        public DateTime ReadAt { get; set; }

        public Task<TenantQuotas?>? Reading { get; set; }
    }

    [LoggerMessage(EventId = 5350, Level = LogLevel.Warning, Message = "The quotas of tenant {Tenant} could not be read; the last known apply")]
    private partial void LogUnread(string tenant, Exception exception);
}
