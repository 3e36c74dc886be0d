using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Scheduling;

/// <summary>
/// How the cluster shares out running batch chunks between tenants (<see cref="FairShare"/>). Bound from the
/// <c>Scheduling</c> section; every silo must use the same values.
/// </summary>
public sealed class SchedulingOptions : ISelfValidating
{
    public const string Section = "Scheduling";

    /// <summary>
    /// Chunks running at once across the whole cluster, all tenants together (default 32: two tenants' batches at the
    /// default concurrency run side by side at full speed). A chunk is one operation, or consecutive creates, updates or
    /// deletes run as one statement. Keep it near what the database runs well at once (the silos'
    /// <c>Database:MaxConcurrency</c> summed): chunks past that only wait in the silos' gates, which share them out by
    /// weight as well.
    /// </summary>
    public int ClusterConcurrency { get; set; } = 32;

    /// <summary>
    /// A batch whose silo is not heard from for this long loses the slots it holds (default 30 s); a running batch renews
    /// its slots every third of it, so a dead silo's slots come back within it.
    /// </summary>
    public TimeSpan LeaseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one request for a slot waits before the batch asks again (default 5 s), kept below Orleans' response timeout.</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Requests of one tenant that may wait for a slot at once (default 4,096); more wait in their batches and ask again.</summary>
    public int MaxWaitingPerTenant { get; set; } = 4096;

    /// <summary>How long a tenant's quotas (in-flight cap, weight) are used before they are read again (default 5 s).</summary>
    public TimeSpan QuotaRefresh { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a batch holding slots renews them.</summary>
    public TimeSpan RenewInterval => LeaseTimeout / 3;

    IEnumerable<string> ISelfValidating.Problems() => Validate();

    internal IEnumerable<string> Validate()
    {
        if (ClusterConcurrency is < 1 or > 100_000)
        {
            yield return $"{Section}:ClusterConcurrency must be from 1 to 100000; got {ClusterConcurrency}.";
        }

        if (LeaseTimeout < TimeSpan.FromSeconds(1) || LeaseTimeout > TimeSpan.FromHours(1))
        {
            yield return $"{Section}:LeaseTimeout must be from 1 s to 1 h; got {LeaseTimeout}.";
        }

        if (MaxWait <= TimeSpan.Zero || MaxWait > TimeSpan.FromSeconds(25))
        {
            yield return $"{Section}:MaxWait must be above 0 and at most 25 s; got {MaxWait}.";
        }

        if (MaxWaitingPerTenant is < 1 or > 1_000_000)
        {
            yield return $"{Section}:MaxWaitingPerTenant must be from 1 to 1000000; got {MaxWaitingPerTenant}.";
        }

        if (QuotaRefresh < TimeSpan.FromMilliseconds(100) || QuotaRefresh > TimeSpan.FromMinutes(10))
        {
            yield return $"{Section}:QuotaRefresh must be from 100 ms to 10 min; got {QuotaRefresh}.";
        }
    }
}
