namespace Orleans.Batch.Grains.Interfaces.Tenancy;

/// <summary>
/// What one tenant may use: the configured defaults (<c>Tenancy:Quotas</c>) with the tenant's own overrides laid over.
/// </summary>
/// <param name="RequestsPerSecond">Sustained requests per second (a token bucket's refill rate).</param>
/// <param name="Burst">Requests allowed at once above the rate (the bucket's size).</param>
/// <param name="ActiveBatches">Async batches pending or processing at once.</param>
/// <param name="InFlightOperations">Operations running at once across the whole cluster.</param>
/// <param name="ImportRows">Rows one import may hold.</param>
/// <param name="Weight">Share of the cluster's work while tenants compete, relative to the others' weights.</param>
/// <param name="Retention">How long a finished batch is kept before it is deleted.</param>
/// <param name="IdempotencyRetention">How long an idempotency key answers with what it did.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.TenantQuotas")]
public sealed record TenantQuotas(
    [property: Id(0)] double RequestsPerSecond,
    [property: Id(1)] int Burst,
    [property: Id(2)] int ActiveBatches,
    [property: Id(3)] int InFlightOperations,
    [property: Id(4)] int ImportRows,
    [property: Id(5)] int Weight,
    [property: Id(6)] TimeSpan Retention,
    [property: Id(7)] TimeSpan IdempotencyRetention);
