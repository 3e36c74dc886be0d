using System.Diagnostics.Metrics;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Grains;

/// <summary>Many large batches at once against a resource pool of 10 connections, on a cluster of its own.</summary>
public sealed class PoolPressureTests(PoolPressureTests.SmallPoolFixture fixture) : IClassFixture<PoolPressureTests.SmallPoolFixture>
{
    private const int Batches = 20;
    private const int Operations = 600;

    [Fact]
    public async Task TwentyLargeBatches_OnAPoolOfTen_AllCompleteWithNothingLost()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var token = Unique.Token();
        var grains = Enumerable.Range(0, Batches).Select(b => fixture.Grains.GetGrain<IBatchGrain>($"pool-{token}-{b}")).ToList();
        using var pool = new PoolWatch(SmallPool);

        await Task.WhenAll(grains.Select((grain, b) => grain.StartAsync(new BatchRequest(
            [.. Enumerable.Range(0, Operations).Select(i => Mixed(b, i, token))], Concurrency: 16))));
        var finals = await Task.WhenAll(grains.Select(WaitAsync));

        Assert.True(pool.PeakUsed > 0, "the pool's own metrics must have been observed");
        Assert.InRange(pool.PeakUsed, 1, 6);
        Assert.Equal(0, pool.PeakPending);
        Assert.All(finals, final =>
        {
            Assert.Equal(BatchStatus.Completed, final.Status);
            Assert.Equal(Operations, final.Succeeded);
            Assert.Equal(0, final.Failed);
        });
        await using var connection = await fixture.Database.OpenConnectionAsync();
        var created = await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM users WHERE email LIKE @pattern", new { pattern = $"pool-{token}-%" });
        Assert.Equal(Batches * Operations / 2, created);
    }

    /// <summary>Creates (chunked) alternate with reads (one by one), so both paths compete for the pool.</summary>
    private static OperationRequest Mixed(int batch, int i, string token) => i % 2 == 0
        ? new($"op{i}", "POST", "/users", JsonSerializer.Serialize(new { email = $"pool-{token}-{batch}-{i}@example.com", name = "Pool" }), null, null)
        : new($"op{i}", "GET", "/users?limit=1", null, null, null);

    private static async Task<BatchProgress> WaitAsync(IBatchGrain grain)
    {
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            if (await grain.WaitAsync(TimeSpan.FromSeconds(5)) is { } final)
            {
                return final;
            }
        }

        throw new TimeoutException("A batch did not finish within 3 minutes.");
    }

    private static readonly string SmallPool =
        new NpgsqlConnectionStringBuilder(TestEnvironment.Postgres) { MaxPoolSize = 10, Timeout = 5, ApplicationName = "pool-pressure" }.ConnectionString;

    public sealed class SmallPoolFixture() : ClusterFixture(silos: 2, typeof(SmallPoolSilo));

    private sealed class SmallPoolSilo : ClusterFixture.SiloConfigurator
    {
        protected override IConfiguration Configuration { get; } = new ConfigurationBuilder()
            .AddConfiguration(TestEnvironment.SiloConfiguration)
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Database:ConnectionString"] = SmallPool,
                ["Database:MaxConcurrency"] = "6",
                ["Database:ReservedConnections"] = "4",
            })
            .Build();
    }

    /// <summary>
    /// The most connections of one silo's resource pool in use at once, and the most requests that waited for one,
    /// from Npgsql's own metrics (each silo has its own pool; the peaks are per pool).
    /// </summary>
    private sealed class PoolWatch : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _poll;
        private readonly Lock _gate = new();

        public PoolWatch(string pool)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Npgsql" && instrument.Name is "db.client.connection.count" or "db.client.connection.npgsql.pending_requests")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument.Name, value, tags, pool));
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument.Name, value, tags, pool));
            _listener.Start();
            _poll = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    _listener.RecordObservableInstruments();
                    await Task.Delay(5);
                }
            });
        }

        public long PeakUsed { get; private set; }

        public long PeakPending { get; private set; }

        public void Dispose()
        {
            _stop.Cancel();
            _poll.Wait();
            _listener.Dispose();
            _stop.Dispose();
        }

        private void Record(string instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, string pool)
        {
            string? name = null;
            string? state = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "db.client.connection.pool.name")
                {
                    name = tag.Value as string;
                }
                else if (tag.Key == "db.client.connection.state")
                {
                    state = tag.Value as string;
                }
            }

            if (name is null || !name.Contains("pool-pressure", StringComparison.Ordinal) || !pool.Contains("pool-pressure", StringComparison.Ordinal))
            {
                return;
            }

            lock (_gate)
            {
                if (instrument == "db.client.connection.count" && state == "used")
                {
                    PeakUsed = Math.Max(PeakUsed, value);
                }
                else if (instrument == "db.client.connection.npgsql.pending_requests")
                {
                    PeakPending = Math.Max(PeakPending, value);
                }
            }
        }
    }
}
