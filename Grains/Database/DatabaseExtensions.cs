using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Database;

public static class DatabaseExtensions
{
    /// <summary>Registers the PostgreSQL data source and the per-silo gate on resource statements.</summary>
    public static IServiceCollection AddBatchDatabase(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DatabaseOptions>()
            .Bind(configuration.GetSection(DatabaseOptions.Section))
            .Configure(o =>
            {
                if (string.IsNullOrEmpty(o.ConnectionString))
                {
                    o.ConnectionString = configuration.GetConnectionString("Postgres") ?? "";
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<DatabaseOptions>, SelfValidation<DatabaseOptions>>();
        services.AddSingleton(sp => NpgsqlDataSource.Create(sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.EffectiveConnectionString()));
        services.AddSingleton<DatabaseGate>();
        services.AddSingleton<DatabaseAvailability>();
        return services;
    }
}
