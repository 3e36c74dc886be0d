namespace Orleans.Batch.Grains.Interfaces.Health;

/// <summary>Answers from inside the cluster whether a silo can reach PostgreSQL.</summary>
public interface IHealthGrain : IGrainWithIntegerKey
{
    Task<HealthReport> CheckAsync(CancellationToken cancellationToken = default);
}
