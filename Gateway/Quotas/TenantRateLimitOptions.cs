namespace Orleans.Batch.Gateway.Quotas;

/// <summary>How a gateway applies tenants' request rates (<c>RequestsPerSecond</c>, <c>Burst</c>). Bound from the <c>RateLimiting</c> section.</summary>
public sealed class TenantRateLimitOptions
{
    public const string Section = "RateLimiting";

    /// <summary>
    /// Gateways that share the traffic (default 1). Each gateway counts only the requests it serves, so it allows
    /// this share of a tenant's rate and burst: with N gateways behind a balancer that spreads requests evenly, a tenant
    /// gets about its rate across all of them, with no call to the cluster per request.
    /// </summary>
    public int Gateways { get; set; } = 1;

    /// <summary>How long a tenant's quotas are used before they are read again from the cluster (default 5 s).</summary>
    public TimeSpan QuotaRefresh { get; set; } = TimeSpan.FromSeconds(5);

    internal IEnumerable<string> Validate()
    {
        if (Gateways is < 1 or > 1000)
        {
            yield return $"{Section}:Gateways must be from 1 to 1000; got {Gateways}.";
        }

        if (QuotaRefresh < TimeSpan.FromMilliseconds(100) || QuotaRefresh > TimeSpan.FromMinutes(10))
        {
            yield return $"{Section}:QuotaRefresh must be from 100 ms to 10 min; got {QuotaRefresh}.";
        }
    }
}
