using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Tenancy;

/// <summary>One tenant: its quotas, the configured defaults with its overrides laid over.</summary>
public sealed class TenantGrain(IOptions<TenantQuotaOptions> defaults) : Grain, ITenantGrain
{
    public Task<TenantQuotas?> GetQuotasAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<TenantQuotas?>(defaults.Value.ToQuotas());
}
