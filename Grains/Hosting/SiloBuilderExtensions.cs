using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Batches.Retention;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Idempotency;
using Orleans.Batch.Grains.Membership;
using Orleans.Batch.Grains.Resources;
using Orleans.Batch.Grains.Scheduling;
using Orleans.Batch.Grains.Tenancy;
using Orleans.Dashboard;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;

namespace Orleans.Batch.Grains.Hosting;

public static class SiloBuilderExtensions
{
    /// <summary>Grain addresses each silo caches (<c>GrainDirectory:CacheSize</c>); a miss costs one directory look-up.</summary>
    public const int DirectoryCacheSize = 100_000;

    /// <summary>
    /// Everything a silo of this service needs except its endpoints and cluster identity, which the host owns:
    /// Redis membership (written back should Redis lose it), batch state and reminders in PostgreSQL, the dashboard, the resources and batch execution.
    /// </summary>
    public static ISiloBuilder AddOrleansBatch(this ISiloBuilder silo, IConfiguration configuration)
    {
        var redis = Required(configuration, "Redis");
        var postgres = Required(configuration, "Postgres");

        silo.UseRedisClustering(redis);
        silo.Services.AddMembershipRepair(configuration);
        silo.AddAdoNetGrainStorage(BatchStorage.AdoNetProviderName, o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = postgres;
        });
        silo.Services.AddKeyedSingleton<IGrainStorage>(BatchStorage.ProviderName, (services, _) =>
            new DatabaseAwareGrainStorage(
                services.GetRequiredKeyedService<IGrainStorage>(BatchStorage.AdoNetProviderName), services.GetRequiredService<DatabaseAvailability>()));
        silo.Services.AddSingleton<IGrainStorageSerializer, OrleansGrainStorageSerializer>();
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = "Npgsql";
            o.ConnectionString = postgres;
        });
        var resumeCheck = configuration.GetSection(BatchOptions.Section).Get<BatchOptions>()?.ResumeCheckPeriod ?? new BatchOptions().ResumeCheckPeriod;
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = resumeCheck < o.MinimumReminderPeriod ? resumeCheck : o.MinimumReminderPeriod);
        silo.AddDashboard();
        // The dashboard reads the directory cache's size every second by walking the cache's whole bucket array: at
        // Orleans's default capacity of a million entries that alone kept each idle silo 2-3 % of a core busy. The
        // setting stays out of the Orleans section: Orleans reads Orleans:GrainDirectory as its directory providers.
        silo.Services.AddOptions<GrainDirectoryOptions>()
            .Configure(o => o.CacheSize = DirectoryCacheSize)
            .Bind(configuration.GetSection("GrainDirectory"));
        // A database that cannot be reached reaches a caller as DatabaseUnavailableException: from a grain call through this
        // filter, from grain state (also while a grain activates) through DatabaseAwareGrainStorage. Npgsql's own
        // exceptions are never sent: a gateway, which has no Npgsql, could not read the response that held one.
        silo.AddIncomingGrainCallFilter<DatabaseExceptionFilter>();
        silo.AddIncomingGrainCallFilter<GatewayBoundaryFilter>();
        silo.Services
            .AddBatchDatabase(configuration)
            .AddResources()
            .AddIdempotency(configuration)
            .AddTenancy(configuration)
            .AddScheduling(configuration)
            .AddBatching(configuration)
            .AddBatchRetention(configuration);
        return silo;
    }

    private static string Required(IConfiguration configuration, string name) =>
        configuration.GetConnectionString(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"ConnectionStrings:{name} is not set; set it in appsettings.json or the ConnectionStrings__{name} environment variable.");
}
