namespace Orleans.Batch.Grains.Interfaces.Tenancy;

/// <summary>One tenant, keyed by its id: what it may use.</summary>
public interface ITenantGrain : IGrainWithStringKey
{
    /// <summary>The tenant's effective quotas, or null when no tenant has this id.</summary>
    Task<TenantQuotas?> GetQuotasAsync(CancellationToken cancellationToken = default);

    /// <summary>Creates the tenant; null when it exists already.</summary>
    Task<TenantInfo?> CreateAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The effective quotas and the tenant's own overrides; null when no tenant has this id.</summary>
    Task<TenantQuotaSettings?> GetQuotaSettingsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the tenant's overrides (a null field takes the configured default); null when no tenant has this id.
    /// An override out of <see cref="TenantQuotaLimits"/> is refused with an <see cref="ArgumentException"/>.
    /// </summary>
    Task<TenantQuotaSettings?> SetQuotasAsync(TenantQuotaOverrides overrides, CancellationToken cancellationToken = default);
}
