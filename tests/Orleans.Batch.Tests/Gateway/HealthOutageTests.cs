using System.Net;
using Microsoft.Extensions.Configuration;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>A cluster of its own whose silo cannot reach the resource database, and is then stopped.</summary>
public sealed class HealthOutageTests(HealthOutageTests.OutageFixture fixture) : IClassFixture<HealthOutageTests.OutageFixture>
{
    [Fact]
    public async Task Health_DatabaseThenClusterDown_Returns503NamingWhatFailed_AndWritesAre503()
    {
        var api = new BatchApi(fixture.Http);

        var databaseDown = await api.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, databaseDown.Status);
        Assert.Equal("application/problem+json", databaseDown.ContentType);
        Assert.Equal("ok", databaseDown.Json.GetProperty("cluster").GetString());
        Assert.Equal("unreachable", databaseDown.Json.GetProperty("database").GetString());

        var write = await api.PostAsync("/users", new { email = Unique.Email(), name = "Nobody" });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, write.Status);
        Assert.Equal("application/problem+json", write.ContentType);

        // What a silo cannot store for want of its database is a 503 the client may retry, never a 500.
        var batch = await api.BatchAsync(new { id = "a", method = "POST", path = "/users", body = new { email = Unique.Email(), name = "Nobody" } });
        AssertDatabaseUnavailable(batch);
        using var csv = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import")
        {
            Content = new StringContent($"email,name\n{Unique.Email()},Nobody\n", System.Text.Encoding.UTF8, "text/csv"),
        };
        AssertDatabaseUnavailable(await api.SendAsync(csv));

        await fixture.Cluster.StopAllSilosAsync();
        var clusterDown = await api.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, clusterDown.Status);
        Assert.Equal("unreachable", clusterDown.Json.GetProperty("cluster").GetString());
    }

    private static void AssertDatabaseUnavailable(ApiResponse response)
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.Status);
        Assert.Equal("application/problem+json", response.ContentType);
        Assert.Equal(ApiAssert.ProblemTypePrefix + "database-unavailable", response.Json.GetProperty("type").GetString());
    }

    public sealed class OutageFixture() : ClusterFixture(silos: 1, typeof(UnreachableDatabaseSilo));

    private sealed class UnreachableDatabaseSilo : ClusterFixture.SiloConfigurator
    {
        protected override IConfiguration Configuration { get; } = TestEnvironment.SiloConfigurationWith(new Dictionary<string, string?>
        {
            ["Database:ConnectionString"] = "Host=127.0.0.1;Port=1;Username=postgres;Database=none;Timeout=2;Maximum Pool Size=50",
        });
    }
}
