using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Tests.Infrastructure;
using static Orleans.Batch.Tests.Infrastructure.BatchLifecycle;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>How a batch is answered (modes, the sync timeout) and what its status reports while and after it runs.</summary>
[Collection(ClusterCollection.Name)]
public sealed class AsyncBatchTests(ClusterFixture fixture)
{
    private static readonly string[] AcceptedShape = ["batchId", "status", "statusUrl", "resultsUrl"];

    private static readonly string[] StatusShape =
        ["batchId", "status", "total", "completed", "succeeded", "failed", "cancelled", "progress", "concurrency", "createdAt", "updatedAt", "heartbeatAt", "stored"];

    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task AsyncMode_Returns202WithLocationAndLinks_ThenCompletes()
    {
        var email = Unique.Email("async");

        var response = await _api.PostAsync("/batch", new { mode = "async", operations = new[] { CreateUser("a", email) } });

        var batchId = AssertAccepted(response);
        var final = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal("completed", final.Str("status"));
        Assert.Equal(1, final.Int("succeeded"));
        var item = Assert.Single(await _api.AllResultsAsync(batchId));
        Assert.Equal(201, item.Int("status"));
        Assert.Equal(email, item.GetProperty("result").Str("email"));
    }

    [Fact]
    public async Task AutoMode_OverSyncThreshold_Returns202()
    {
        var token = Unique.Token();
        var operations = Enumerable.Range(0, 101).Select(i => CreateUser($"u{i}", $"auto{i}-{token}@example.com")).ToArray();

        var response = await _api.PostAsync("/batch", new { operations });

        var batchId = AssertAccepted(response);
        var final = await _api.WaitUntilEndedAsync(batchId);
        Assert.Equal("completed", final.Str("status"));
        Assert.Equal(101, final.Int("total"));
        Assert.Equal(101, final.Int("succeeded"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("auto")]
    public async Task AutoMode_AtSyncThreshold_AnswersWithResults(string? mode)
    {
        var token = Unique.Token();
        var operations = Enumerable.Range(0, 100)
            .Select(i => CreateUser($"u{i}", i == 42 ? "not-an-email" : $"at{i}-{token}@example.com")).ToArray();

        var response = await _api.PostAsync("/batch", mode is null ? new { operations } : new { mode, operations });

        var json = ApiAssert.Json(response, HttpStatusCode.MultiStatus);
        Assert.Null(response.Location);
        Assert.Equal("completed", json.Str("status"));
        var results = json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"u{i}"), results.Select(r => r.Str("id")));
        Assert.Equal(400, results[42].Int("status"));
        Assert.All(results.Where((_, i) => i != 42), r => Assert.Equal(201, r.Int("status")));
        Assert.Equal(99, json.GetProperty("summary").Int("succeeded"));
        Assert.Equal(1, json.GetProperty("summary").Int("failed"));
    }

    [Fact]
    public async Task SyncMode_OverSyncThreshold_IsAnsweredInTheRequest()
    {
        var token = Unique.Token();
        var operations = Enumerable.Range(0, 150).Select(i => CreateUser($"u{i}", $"sync{i}-{token}@example.com")).ToArray();

        var response = await _api.PostAsync("/batch", new { mode = "sync", operations });

        var json = ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Equal("completed", json.Str("status"));
        Assert.Equal(150, json.GetProperty("summary").Int("succeeded"));
        var results = json.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(0, 150).Select(i => $"u{i}"), results.Select(r => r.Str("id")));
        Assert.All(results, r => Assert.Equal(201, r.Int("status")));
        Assert.Equal(150, await fixture.Database.CountUsersAsync(Enumerable.Range(0, 150).Select(i => $"sync{i}-{token}@example.com")));
    }

    [Theory]
    [InlineData("\"fast\"")]
    [InlineData("\"\"")]
    [InlineData("\"1\"")]
    [InlineData("2")]
    [InlineData("true")]
    public async Task InvalidMode_Returns400NamingModeAndRunsNothing(string mode)
    {
        var email = Unique.Email("mode");

        var response = await _api.PostAsync("/batch",
            $"{{\"mode\":{mode},\"operations\":[{{\"id\":\"a\",\"method\":\"POST\",\"path\":\"/users\",\"body\":{{\"email\":\"{email}\",\"name\":\"X\"}}}}]}}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "mode");
        Assert.Equal(0, await fixture.Database.CountUsersAsync([email]));
    }

    [Theory]
    [InlineData("SYNC")]
    [InlineData("Async")]
    public async Task Mode_IsCaseInsensitive(string mode)
    {
        var response = await _api.PostAsync("/batch", new { mode, operations = new[] { CreateUser("a", Unique.Email("case")) } });

        Assert.Equal(mode.Equals("sync", StringComparison.OrdinalIgnoreCase) ? HttpStatusCode.OK : HttpStatusCode.Accepted, response.Status);
    }

    [Fact]
    public async Task SyncTimeout_AutoAnswers202_SyncAnswers408_AndBothBatchesStillComplete()
    {
        await using var gateway = await SecondGateway.StartAsync(fixture, new() { ["Batch:SyncTimeout"] = "00:00:00.200" });
        var api = new BatchApi(gateway.Http);
        await using var autoHold = await UserInsertHold.AcquireAsync(fixture.Database, Unique.Email("slow-auto"), fixture.Tenant);
        await using var syncHold = await UserInsertHold.AcquireAsync(fixture.Database, Unique.Email("slow-sync"), fixture.Tenant);

        var auto = await api.PostAsync("/batch", new { operations = new[] { CreateUser("a", autoHold.Email) } });
        var sync = await api.PostAsync("/batch", new { mode = "sync", operations = new[] { CreateUser("s", syncHold.Email) } });

        var autoId = AssertAccepted(auto);
        var problem = ApiAssert.Problem(sync, HttpStatusCode.RequestTimeout, "sync-timeout");
        var syncId = problem.Str("batchId")!;
        Assert.Equal($"/batch/{syncId}/status", problem.Str("statusUrl"));
        Assert.Equal($"/batch/{syncId}/results", problem.Str("resultsUrl"));
        Assert.Equal("processing", (await _api.StatusAsync(syncId)).Str("status"));

        await autoHold.ReleaseAsync();
        await syncHold.ReleaseAsync();
        foreach (var (batchId, email) in new[] { (autoId, autoHold.Email), (syncId, syncHold.Email) })
        {
            var final = await _api.WaitUntilEndedAsync(batchId);
            Assert.Equal("completed", final.Str("status"));
            Assert.Equal(1, final.Int("succeeded"));
            var item = Assert.Single(await _api.AllResultsAsync(batchId));
            Assert.Equal(201, item.Int("status"));
            Assert.Equal(1, await fixture.Database.CountUsersAsync([email]));
        }
    }

    [Fact]
    public async Task Status_OfCompletedBatch_HasEveryFieldAndConsistentCounts()
    {
        var response = await _api.BatchAsync(CreateUser("a", Unique.Email()), CreateUser("b", "bad"), CreateUser("c", Unique.Email()));
        var batchId = response.BatchId();

        var status = await _api.StatusAsync(batchId);

        // An ended batch also shows when it is deleted.
        Assert.Equal(StatusShape.Append("expiresAt").Order(StringComparer.Ordinal), ApiAssert.PropertyNames(status).Order(StringComparer.Ordinal));
        Assert.Equal(batchId, status.Str("batchId"));
        Assert.Equal("completed", status.Str("status"));
        Assert.Equal((3, 3, 2, 1, 0), (status.Int("total"), status.Int("completed"), status.Int("succeeded"), status.Int("failed"), status.Int("cancelled")));
        Assert.Equal(1.0, status.GetProperty("progress").GetDouble());
        Assert.Equal(8, status.Int("concurrency"));
        var createdAt = status.GetProperty("createdAt").GetDateTimeOffset();
        var updatedAt = status.GetProperty("updatedAt").GetDateTimeOffset();
        var heartbeatAt = status.GetProperty("heartbeatAt").GetDateTimeOffset();
        Assert.InRange(createdAt, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.True(createdAt <= heartbeatAt && heartbeatAt <= updatedAt, $"{createdAt} <= {heartbeatAt} <= {updatedAt}");
    }

    [Fact]
    public async Task Status_WhilePolling_ProgressNeverDecreases_AndResultsAreReadableBeforeTheEnd()
    {
        const int total = 500;
        const int blocked = 250;
        var token = Unique.Token();
        var emails = Enumerable.Range(0, total).Select(i => $"poll{i}-{token}@example.com").ToList();
        await using var hold = await UserInsertHold.AcquireAsync(fixture.Database, emails[blocked], fixture.Tenant);

        var response = await _api.PostAsync("/batch", new
        {
            mode = "async", concurrency = 1, operations = emails.Select((e, i) => CreateUser($"p{i}", e)).ToArray(),
        });
        var batchId = AssertAccepted(response);
        await hold.WaitUntilBlockingAsync(fixture.Database);

        // Items run one at a time in order, so while item 250 waits, the checkpoint reaches exactly 250 done.
        var seen = new List<JsonElement>();
        var midway = await _api.WaitForAsync(batchId, s => s.Int("completed") == blocked, seen);
        Assert.Equal("processing", midway.Str("status"));
        Assert.Equal(0.5, midway.GetProperty("progress").GetDouble());

        var page = ApiAssert.Json(await _api.GetAsync($"/batch/{batchId}/results?limit=100"), HttpStatusCode.OK);
        Assert.Equal("processing", page.Str("status"));
        Assert.Equal(total, page.Int("total"));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"p{i}"), page.GetProperty("items").EnumerateArray().Select(i => i.Str("id")));
        Assert.All(page.GetProperty("items").EnumerateArray(), i => Assert.Equal("succeeded", i.Str("outcome")));
        Assert.Equal(blocked, (await _api.AllResultsAsync(batchId)).Count);

        await hold.ReleaseAsync();
        var final = await _api.WaitUntilEndedAsync(batchId, seen);

        Assert.Equal("completed", final.Str("status"));
        Assert.Equal((total, total, total), (final.Int("total"), final.Int("completed"), final.Int("succeeded")));
        Assert.Equal(1.0, final.GetProperty("progress").GetDouble());
        var previous = 0.0;
        foreach (var status in seen)
        {
            var completed = status.Int("succeeded") + status.Int("failed") + status.Int("cancelled");
            Assert.Equal(completed, status.Int("completed"));
            Assert.Equal(Math.Round((double)completed / total, 4), status.GetProperty("progress").GetDouble());
            Assert.True(status.GetProperty("progress").GetDouble() >= previous, $"progress fell from {previous} to {status.GetProperty("progress")}");
            previous = status.GetProperty("progress").GetDouble();
        }
    }

    [Theory]
    [InlineData("status")]
    [InlineData("results")]
    public async Task Status_UnknownBatch_Returns404Problem(string what)
    {
        var batchId = Guid.NewGuid().ToString("N");

        var problem = ApiAssert.Problem(await _api.GetAsync($"/batch/{batchId}/{what}"), HttpStatusCode.NotFound, "batch-not-found");

        Assert.Equal(batchId, problem.Str("batchId"));
    }

    /// <summary>Asserts a 202 with the status URL as Location and exactly batchId, status, statusUrl and resultsUrl; returns the id.</summary>
    private static string AssertAccepted(ApiResponse response)
    {
        var json = ApiAssert.Json(response, HttpStatusCode.Accepted);
        var batchId = json.Str("batchId")!;
        Assert.Matches("^[0-9a-f]{32}$", batchId);
        Assert.Equal($"/batch/{batchId}/status", response.Location);
        Assert.Equal(AcceptedShape, ApiAssert.PropertyNames(json));
        Assert.Equal($"/batch/{batchId}/status", json.Str("statusUrl"));
        Assert.Equal($"/batch/{batchId}/results", json.Str("resultsUrl"));
        Assert.Contains(json.Str("status"), new[] { "processing", "completed" });
        return batchId;
    }

    /// <summary>Another gateway on the same cluster, with some options of its own.</summary>
    private sealed class SecondGateway : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private SecondGateway(WebApplication app, HttpClient http)
        {
            _app = app;
            Http = http;
        }

        public HttpClient Http { get; }

        public static async Task<SecondGateway> StartAsync(ClusterFixture fixture, Dictionary<string, string?> overrides)
        {
            var configuration = new Dictionary<string, string?>
            {
                ["Urls"] = "http://127.0.0.1:0",
                ["ConnectionStrings:Redis"] = TestEnvironment.Redis,
                ["Orleans:ClusterId"] = fixture.Cluster.Options.ClusterId,
                ["Orleans:ServiceId"] = fixture.Cluster.Options.ServiceId,
                ["Batch:MaxOperations"] = ClusterFixture.MaxOperations.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Logging:LogLevel:Default"] = "Warning",
            };
            foreach (var (key, value) in overrides)
            {
                configuration[key] = value;
            }

            var app = GatewayApp.Build(GatewayApp.CreateBuilder([], configuration));
            using var startTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await app.StartAsync(startTimeout.Token);
            var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
            var http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(1) };
            http.DefaultRequestHeaders.Authorization = fixture.Http.DefaultRequestHeaders.Authorization;
            return new SecondGateway(app, http);
        }

        public async ValueTask DisposeAsync()
        {
            Http.Dispose();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
