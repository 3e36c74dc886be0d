using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Scheduling;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.Configuration;

namespace Orleans.Batch.Tests.Grains.Scheduling;

/// <summary>
/// Quotas enforced across a cluster of two silos whose tenants may run <see cref="InFlight"/> chunks at once and send
/// <see cref="Rate"/> requests per second with a burst of <see cref="Burst"/>.
/// </summary>
public sealed class TenantQuotaTests(TenantQuotaTests.QuotaFixture fixture) : IClassFixture<TenantQuotaTests.QuotaFixture>
{
    private const int InFlight = 2;
    private const int Rate = 2;
    private const int Burst = 3;

    [Fact]
    public async Task InFlight_BatchesOnBothSilos_NeverExceedTheTenantsQuotaAcrossTheCluster()
    {
        var tenant = $"quota-{Unique.Token()}";
        TenantContext.Set(tenant);
        using var watch = ChunkWatch.Start(fixture.Cluster.Options.ServiceId);
        var batches = new List<IBatchGrain>();
        // Batches are placed by Orleans: more start until both silos run some, so a count kept per silo would allow twice the quota.
        while (batches.Count < 6 || watch.BatchSilos.Count < 2 && batches.Count < 30)
        {
            var batch = fixture.Grains.GetGrain<IBatchGrain>($"quota-{tenant}-{batches.Count}");
            await batch.StartAsync(new BatchRequest([.. Enumerable.Range(0, 40).Select(i => Read(i))], Concurrency: 8));
            batches.Add(batch);
        }

        foreach (var batch in batches)
        {
            Assert.Equal(BatchStatus.Completed, (await EndAsync(batch)).Status);
        }

        Assert.Equal(2, watch.BatchSilos.Count);
        Assert.Equal(2, watch.ChunkSilos.Count);
        Assert.Equal(InFlight, watch.Peak(tenant));
        TenantContext.Clear();
    }

    [Fact]
    public async Task Acquire_CallerThatStopsRenewing_LosesItsSlotsAfterTheLeaseTimeout()
    {
        TenantContext.Set($"lease-{Unique.Token()}");
        var scheduler = fixture.Grains.GetGrain<ISlotSchedulerGrain>(0);
        Assert.True(await scheduler.AcquireAsync("dead"));
        Assert.True(await scheduler.AcquireAsync("dead"));
        var clock = Stopwatch.StartNew();

        while (!await scheduler.AcquireAsync("live"))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the dead caller's slots were never reclaimed");
        }

        Assert.InRange(clock.Elapsed, QuotaFixture.LeaseTimeout / 2, TimeSpan.FromSeconds(20));
        Assert.Equal(1, await scheduler.GetInFlightAsync());
        TenantContext.Clear();
    }

    [Fact]
    public async Task Acquire_WaitRunsOut_AnswersFalseAndLeavesTheQueue()
    {
        TenantContext.Set($"wait-{Unique.Token()}");
        var scheduler = fixture.Grains.GetGrain<ISlotSchedulerGrain>(0);
        Assert.True(await scheduler.AcquireAsync("holder"));
        Assert.True(await scheduler.AcquireAsync("holder"));

        // Both slots held (and renewed, so the lease keeps them): the third caller waits the scheduler's MaxWait, then
        // is told to ask again.
        using var renewing = new CancellationTokenSource();
        var renewals = Task.Run(async () =>
        {
            while (!renewing.IsCancellationRequested)
            {
                await scheduler.RenewAsync("holder", 2);
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        });
        var clock = Stopwatch.StartNew();
        Assert.False(await scheduler.AcquireAsync("gone"));
        await renewing.CancelAsync();
        await renewals;
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(9), $"answered after {clock.Elapsed}, before its wait ran out");

        // The slot released is not the departed caller's (which would keep two held): it is free for the next.
        await scheduler.ReleaseAsync("holder");
        clock.Restart();
        while (await scheduler.GetInFlightAsync() != 1)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "the released slot was taken by the departed caller");
            await Task.Delay(50);
        }

        Assert.True(await scheduler.AcquireAsync("next"));
        Assert.Equal(2, await scheduler.GetInFlightAsync());
        TenantContext.Clear();
    }

    [Fact]
    public async Task Requests_OverTheRateAndBurst_Answer429WithRetryAfter_ThenRecover()
    {
        var health = await Task.WhenAll(Enumerable.Range(0, Burst + 3).Select(_ => fixture.Http.GetAsync("/health")));
        Assert.DoesNotContain(health, response => response.StatusCode == HttpStatusCode.TooManyRequests);

        var answers = new List<HttpResponseMessage>();
        while (answers.Count < 20 && answers.LastOrDefault()?.StatusCode != HttpStatusCode.TooManyRequests)
        {
            answers.Add(await fixture.Http.GetAsync("/users?limit=1"));
        }

        // The burst passes (and what the rate refilled meanwhile); then the tenant is refused.
        var limited = answers[^1];
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        Assert.True(answers.Count > Burst, $"only {answers.Count - 1} requests passed before a 429");
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await limited.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("urn:orleans-batch:problem:rate-limited", problem.GetProperty("type").GetString());
        Assert.Equal(429, problem.GetProperty("status").GetInt32());
        var retryAfter = Assert.Single(limited.Headers.GetValues("Retry-After"));
        Assert.InRange(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture), 1, 2);

        await Task.Delay(TimeSpan.FromSeconds(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await fixture.Http.GetAsync("/users?limit=1")).StatusCode);
    }

    private static async Task<BatchProgress> EndAsync(IBatchGrain batch)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await batch.WaitAsync(TimeSpan.FromSeconds(5)) is { } final)
            {
                return final;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "a batch did not end within 2 minutes");
        }
    }

    private static OperationRequest Read(int i) => new($"op{i}", "GET", "/users?limit=1", null, null, null);

    public sealed class QuotaFixture() : ClusterFixture(silos: 2, typeof(QuotaSilo))
    {
        /// <summary>Short, for the test of a dead caller; long enough that a loaded machine's late renewal loses nothing.</summary>
        public static readonly TimeSpan LeaseTimeout = TimeSpan.FromSeconds(6);
    }

    private sealed class QuotaSilo : ClusterFixture.SiloConfigurator
    {
        protected override IConfiguration Configuration { get; } = TestEnvironment.SiloConfigurationWith(new Dictionary<string, string?>
        {
            ["Tenancy:Quotas:InFlightOperations"] = InFlight.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tenancy:Quotas:RequestsPerSecond"] = Rate.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tenancy:Quotas:Burst"] = Burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Scheduling:LeaseTimeout"] = QuotaFixture.LeaseTimeout.ToString(),
            ["Scheduling:MaxWait"] = "00:00:10",
        });

        public override void Configure(ISiloBuilder siloBuilder)
        {
            base.Configure(siloBuilder);
            siloBuilder.AddIncomingGrainCallFilter<ChunkWatch>();
        }
    }

    /// <summary>Counts the chunks running at once per tenant, over every silo of a cluster, and where batches and chunks ran.</summary>
    private sealed class ChunkWatch(IOptions<ClusterOptions> cluster, ILocalSiloDetails silo) : IIncomingGrainCallFilter
    {
        private static readonly ConcurrentDictionary<string, Counts> Watches = new();

        public static Counts Start(string serviceId) => Watches[serviceId] = new Counts(() => Watches.TryRemove(serviceId, out _));

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            if (!Watches.TryGetValue(cluster.Value.ServiceId, out var counts) || TenantContext.Current is not { } tenant)
            {
                await context.Invoke();
                return;
            }

            if (context.InterfaceMethod?.DeclaringType == typeof(IBatchGrain))
            {
                counts.BatchSilos.TryAdd(silo.SiloAddress.ToString(), true);
            }

            if (context.InterfaceMethod?.DeclaringType != typeof(IChunkGrain))
            {
                await context.Invoke();
                return;
            }

            counts.ChunkSilos.TryAdd(silo.SiloAddress.ToString(), true);
            counts.Enter(tenant);
            try
            {
                await context.Invoke();
            }
            finally
            {
                counts.Leave(tenant);
            }
        }

        public sealed class Counts(Action stop) : IDisposable
        {
            private readonly ConcurrentDictionary<string, (int Now, int Peak)> _tenants = new();

            public ConcurrentDictionary<string, bool> BatchSilos { get; } = new();

            public ConcurrentDictionary<string, bool> ChunkSilos { get; } = new();

            public int Peak(string tenant) => _tenants.TryGetValue(tenant, out var counts) ? counts.Peak : 0;

            public void Enter(string tenant) => _tenants.AddOrUpdate(tenant, (1, 1), (_, c) => (c.Now + 1, Math.Max(c.Peak, c.Now + 1)));

            public void Leave(string tenant) => _tenants.AddOrUpdate(tenant, (0, 0), (_, c) => (c.Now - 1, c.Peak));

            public void Dispose() => stop();
        }
    }
}
