using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Membership;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.Runtime.Placement;
using Orleans.Runtime;
using Orleans.TestingHost;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>
/// A cluster of its own on a Redis of its own: Redis restarts, with or without its data, and then a silo dies. The
/// cluster must keep serving through the gateway, and a silo started afterwards must join the same cluster.
/// </summary>
public sealed class RedisRestartTests(RedisRestartTests.RestartFixture fixture, ITestOutputHelper output) : IClassFixture<RedisRestartTests.RestartFixture>
{
    /// <summary>Well under Orleans's defaults, which take minutes to give up on a silo nobody can declare dead.</summary>
    private static readonly TimeSpan ServingBound = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task Cluster_RedisRestartedEmptyThenSiloKilled_KeepsServingAndANewSiloJoinsTheSameCluster()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        await AssertServesAsync("before the restart");
        var clock = Stopwatch.StartNew();
        await fixture.Redis.RestartEmptyAsync();
        var emptied = clock.Elapsed;

        // Every silo writes back the table (its version and every active silo's row), within a few check periods.
        var live = fixture.Cluster.GetActiveSilos().ToList();
        await WaitForAsync(async () => await AllRowsActiveAsync(live), TimeSpan.FromSeconds(20), "the silos' rows back in the table");
        var restored = clock.Elapsed;
        await AssertServesAsync("after the table was written back");

        var victim = live.First(s => !s.SiloAddress.Equals(fixture.Cluster.Primary?.SiloAddress));
        await fixture.Cluster.KillSiloAsync(victim);
        var killed = clock.Elapsed;
        var servedAgain = await ServesWithinAsync(ServingBound);
        await WaitForAsync(async () => (await RowsAsync()).GetValueOrDefault(victim.SiloAddress.ToString()) == SiloStatus.Dead,
            ServingBound, "the killed silo declared dead in the table");
        var declaredDead = clock.Elapsed;

        var added = await fixture.Cluster.StartAdditionalSiloAsync();
        live = [.. fixture.Cluster.GetActiveSilos()];
        await WaitForAsync(() => Task.FromResult(EveryViewIs(live)), TimeSpan.FromSeconds(30), "every silo seeing the same live silos");
        var joined = clock.Elapsed;
        await AssertAnswersOnAsync(added);
        await AssertServesAsync("after the new silo joined");

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Redis emptied at {emptied.TotalSeconds:F1} s; table written back +{(restored - emptied).TotalSeconds:F1} s; silo killed at {killed.TotalSeconds:F1} s; serving again +{servedAgain.TotalSeconds:F1} s; declared dead +{(declaredDead - killed).TotalSeconds:F1} s; new silo in every view at {joined.TotalSeconds:F1} s"));
    }

    [Fact]
    public async Task Cluster_SiloStartedRightAfterRedisRestartedEmpty_JoinsTheRunningSilos()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var running = fixture.Cluster.GetActiveSilos().ToList();
        await fixture.Redis.RestartEmptyAsync();

        // The new silo may find the table empty and start a cluster of one before the others write their rows back:
        // their rows then come back at a higher version that also holds its row, and every view becomes the same.
        var clock = Stopwatch.StartNew();
        var added = await fixture.Cluster.StartAdditionalSiloAsync();
        var started = clock.Elapsed;
        var rowsAtStart = (await RowsAsync()).Count;
        var live = running.Append(added).ToList();
        await WaitForAsync(async () => await AllRowsActiveAsync(live), TimeSpan.FromSeconds(20), "every live silo's row in the table");
        var restored = clock.Elapsed;
        await WaitForAsync(() => Task.FromResult(EveryViewIs(live)), TimeSpan.FromSeconds(30), "every silo seeing the same live silos");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"new silo started in {started.TotalSeconds:F1} s with {rowsAtStart} rows in the table; every row back at {restored.TotalSeconds:F1} s; every view the same at {clock.Elapsed.TotalSeconds:F1} s"));
        await AssertAnswersOnAsync(added);
        await AssertServesAsync("after the new silo joined");
    }

    [Fact]
    public async Task Cluster_RedisRestartedWithItsData_LosesNoRowAndKeepsServing()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var before = await RowsAsync();
        var version = await VersionAsync();
        await fixture.Redis.StopAsync();
        await fixture.Redis.StartAsync();

        Assert.Equal(before, await RowsAsync());
        await AssertServesAsync("after a plain restart");
        // Nothing was lost, so no silo wrote anything back (a repair raises the version) within a check period.
        await Task.Delay(new MembershipRepairOptions().CheckPeriod + TimeSpan.FromSeconds(1));
        Assert.Equal(version, await VersionAsync());
    }

    private async Task AssertServesAsync(string when)
    {
        for (var i = 0; i < 6; i++)
        {
            // Serving is the point, not latency: the first batches after a silo joins may wait for grains (the slot
            // scheduler, a key's grain) whose directory entries move to it.
            var (status, body) = await SendBatchAsync(TimeSpan.FromSeconds(40));
            Assert.True(status == HttpStatusCode.OK, $"A batch {when} answered {(int?)status}: {body}");
        }
    }

    /// <summary>How long until ten batches in a row succeed, each a new batch grain placed anywhere in the cluster.</summary>
    private async Task<TimeSpan> ServesWithinAsync(TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        var inARow = 0;
        string? last = null;
        while (inARow < 10)
        {
            Assert.True(clock.Elapsed < bound, $"The cluster did not serve ten batches in a row within {bound.TotalSeconds} s of the kill; last failure: {last}");
            var (status, body) = await SendBatchAsync(bound - clock.Elapsed);
            if (status == HttpStatusCode.OK)
            {
                inARow++;
            }
            else
            {
                inARow = 0;
                last = $"{(int?)status} {body}";
                await Task.Delay(250);
            }
        }

        return clock.Elapsed;
    }

    private async Task<(HttpStatusCode? Status, string Body)> SendBatchAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : timeout);
        var email = Unique.Email("redis");
        try
        {
            using var response = await fixture.Http.PostAsJsonAsync(
                "/batch",
                new { operations = new[] { new { id = "a", method = "POST", path = "/users", body = new { email, name = "Redis Restart" } } } },
                cancel.Token);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(cancel.Token));
        }
        catch (OperationCanceledException)
        {
            return (null, "no answer in time");
        }
    }

    private async Task AssertAnswersOnAsync(SiloHandle silo)
    {
        var grain = fixture.Grains.GetGrain<IBatchGrain>($"redis-{Unique.Token()}");
        RequestContext.Set(IPlacementDirector.PlacementHintKey, silo.SiloAddress);
        try
        {
            Assert.Null(await grain.GetStatusAsync());
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }

        Assert.Equal(silo.SiloAddress, await fixture.Grains.GetGrain<IManagementGrain>(0).GetActivationAddress(grain));
    }

    private static bool EveryViewIs(IReadOnlyList<SiloHandle> live)
    {
        var expected = live.Select(s => s.SiloAddress).ToHashSet();
        return live.All(silo =>
        {
            var view = ((InProcessSiloHandle)silo).SiloHost.Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot;
            return view.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToHashSet().SetEquals(expected);
        });
    }

    private async Task<bool> AllRowsActiveAsync(IEnumerable<SiloHandle> silos)
    {
        var rows = await RowsAsync();
        return silos.All(s => rows.GetValueOrDefault(s.SiloAddress.ToString()) == SiloStatus.Active);
    }

    private async Task<string?> VersionAsync()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(PrivateRedis.ConnectionString);
        return await redis.GetDatabase().HashGetAsync(TableKey, "Version");
    }

    private string TableKey => $"{fixture.Cluster.Options.ServiceId}/members/{fixture.Cluster.Options.ClusterId}";

    /// <summary>The membership table as Redis holds it: each silo's row by its address, with its status.</summary>
    private async Task<Dictionary<string, SiloStatus>> RowsAsync()
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(PrivateRedis.ConnectionString);
        var fields = await redis.GetDatabase().HashGetAllAsync(TableKey);
        return fields
            .Where(f => f.Name != "Version")
            .ToDictionary(f => f.Name.ToString(), f => StatusOf(JsonDocument.Parse(f.Value.ToString()).RootElement.GetProperty("Status")));

        static SiloStatus StatusOf(JsonElement status) =>
            status.ValueKind == JsonValueKind.Number ? (SiloStatus)status.GetInt32() : Enum.Parse<SiloStatus>(status.GetString()!);
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < timeout, $"Waited {timeout.TotalSeconds} s for {what}.");
            await Task.Delay(200);
        }
    }

    /// <summary>Three silos, the gateway and the test client, all on a <see cref="PrivateRedis"/> started first.</summary>
    public sealed class RestartFixture() : ClusterFixture(silos: 3, typeof(PrivateRedisSilo))
    {
        public PrivateRedis Redis { get; } = new();

        protected override string RedisConnection => PrivateRedis.ConnectionString;

        public override async Task InitializeAsync()
        {
            await Redis.StartAsync();
            await base.InitializeAsync();
        }

        public override async Task DisposeAsync()
        {
            await base.DisposeAsync();
            await Redis.DisposeAsync();
        }
    }

    /// <summary>The service's silo, as configured for production, on <see cref="PrivateRedis"/>.</summary>
    private sealed class PrivateRedisSilo : ClusterFixture.SiloConfigurator
    {
        protected override IConfiguration Configuration { get; } = TestEnvironment.SiloConfigurationWith(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = PrivateRedis.ConnectionString,
        });
    }
}
