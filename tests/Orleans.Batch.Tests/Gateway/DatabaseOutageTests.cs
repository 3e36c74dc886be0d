using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.Runtime;
using Xunit.Abstractions;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>
/// A cluster of its own whose silos reach PostgreSQL through a <see cref="PostgresProxy"/>, which the tests cut (every
/// connection ended as a shutdown ends it, new ones refused) and restore. Its batches checkpoint every 200 ms, count as
/// stalled after 2 s without one, are checked by their reminder every second and give up after 2 resumes without
/// progress; a chunk that fails otherwise is retried for 15 s. The long outage outlasts all of these.
/// </summary>
public sealed class DatabaseOutageTests(DatabaseOutageTests.OutageFixture fixture, ITestOutputHelper output) : IClassFixture<DatabaseOutageTests.OutageFixture>
{
    private const int Creates = 400;
    private const int HeldItem = 120;
    private const string RetryAfter = "7";
    private static readonly TimeSpan ShortOutage = TimeSpan.FromSeconds(5);

    /// <summary>Longer than a chunk's retries (15 s), the heartbeat timeout (2 s) and the resumes before a batch fails (2 x 1 s).</summary>
    private static readonly TimeSpan LongOutage = TimeSpan.FromSeconds(20);

    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task Batch_DatabaseAwayForSeconds_WaitsSayingSo_ThenCompletesEveryItemOnce() => await RunThroughOutageAsync(ShortOutage);

    [Fact]
    public async Task Batch_DatabaseAwayLongerThanEveryRetryAndTimeout_WaitsSayingSo_ThenCompletesEveryItemOnce() => await RunThroughOutageAsync(LongOutage);

    [Fact]
    public async Task Batch_ActivatedWhileDatabaseAway_StatusIs503_ThenResumesOnceBackWithoutBurningAttempts()
    {
        var run = await StartHeldBatchAsync();
        await CutAsync();
        try
        {
            await run.Hold.ReleaseAsync();
            await WaitForWaitingAsync(run.BatchId);

            // Its activation goes; each status, and each tick of its reminder, then activates it again and cannot read its state.
            await fixture.Grains.GetGrain<IManagementGrain>(0).DeactivateGrain(fixture.Grains.GetGrain<IBatchGrain>(run.BatchId).GetGrainId());
            var clock = Stopwatch.StartNew();
            while (true)
            {
                var status = await _api.GetAsync($"/batch/{run.BatchId}/status");
                if (status.Status == HttpStatusCode.ServiceUnavailable)
                {
                    AssertDatabaseUnavailable(status);
                    break;
                }

                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"The batch was still answered from its activation: {status.Text}");
                await Task.Delay(50);
            }

            // More reminder ticks than the resumes a batch may make without progress.
            await Task.Delay(TimeSpan.FromSeconds(4));
            AssertDatabaseUnavailable(await _api.GetAsync($"/batch/{run.BatchId}/status"));
        }
        finally
        {
            await OutageFixture.Proxy.RestoreAsync();
        }

        var final = await _api.WaitForAsync(run.BatchId, s => BatchLifecycle.TerminalStatuses.Contains(s.Str("status")), timeout: TimeSpan.FromSeconds(30));
        await AssertCompletedOnceAsync(run, final);
        Assert.Equal([$"Batch {run.BatchId} resumed (activated while processing), attempt 1"], BatchLog.Of(run.BatchId, BatchLog.Resumed));
        Assert.Empty(BatchLog.Of(run.BatchId, BatchLog.GaveUp));
    }

    [Fact]
    public async Task Routes_WhileDatabaseAway_Answer503DatabaseUnavailableWithRetryAfter_AndWorkOnceItIsBack()
    {
        var unknown = Guid.NewGuid().ToString("N");
        var email = Unique.Email("outage");
        var requests = new (string Name, Func<HttpRequestMessage> Build)[]
        {
            ("submit", () => Json(HttpMethod.Post, "/batch", new { operations = new[] { BatchLifecycle.CreateUser("a", email) } })),
            ("submit with key", () => Keyed(Json(HttpMethod.Post, "/batch", new { operations = new[] { BatchLifecycle.CreateUser("a", Unique.Email()) } }))),
            ("import", () => new HttpRequestMessage(HttpMethod.Post, "/batch/users/import")
            {
                Content = new StringContent($"email,name\n{Unique.Email()},Nobody\n", Encoding.UTF8, "text/csv"),
            }),
            ("status of an unknown id", () => new HttpRequestMessage(HttpMethod.Get, $"/batch/{unknown}/status")),
            ("results of an unknown id", () => new HttpRequestMessage(HttpMethod.Get, $"/batch/{unknown}/results")),
            ("cancel of an unknown id", () => new HttpRequestMessage(HttpMethod.Post, $"/batch/{unknown}/cancel")),
            ("retry of an unknown id", () => new HttpRequestMessage(HttpMethod.Post, $"/batch/{unknown}/retry")),
            ("create a user", () => Json(HttpMethod.Post, "/users", new { email = Unique.Email(), name = "Nobody" })),
            ("read a user", () => new HttpRequestMessage(HttpMethod.Get, "/users/1")),
        };

        await CutAsync();
        try
        {
            foreach (var (name, build) in requests)
            {
                var response = await _api.SendAsync(build());
                output.WriteLine($"{name}: {(int)response.Status} {response.Text}");
                AssertDatabaseUnavailable(response, name);
            }

            // What crosses to the gateway holds nothing of Npgsql, which a real gateway (a process without it) could not read.
            await AssertReadableUnavailableAsync(() => fixture.Grains.GetGrain<IBatchGrain>(unknown).GetStatusAsync());
            TenantContext.Set(TenantContext.Default);
            await AssertReadableUnavailableAsync(() => fixture.Grains.GetGrain<IOperationGrain>(0).ExecuteAsync(
                new OperationRequest("read", "GET", "/users/1", null, null, null)));
        }
        finally
        {
            await OutageFixture.Proxy.RestoreAsync();
        }

        // Nothing of what was answered 503 was stored, and everything works again once the database is back.
        Assert.Equal(0, await fixture.Database.CountUsersAsync([email]));
        var clock = Stopwatch.StartNew();
        while ((await _api.GetAsync("/health")).Status != HttpStatusCode.OK)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), "The service did not become healthy after the database came back.");
            await Task.Delay(100);
        }

        var submitted = ApiAssert.Json(await _api.SendAsync(requests[0].Build()), HttpStatusCode.OK);
        Assert.Equal("completed", submitted.Str("status"));
        Assert.Equal(1, await fixture.Database.CountUsersAsync([email]));
        ApiAssert.Problem(await _api.SendAsync(requests[3].Build()), HttpStatusCode.NotFound, "batch-not-found");
        ApiAssert.Problem(await _api.SendAsync(requests[4].Build()), HttpStatusCode.NotFound, "batch-not-found");
        ApiAssert.Json(await _api.SendAsync(requests[7].Build()), HttpStatusCode.Created);
    }

    /// <summary>
    /// A batch whose run is in flight when the database goes: its status says it waits for the database, and no longer once
    /// it is back; it then completes with every item applied once, and its outage cost it no resume and no attempt.
    /// </summary>
    private async Task RunThroughOutageAsync(TimeSpan outage)
    {
        var run = await StartHeldBatchAsync();
        var clock = Stopwatch.StartNew();
        await CutAsync();
        JsonElement waiting;
        try
        {
            await run.Hold.ReleaseAsync();
            waiting = await WaitForWaitingAsync(run.BatchId);
            var results = await _api.GetAsync($"/batch/{run.BatchId}/results");
            AssertDatabaseUnavailable(results, "results of the waiting batch");
            await Task.Delay(outage > clock.Elapsed ? outage - clock.Elapsed : TimeSpan.Zero);

            // Still waiting, however long it lasts: neither failed nor resumed.
            var still = await _api.StatusAsync(run.BatchId);
            Assert.Equal(("processing", "database"), (still.Str("status"), still.Str("waitingFor")));
            Assert.Equal(waiting.GetProperty("waitingSince").GetDateTimeOffset(), still.GetProperty("waitingSince").GetDateTimeOffset());
        }
        finally
        {
            await OutageFixture.Proxy.RestoreAsync();
        }

        var backAt = clock.Elapsed;
        var moving = await _api.WaitForAsync(run.BatchId, s => !s.TryGetProperty("waitingFor", out _), timeout: TimeSpan.FromSeconds(10));
        var final = await _api.WaitForAsync(run.BatchId, s => BatchLifecycle.TerminalStatuses.Contains(s.Str("status")), timeout: TimeSpan.FromSeconds(30));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"away {backAt.TotalSeconds:F1} s with {waiting.Int("completed")}/{Creates} done; moving again at {clock.Elapsed.TotalSeconds:F1} s ({moving.Int("completed")} done); {final.Str("status")} at {clock.Elapsed.TotalSeconds:F1} s"));
        foreach (var id in new[] { BatchLog.RunFailed, BatchLog.Resumed, BatchLog.Stalled, BatchLog.WaitingForDatabase, BatchLog.DatabaseBack })
        {
            BatchLog.Of(run.BatchId, id).ToList().ForEach(m => output.WriteLine($"{id}: {m}"));
        }

        Assert.True(waiting.Int("completed") < Creates, "Every item had finished before the database went; the outage tested nothing.");
        await AssertCompletedOnceAsync(run, final);
        Assert.Empty(BatchLog.Of(run.BatchId, BatchLog.Resumed));
        Assert.Empty(BatchLog.Of(run.BatchId, BatchLog.Stalled));
        Assert.NotEmpty(BatchLog.Of(run.BatchId, BatchLog.DatabaseBack));
    }

    /// <summary>
    /// Starts a batch of creates at concurrency 1 (chunks of 50) whose item <see cref="HeldItem"/>'s email is held by an
    /// uncommitted insert on a connection of the test's own: returns once the run waits on it, mid-batch.
    /// </summary>
    private async Task<HeldRun> StartHeldBatchAsync()
    {
        var token = Unique.Token();
        var emails = Enumerable.Range(0, Creates).Select(i => $"outage{i}-{token}@example.com").ToList();
        var hold = await UserInsertHold.AcquireAsync(fixture.Database, emails[HeldItem]);
        try
        {
            var accepted = await _api.PostAsync("/batch", new
            {
                mode = "async",
                concurrency = 1,
                operations = emails.Select((email, i) => BatchLifecycle.CreateUser($"u{i}", email)),
            });
            Assert.Equal(HttpStatusCode.Accepted, accepted.Status);
            await hold.WaitUntilBlockingAsync(fixture.Database);
            return new HeldRun(accepted.BatchId(), emails, hold);
        }
        catch
        {
            await hold.DisposeAsync();
            throw;
        }
    }

    private async Task CutAsync()
    {
        await OutageFixture.Proxy.CutAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _api.GetAsync("/health")).Status);
    }

    /// <summary>Polls the status until the batch says it waits for the database; returns that status.</summary>
    private async Task<JsonElement> WaitForWaitingAsync(string batchId)
    {
        var status = await _api.WaitForAsync(batchId, s => s.TryGetProperty("waitingFor", out _), timeout: TimeSpan.FromSeconds(10));
        Assert.Equal(("processing", "database"), (status.Str("status"), status.Str("waitingFor")));
        var since = status.GetProperty("waitingSince").GetDateTimeOffset();
        Assert.InRange(since, DateTimeOffset.UtcNow - TimeSpan.FromSeconds(10), DateTimeOffset.UtcNow);
        return status;
    }

    /// <summary>Completed with every item succeeded, answered 201 with the id of the one row that holds its email.</summary>
    private async Task AssertCompletedOnceAsync(HeldRun run, JsonElement final)
    {
        Assert.Equal("completed", final.Str("status"));
        Assert.Equal((Creates, Creates, 0), (final.Int("total"), final.Int("succeeded"), final.Int("failed")));
        Assert.False(final.TryGetProperty("waitingFor", out _), $"The completed batch still waits: {final}");
        var results = await _api.AllResultsAsync(run.BatchId);
        Assert.Equal(Enumerable.Range(0, Creates).Select(i => $"u{i}"), results.Select(r => r.Str("id")));
        Assert.All(results, r => Assert.Equal(201, r.Int("status")));

        await using var command = fixture.Database.CreateCommand("SELECT lower(email), id FROM users WHERE lower(email) = ANY($1) ORDER BY id");
        command.Parameters.AddWithValue(run.Emails.ToArray());
        var stored = new Dictionary<string, long>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stored.Add(reader.GetString(0), reader.GetInt64(1));
            }
        }

        Assert.Equal(Creates, stored.Count);
        Assert.Equal(run.Emails.Select(e => stored[e]), results.Select(r => r.GetProperty("result").GetProperty("id").GetInt64()));
    }

    private static async Task AssertReadableUnavailableAsync(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<DatabaseUnavailableException>(call);
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            Assert.NotEqual("Npgsql", inner.GetType().Assembly.GetName().Name);
        }
    }

    private static void AssertDatabaseUnavailable(ApiResponse response, string? what = null)
    {
        Assert.True(response.Status == HttpStatusCode.ServiceUnavailable, $"{what}: {(int)response.Status} {response.Text}");
        ApiAssert.Problem(response, HttpStatusCode.ServiceUnavailable, "database-unavailable");
        Assert.Equal(RetryAfter, response.RetryAfter);
    }

    private static HttpRequestMessage Json(HttpMethod method, string path, object body) =>
        new(method, path) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };

    private static HttpRequestMessage Keyed(HttpRequestMessage request)
    {
        request.Headers.Add("Idempotency-Key", Unique.Token());
        return request;
    }

    private sealed record HeldRun(string BatchId, IReadOnlyList<string> Emails, UserInsertHold Hold);

    public sealed class OutageFixture() : ClusterFixture(silos: 2, typeof(ProxiedSilo), new Dictionary<string, string?> { ["Batch:RetryAfterSeconds"] = RetryAfter })
    {
        public static PostgresProxy Proxy { get; } = new(TestEnvironment.Postgres);
    }

    private sealed class ProxiedSilo : ClusterFixture.SiloConfigurator
    {
        protected override IConfiguration Configuration { get; } = TestEnvironment.SiloConfigurationWith(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = OutageFixture.Proxy.ConnectionString,
            ["Database:FirstProbeInterval"] = "00:00:00.100",
            ["Database:MaxProbeInterval"] = "00:00:01",
            ["Batch:HeartbeatInterval"] = "00:00:00.200",
            ["Batch:HeartbeatTimeout"] = "00:00:02",
            ["Batch:ResumeCheckPeriod"] = "00:00:01",
            ["Batch:MaxResumeAttempts"] = "2",
        });

        public override void Configure(ISiloBuilder siloBuilder)
        {
            base.Configure(siloBuilder);
            siloBuilder.Services.AddSingleton<ILoggerProvider, BatchLog>();
        }
    }
}
