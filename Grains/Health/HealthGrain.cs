using Npgsql;
using Orleans.Batch.Grains.Interfaces.Health;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace Orleans.Batch.Grains.Health;

/// <summary>Checks from inside a silo that PostgreSQL answers; the gateway's health endpoint asks it.</summary>
[StatelessWorker]
public sealed class HealthGrain(NpgsqlDataSource dataSource, ILocalSiloDetails silo) : Grain, IHealthGrain
{
    public async Task<HealthReport> CheckAsync(CancellationToken cancellationToken = default)
    {
        var name = silo.SiloAddress.ToString();
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken);
            return new HealthReport(name, DatabaseHealthy: true, Detail: null);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            return new HealthReport(name, DatabaseHealthy: false, Detail: e.Message);
        }
    }
}
