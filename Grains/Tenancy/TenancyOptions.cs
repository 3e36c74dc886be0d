using Orleans.Batch.Grains.Hosting;
using Orleans.Batch.Grains.Interfaces.Tenancy;

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
    public TenantQuotas ToQuotas() =>
        new(RequestsPerSecond, Burst, ActiveBatches, InFlightOperations, ImportRows, Weight, Retention, IdempotencyRetention);

    IEnumerable<string> ISelfValidating.Problems() => Validate();

    internal IEnumerable<string> Validate()
    {
        var problems = new (string Field, object Value, string? Problem)[]
        {
            (nameof(RequestsPerSecond), RequestsPerSecond, TenantQuotaLimits.RequestsPerSecond(RequestsPerSecond)),
            (nameof(Burst), Burst, TenantQuotaLimits.Burst(Burst)),
            (nameof(ActiveBatches), ActiveBatches, TenantQuotaLimits.ActiveBatches(ActiveBatches)),
            (nameof(InFlightOperations), InFlightOperations, TenantQuotaLimits.InFlightOperations(InFlightOperations)),
            (nameof(ImportRows), ImportRows, TenantQuotaLimits.ImportRows(ImportRows)),
            (nameof(Weight), Weight, TenantQuotaLimits.Weight(Weight)),
            (nameof(Retention), Retention, TenantQuotaLimits.Retention(Retention)),
            (nameof(IdempotencyRetention), IdempotencyRetention, TenantQuotaLimits.IdempotencyRetention(IdempotencyRetention)),
        };
        return problems.Where(p => p.Problem is not null).Select(p => $"{Section}:{p.Field} {p.Problem}; got {p.Value}.");
    }
}
