namespace Orleans.Batch.Grains.Interfaces.Tenancy;

/// <summary>
/// A tenant asked for more than one of its <see cref="TenantQuotas"/> allows; nothing of the call was kept. The gateway
/// answers 429 with Retry-After: the quota frees up as the tenant's own work ends.
/// </summary>
[GenerateSerializer, Alias("Orleans.Batch.TenantQuotaExceededException")]
public sealed class TenantQuotaExceededException : Exception
{
    public TenantQuotaExceededException()
    {
    }

    public TenantQuotaExceededException(string quota, long limit, string detail)
        : base(detail)
    {
        Quota = quota;
        Limit = limit;
    }

    public TenantQuotaExceededException(string message)
        : base(message)
    {
    }

    public TenantQuotaExceededException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The quota's name as in <see cref="TenantQuotas"/> (camel case), e.g. <c>activeBatches</c>.</summary>
    [Id(0)] public string Quota { get; init; } = "";

    [Id(1)] public long Limit { get; init; }
}
