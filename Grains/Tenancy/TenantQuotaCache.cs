using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Tenancy;

/// <summary>
/// Tenants' quotas as this silo last read them from their <see cref="ITenantGrain"/>, for <see cref="Lifetime"/>: a batch
/// created or ended asks for its tenant's, and a quota changed through the admin API applies within that time. A tenant
/// the grain does not know (the default one before any was created) has the configured defaults.
/// </summary>
public sealed class TenantQuotaCache(IGrainFactory grains, IOptions<TenantQuotaOptions> defaults)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, (TenantQuotas Quotas, DateTimeOffset ReadAt)> _read = new(StringComparer.Ordinal);

    public async Task<TenantQuotas> GetAsync(string tenant, CancellationToken cancellationToken = default)
    {
        var now = DateTimeOffset.UtcNow;
        if (_read.TryGetValue(tenant, out var kept) && now - kept.ReadAt < Lifetime)
        {
            return kept.Quotas;
        }

        var quotas = await grains.GetGrain<ITenantGrain>(tenant).GetQuotasAsync(cancellationToken) ?? defaults.Value.ToQuotas();
        _read[tenant] = (quotas, now);
        return quotas;
    }
}
