using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Grains.Diagnostics;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.TestingHost;

namespace Orleans.Batch.Tests.Grains;

[Collection(ClusterCollection.Name)]
public sealed class BatchGrainTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Run_FansOutEveryOperation_ResultsInRequestOrder()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var emails = Enumerable.Range(0, 40).Select(i => Unique.Email($"fan{i}")).ToList();
        var operations = emails.Select((e, i) => CreateUser($"op{i}", e)).ToList();

        var outcome = await RunAsync(operations, concurrency: 8);

        Assert.Equal(BatchStatus.Completed, outcome.Progress.Status);
        Assert.Equal(40, outcome.Progress.Succeeded);
        Assert.Equal(operations.Select(o => o.Id), outcome.Results.Select(r => r.Id));
        for (var i = 0; i < emails.Count; i++)
        {
            Assert.Equal(201, outcome.Results[i].Status);
            Assert.Equal(emails[i], JsonDocument.Parse(outcome.Results[i].Body!).RootElement.GetProperty("email").GetString());
        }
    }

    [Fact]
    public async Task Run_NeverExceedsConcurrencyQuota()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var userId = await new BatchApi(fixture.Http).CreateUserAsync();
        using var peak = new InFlightPeak(MeterFactories());
        // A read between every two patches keeps each item its own unit of work: consecutive patches would run in chunks.
        var operations = Enumerable.Range(0, 200)
            .Select(i => i % 2 == 0
                ? new OperationRequest($"q{i}", "PATCH", $"/users/{userId}", $"{{\"name\":\"Quota {i}\"}}", null, null)
                : new OperationRequest($"q{i}", "GET", $"/users/{userId}", null, null, null))
            .ToList();

        var outcome = await RunAsync(operations, concurrency: 4);

        Assert.Equal(200, outcome.Progress.Succeeded);
        Assert.Equal(4, outcome.Progress.Concurrency);
        Assert.InRange(peak.Value, 2, 4);
    }

    [Fact]
    public async Task Run_ConsecutiveCreates_RunInChunksWithExactResults()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var emails = Enumerable.Range(0, 300).Select(i => Unique.Email($"chunk{i}")).ToList();
        var operations = emails.Select((e, i) => CreateUser($"c{i}", i % 50 == 49 ? emails[i - 1].ToUpperInvariant() : e)).ToList();
        operations[10] = CreateUser("c10", "not-an-email");
        using var peak = new InFlightPeak(MeterFactories());

        var outcome = await RunAsync(operations, concurrency: 2);

        var expected = operations.Select((_, i) => i == 10 ? 400 : i % 50 == 49 ? 409 : 201).ToList();
        Assert.Equal(expected, outcome.Results.Select(r => r.Status));
        Assert.Equal(operations.Select(o => o.Id), outcome.Results.Select(r => r.Id));
        Assert.True(peak.Value > 2, "creates should run in chunks of many operations");
    }

    [Fact]
    public async Task Run_FailingItems_DoNotBlockOrUndoOthers()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var taken = Unique.Email("taken");
        var operations = new List<OperationRequest>
        {
            CreateUser("a", taken),
            CreateUser("b", "not-an-email"),
            CreateUser("c", taken.ToUpperInvariant()),
            new("d", "GET", "/users/999999999999", null, null, null),
            CreateUser("e", Unique.Email("after")),
        };

        var outcome = await RunAsync(operations, concurrency: 1);

        Assert.Equal([201, 400, 409, 404, 201], outcome.Results.Select(r => r.Status));
        Assert.Equal(2, outcome.Progress.Succeeded);
        Assert.Equal(3, outcome.Progress.Failed);
    }

    [Fact]
    public async Task Run_ConsecutiveDeletes_RunInChunksWithExactResults()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var created = await RunAsync([.. Enumerable.Range(0, 120).Select(i => CreateUser($"u{i}", Unique.Email($"del{i}")))], concurrency: 2);
        var ids = created.Results.Select(r => JsonDocument.Parse(r.Body!).RootElement.GetProperty("id").GetInt64()).ToList();
        var deletes = ids.Select((id, i) => new OperationRequest($"d{i}", "DELETE", $"/users/{id}", null, null, null)).ToList();
        deletes.Insert(60, new OperationRequest("missing", "DELETE", "/users/987654321987", null, null, null));
        deletes.Insert(61, new OperationRequest("again", "DELETE", $"/users/{ids[0]}", null, null, null));

        var outcome = await RunAsync(deletes, concurrency: 1);

        var expected = deletes.Select(d => d.Id is "missing" or "again" ? 404 : 204).ToList();
        Assert.Equal(expected, outcome.Results.Select(r => r.Status));
        var api = new BatchApi(fixture.Http);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await api.GetAsync($"/users/{ids[^1]}")).Status);
    }

    [Fact]
    public async Task Start_SameBatchTwice_RunsOnce()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var batchId = Guid.NewGuid().ToString("N");
        var email = Unique.Email("once");
        var grain = fixture.Grains.GetGrain<IBatchGrain>(batchId);
        var request = new BatchRequest([CreateUser("only", email)], null);

        await grain.StartAsync(request);
        await grain.StartAsync(request);
        var outcome = await WaitAsync(grain);

        Assert.Equal(1, outcome.Progress.Total);
        Assert.Equal(201, Assert.Single(outcome.Results).Status);
    }

    [Fact]
    public async Task Start_ConcurrencyOverMaximum_IsClamped()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var outcome = await RunAsync([CreateUser("x", Unique.Email("clamp"))], concurrency: 10_000);

        Assert.Equal(32, outcome.Progress.Concurrency);
    }

    [Fact]
    public async Task Start_NoConcurrency_UsesDefault()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var outcome = await RunAsync([CreateUser("x", Unique.Email("default"))], concurrency: null);

        Assert.Equal(8, outcome.Progress.Concurrency);
    }

    [Fact]
    public async Task Status_UnknownBatch_IsNull()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var grain = fixture.Grains.GetGrain<IBatchGrain>($"missing-{Guid.NewGuid():N}");

        Assert.Null(await grain.GetStatusAsync());
        Assert.Null(await grain.GetResultsAsync(-1, 10, null));
    }

    [Fact]
    public async Task Results_AfterDeactivation_AreReadFromStorage()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var batchId = Guid.NewGuid().ToString("N");
        var grain = fixture.Grains.GetGrain<IBatchGrain>(batchId);
        await grain.StartAsync(new BatchRequest([CreateUser("p1", Unique.Email("p")), CreateUser("p2", "bad")], null));
        await WaitAsync(grain);

        await fixture.Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        var page = await grain.GetResultsAsync(0, 5, null);

        Assert.NotNull(page);
        Assert.Equal(BatchStatus.Completed, page.Progress.Status);
        Assert.Equal("p2", Assert.Single(page.Items).Result.Id);
        Assert.Null(page.NextAfter);
    }

    private static OperationRequest CreateUser(string id, string email) =>
        new(id, "POST", "/users", JsonSerializer.Serialize(new { email, name = "Batch User" }), null, null);

    private async Task<Finished> RunAsync(IReadOnlyList<OperationRequest> operations, int? concurrency)
    {
        var grain = fixture.Grains.GetGrain<IBatchGrain>(Guid.NewGuid().ToString("N"));
        // The batch acts for the tenant the fixture's HTTP client (which made its users) acts for.
        TenantContext.Set(fixture.Tenant);
        await grain.StartAsync(new BatchRequest(operations, concurrency));
        return await WaitAsync(grain);
    }

    private static async Task<Finished> WaitAsync(IBatchGrain grain)
    {
        for (var i = 0; i < 30; i++)
        {
            if (await grain.WaitAsync(TimeSpan.FromSeconds(5)) is { } progress)
            {
                var page = await grain.GetResultsAsync(-1, 10_000, null);
                return new Finished(progress, [.. page!.Items.Select(item => item.Result)]);
            }
        }

        throw new TimeoutException("The batch did not finish in time.");
    }

    /// <summary>The meter factories of this fixture's silos: other clusters in the test process have meters of the same name.</summary>
    private IReadOnlySet<object> MeterFactories() => fixture.Cluster.GetActiveSilos()
        .Select(silo => (object)Assert.IsType<InProcessSiloHandle>(silo).SiloHost.Services.GetRequiredService<IMeterFactory>())
        .ToHashSet();

    /// <summary>The highest number of operations in flight at once across the cluster, from the silos' own meter.</summary>
    private sealed class InFlightPeak : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Lock _gate = new();
        private long _current;

        public InFlightPeak(IReadOnlySet<object> meterFactories)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == BatchMetrics.MeterName && instrument.Name == BatchMetrics.OperationsInFlight
                    && instrument.Meter.Scope is { } scope && meterFactories.Contains(scope))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, delta, _, _) =>
            {
                lock (_gate)
                {
                    _current += delta;
                    Value = Math.Max(Value, _current);
                }
            });
            _listener.Start();
        }

        public long Value { get; private set; }

        public void Dispose() => _listener.Dispose();
    }

    private sealed record Finished(BatchProgress Progress, IReadOnlyList<OperationResult> Results);
}
