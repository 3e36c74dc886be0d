using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Tenancy;

/// <summary>Tenants' default quotas, which a tenant's own overrides replace. Bound from the <c>Tenancy:Quotas</c> section.</summary>
public sealed class TenantQuotaOptions : ISelfValidating
{
    public const string Section = "Tenancy:Quotas";

    /// <summary>Sustained requests per second per tenant (default 200).</summary>
    public double RequestsPerSecond { get; set; } = 200;

    /// <summary>Requests a tenant may send at once above the rate (default 400).</summary>
    public int Burst { get; set; } = 400;

    /// <summary>Async batches a tenant may have pending or processing at once (default 20).</summary>
    public int ActiveBatches { get; set; } = 20;

    /// <summary>Operations a tenant may have running at once across the cluster (default 64).</summary>
    public int InFlightOperations { get; set; } = 64;

    /// <summary>Rows one import may hold (default 10,000,000).</summary>
    public int ImportRows { get; set; } = 10_000_000;

    /// <summary>A tenant's share of the cluster while tenants compete, relative to the others' (default 1).</summary>
    public int Weight { get; set; } = 1;

    /// <summary>How long a finished batch is kept (default 7 days).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How long an idempotency key answers with what it did (default 24 h).</summary>
    public TimeSpan IdempotencyRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>These defaults as a tenant's quotas.</summary>
    public Interfaces.Tenancy.TenantQuotas ToQuotas() =>
        new(RequestsPerSecond, Burst, ActiveBatches, InFlightOperations, ImportRows, Weight, Retention, IdempotencyRetention);

    IEnumerable<string> ISelfValidating.Problems() => Validate();

    internal IEnumerable<string> Validate()
    {
        if (RequestsPerSecond is <= 0 or > 1_000_000 || double.IsNaN(RequestsPerSecond))
        {
            yield return $"{Section}:RequestsPerSecond must be above 0 and at most 1000000; got {RequestsPerSecond}.";
        }

        if (Burst is < 1 or > 1_000_000)
        {
            yield return $"{Section}:Burst must be from 1 to 1000000; got {Burst}.";
        }

        if (ActiveBatches is < 1 or > 100_000)
        {
            yield return $"{Section}:ActiveBatches must be from 1 to 100000; got {ActiveBatches}.";
        }

        if (InFlightOperations is < 1 or > 100_000)
        {
            yield return $"{Section}:InFlightOperations must be from 1 to 100000; got {InFlightOperations}.";
        }

        if (ImportRows < 1)
        {
            yield return $"{Section}:ImportRows must be at least 1; got {ImportRows}.";
        }

        if (Weight is < 1 or > 1000)
        {
            yield return $"{Section}:Weight must be from 1 to 1000; got {Weight}.";
        }

        if (Retention < TimeSpan.FromMinutes(1))
        {
            yield return $"{Section}:Retention must be at least 1 minute; got {Retention}.";
        }

        if (IdempotencyRetention < TimeSpan.FromMinutes(1))
        {
            yield return $"{Section}:IdempotencyRetention must be at least 1 minute; got {IdempotencyRetention}.";
        }
    }
}
