using Microsoft.Extensions.Configuration;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>The real PostgreSQL and Redis that ./test.sh starts, passed in through environment variables.</summary>
public static class TestEnvironment
{
    public static string Postgres { get; } = Required("BATCH_TEST_POSTGRES");

    public static string Redis { get; } = Required("BATCH_TEST_REDIS");

    /// <summary>The configuration a silo of the test cluster reads, as a real silo reads appsettings.json.</summary>
    public static IConfiguration SiloConfiguration { get; } = new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = Postgres,
            ["ConnectionStrings:Redis"] = Redis,
            ["Database:MaxConcurrency"] = "16",
            ["Batch:DefaultConcurrency"] = "8",
            ["Batch:MaxConcurrency"] = "32",
            ["Batch:ChunkSize"] = "50",
            // The suite sends many requests as one tenant; rate limiting has its own fixture (TenantQuotaTests).
            ["Tenancy:Quotas:RequestsPerSecond"] = "100000",
            ["Tenancy:Quotas:Burst"] = "100000",
        })
        .Build();

    /// <summary><see cref="SiloConfiguration"/> with <paramref name="settings"/> laid over it, for a fixture's own silos.</summary>
    public static IConfiguration SiloConfigurationWith(IDictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddConfiguration(SiloConfiguration).AddInMemoryCollection(settings).Build();

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set. Run the tests through ./test.sh, which starts PostgreSQL and Redis and sets it.");
}
