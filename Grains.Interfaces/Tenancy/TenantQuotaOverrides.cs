namespace Orleans.Batch.Grains.Interfaces.Tenancy;

/// <summary>A tenant's own quotas; a null field takes the configured default. Fields as in <see cref="TenantQuotas"/>.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.TenantQuotaOverrides")]
public sealed record TenantQuotaOverrides(
    [property: Id(0)] double? RequestsPerSecond = null,
    [property: Id(1)] int? Burst = null,
    [property: Id(2)] int? ActiveBatches = null,
    [property: Id(3)] int? InFlightOperations = null,
    [property: Id(4)] int? ImportRows = null,
    [property: Id(5)] int? Weight = null,
    [property: Id(6)] TimeSpan? Retention = null,
    [property: Id(7)] TimeSpan? IdempotencyRetention = null)
{
    /// <summary>These overrides laid over <paramref name="defaults"/>.</summary>
    public TenantQuotas Over(TenantQuotas defaults) => new(
        RequestsPerSecond ?? defaults.RequestsPerSecond,
        Burst ?? defaults.Burst,
        ActiveBatches ?? defaults.ActiveBatches,
        InFlightOperations ?? defaults.InFlightOperations,
        ImportRows ?? defaults.ImportRows,
        Weight ?? defaults.Weight,
        Retention ?? defaults.Retention,
        IdempotencyRetention ?? defaults.IdempotencyRetention);

    /// <summary>Each override out of <see cref="TenantQuotaLimits"/>: the field's name (as in <see cref="TenantQuotas"/>) and why.</summary>
    public IEnumerable<(string Field, string Problem)> Problems()
    {
        var problems = new (string Field, string? Problem)[]
        {
            (nameof(RequestsPerSecond), RequestsPerSecond is { } rps ? TenantQuotaLimits.RequestsPerSecond(rps) : null),
            (nameof(Burst), Burst is { } burst ? TenantQuotaLimits.Burst(burst) : null),
            (nameof(ActiveBatches), ActiveBatches is { } active ? TenantQuotaLimits.ActiveBatches(active) : null),
            (nameof(InFlightOperations), InFlightOperations is { } inFlight ? TenantQuotaLimits.InFlightOperations(inFlight) : null),
            (nameof(ImportRows), ImportRows is { } rows ? TenantQuotaLimits.ImportRows(rows) : null),
            (nameof(Weight), Weight is { } weight ? TenantQuotaLimits.Weight(weight) : null),
            (nameof(Retention), Retention is { } retention ? TenantQuotaLimits.Retention(retention) : null),
            (nameof(IdempotencyRetention), IdempotencyRetention is { } idempotency ? TenantQuotaLimits.IdempotencyRetention(idempotency) : null),
        };
        return problems.Where(p => p.Problem is not null).Select(p => (p.Field, p.Problem!));
    }
}

/// <summary>The effective quotas of a tenant and the overrides they come from.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.TenantQuotaSettings")]
public sealed record TenantQuotaSettings(
    [property: Id(0)] TenantQuotas Effective,
    [property: Id(1)] TenantQuotaOverrides Overrides);

/// <summary>
/// The range of each quota, for the configured defaults and a tenant's overrides alike: each check answers why a value
/// is out of range, or null.
/// </summary>
public static class TenantQuotaLimits
{
    public static string? RequestsPerSecond(double value) =>
        value is <= 0 or > 1_000_000 || double.IsNaN(value) ? "must be above 0 and at most 1000000" : null;

    public static string? Burst(int value) => value is < 1 or > 1_000_000 ? "must be from 1 to 1000000" : null;

    public static string? ActiveBatches(int value) => value is < 1 or > 100_000 ? "must be from 1 to 100000" : null;

    public static string? InFlightOperations(int value) => value is < 1 or > 100_000 ? "must be from 1 to 100000" : null;

    public static string? ImportRows(int value) => value < 1 ? "must be at least 1" : null;

    public static string? Weight(int value) => value is < 1 or > 1000 ? "must be from 1 to 1000" : null;

    public static string? Retention(TimeSpan value) => value < TimeSpan.FromMinutes(1) ? "must be at least 1 minute" : null;

    public static string? IdempotencyRetention(TimeSpan value) => value < TimeSpan.FromMinutes(1) ? "must be at least 1 minute" : null;
}
