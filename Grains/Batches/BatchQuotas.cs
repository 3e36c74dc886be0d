using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Tenancy;

namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// The quotas a batch of a tenant is held to: the tenant's, as the silo's cache last read them, or the configured
/// defaults for a tenant no tenant grain knows (the default tenant of a service where none was created).
/// </summary>
public sealed class BatchQuotas(TenantQuotaCache cache, IOptions<TenantQuotaOptions> defaults)
{
    public async ValueTask<TenantQuotas> ForAsync(string tenant, CancellationToken cancellationToken) =>
        await cache.GetAsync(tenant, cancellationToken) ?? defaults.Value.ToQuotas();
}
