namespace Orleans.Batch.Grains.Interfaces.Health;

[GenerateSerializer, Immutable, Alias("Orleans.Batch.HealthReport")]
public sealed record HealthReport(
    [property: Id(0)] string Silo,
    [property: Id(1)] bool DatabaseHealthy,
    [property: Id(2)] string? Detail);
