namespace Orleans.Batch.Grains.Interfaces.Tenancy;

/// <summary>One tenant, keyed by its id: what it may use.</summary>
public interface ITenantGrain : IGrainWithStringKey
{
    /// <summary>The tenant's effective quotas, or null when no tenant has this id.</summary>
    Task<TenantQuotas?> GetQuotasAsync(CancellationToken cancellationToken = default);
}
