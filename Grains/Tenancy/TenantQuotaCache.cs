using System.Collections.Concurrent;
using Orleans.Batch.Grains.Fairness;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Tenancy;

/// <summary>
/// Tenants' quotas as this silo last read them from their <see cref="ITenantGrain"/>, each for at most
/// <see cref="MaxAge"/>: work that needs them per item (an idempotency record's retention) costs no grain call per item,
/// and a changed quota reaches every silo within that time.
/// </summary>
public sealed class TenantQuotaCache(Func<string, CancellationToken, Task<TenantQuotas?>> read, TimeProvider time) : ITenantWeights
{
    /// <summary>How long a read answers before the tenant's grain is asked again.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);

    /// <summary>Tenants remembered at most; past that the cache starts over (the ids come from callers' credentials).</summary>
    private const int MaxTenants = 10_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Tenants whose quotas <see cref="WeightOf"/> is reading in the background.</summary>
    private readonly ConcurrentDictionary<string, bool> _refreshing = new(StringComparer.Ordinal);

    /// <summary>Reads each tenant's quotas from its grain.</summary>
    public TenantQuotaCache(IGrainFactory grains)
        : this((tenant, cancellationToken) => grains.GetGrain<ITenantGrain>(tenant).GetQuotasAsync(cancellationToken), TimeProvider.System)
    {
    }

    /// <summary>The tenant's effective quotas, or null when no tenant has this id.</summary>
    public ValueTask<TenantQuotas?> GetAsync(string tenant, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        return _entries.TryGetValue(tenant, out var entry) && time.GetElapsedTime(entry.ReadAt, now) < MaxAge
            ? ValueTask.FromResult(entry.Quotas)
            : ReadAsync(tenant, now, cancellationToken);
    }

    /// <summary>
    /// The weight last read, without waiting: a tenant not read yet, or read too long ago, is read in the background,
    /// and counts 1 (or its old weight) until then. The read itself passes the silo's gates, which ask again here and
    /// are answered at once.
    /// </summary>
    public int WeightOf(string tenant)
    {
        var found = _entries.TryGetValue(tenant, out var entry);
        if ((!found || time.GetElapsedTime(entry!.ReadAt) >= MaxAge) && _refreshing.TryAdd(tenant, true))
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await ReadAsync(tenant, time.GetTimestamp(), CancellationToken.None);
                }
                catch
                {
                    // Unread (the database is away): the weight known, or 1, serves until a later entry asks again.
                }
                finally
                {
                    _refreshing.TryRemove(tenant, out _);
                }
            });
        }

        return Math.Max(1, entry?.Quotas?.Weight ?? 1);
    }

    private async ValueTask<TenantQuotas?> ReadAsync(string tenant, long now, CancellationToken cancellationToken)
    {
        var quotas = await read(tenant, cancellationToken);
        if (_entries.Count >= MaxTenants)
        {
            _entries.Clear();
        }

        _entries[tenant] = new Entry(quotas, now);
        return quotas;
    }

    private sealed record Entry(TenantQuotas? Quotas, long ReadAt);
}
