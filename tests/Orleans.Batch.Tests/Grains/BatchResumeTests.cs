using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Orleans.Batch.Tests.Grains;

/// <summary>
/// A cluster of its own whose batches checkpoint every 200 ms, count as stalled after 1 s without a checkpoint, are
/// checked by their reminder every second and give up after <see cref="MaxResumeAttempts"/> resumes without progress.
/// A batch is stalled for real: the test holds an uncommitted row of <c>batch_results</c> for its first item (a read,
/// whose result only a checkpoint stores), so the run's checkpoint waits on the row's key and its heartbeat goes stale
/// while the items after it run on until the results not yet written fill up, leaving the rest pending.
/// </summary>
public sealed class BatchResumeTests(BatchResumeTests.ResumeFixture fixture, ITestOutputHelper output) : IClassFixture<BatchResumeTests.ResumeFixture>
{
    private const int MaxResumeAttempts = 3;
    private const int Creates = 19;
    private const int Total = Creates + 1;
    private static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan UploadTimeout = TimeSpan.FromSeconds(2);

    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task ReceiveReminder_HeartbeatOlderThanTimeout_RunsBatchAgainAndAppliesEveryItemOnce()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(fixture.Tenant);
        var clock = Stopwatch.StartNew();
        var (run, hold) = await StartStalledAsync("stale");
        await using var holding = hold;

        var stalled = await WaitForEventAsync(run, BatchLog.Resumed, 1, TimeSpan.FromSeconds(15));
        var progress = await run.Grain.GetStatusAsync();
        Assert.NotNull(progress);
        Assert.Equal(BatchStatus.Processing, progress.Status);
        Assert.True(
            progress.HeartbeatAt < DateTimeOffset.UtcNow - HeartbeatTimeout,
            $"The batch was run again with a heartbeat of {progress.HeartbeatAt:O}, not older than {HeartbeatTimeout.TotalSeconds} s.");
        Assert.Single(BatchLog.Of(run.BatchId, BatchLog.Stalled));
        var resultsAtResume = await StoredResultsAsync(run);
        Assert.True(resultsAtResume < Total, $"Every item had finished before the resume ({resultsAtResume}/{Total}); it would test nothing.");

        await hold.ReleaseAsync();
        var final = await _api.WaitUntilEndedAsync(run.BatchId);

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"resumed at {stalled.TotalSeconds:F2} s with {resultsAtResume}/{Total} results stored; completed at {clock.Elapsed.TotalSeconds:F2} s"));
        Assert.Equal("completed", final.Str("status"));
        Assert.Equal((Total, Total, 0), (final.Int("total"), final.Int("succeeded"), final.Int("failed")));
        await AssertEveryItemAppliedOnceAsync(run);
        Assert.Equal([$"Batch {run.BatchId} resumed (woken by its reminder), attempt 1"], BatchLog.Of(run.BatchId, BatchLog.Resumed));
        Assert.Empty(BatchLog.Of(run.BatchId, BatchLog.GaveUp));
    }

    [Fact]
    public async Task Upload_NoItemsForTheUploadTimeout_EndsFailedAtTheItemsItHolds()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(fixture.Tenant);
        var batchId = Guid.NewGuid().ToString("N");
        var grain = fixture.Grains.GetGrain<IBatchGrain>(batchId);
        var items = Enumerable.Range(0, 3)
            .Select(i => new BatchItem(new OperationRequest($"row-{i + 1}", "POST", "/users",
                JsonSerializer.Serialize(new { email = Unique.Email($"orphan{i}"), name = "Orphan" }), null, batchId)))
            .ToList();
        await grain.AppendAsync(0, items);
        var clock = Stopwatch.StartNew();
        await grain.SealAsync(10, concurrency: 1);

        var ended = await _api.WaitUntilEndedAsync(batchId);

        Assert.True(clock.Elapsed >= UploadTimeout, $"The batch gave up on its upload after {clock.Elapsed.TotalSeconds:F1} s.");
        Assert.Equal("failed", ended.Str("status"));
        Assert.Equal((10, 3, 3), (ended.Int("total"), ended.Int("stored"), ended.Int("succeeded")));
        Assert.Contains("stopped after 3 of 10 items (no items arrived for", ended.Str("reason"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReceiveReminder_ResumedMaxTimesWithoutProgress_EndsFailedAndRetryCompletesIt()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(fixture.Tenant);
        var clock = Stopwatch.StartNew();
        var (run, hold) = await StartStalledAsync("stuck");
        await using var holding = hold;

        var failed = await _api.WaitUntilEndedAsync(run.BatchId);
        var failedAt = clock.Elapsed;
        Assert.Equal("failed", failed.Str("status"));
        Assert.Equal(
            $"The batch was resumed {MaxResumeAttempts} times without progress; POST /batch/{run.BatchId}/retry carries it on from its last checkpoint.",
            failed.Str("reason"));
        Assert.Equal(
            Enumerable.Range(1, MaxResumeAttempts).Select(a => $"Batch {run.BatchId} resumed (woken by its reminder), attempt {a}"),
            BatchLog.Of(run.BatchId, BatchLog.Resumed));
        Assert.Single(BatchLog.Of(run.BatchId, BatchLog.GaveUp));
        Assert.Equal(MaxResumeAttempts + 1, BatchLog.Of(run.BatchId, BatchLog.Stalled).Count);

        // Failed for good: its reminder is gone, so nothing runs it again however long it waits.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal("failed", (await _api.StatusAsync(run.BatchId)).Str("status"));
        Assert.Equal(MaxResumeAttempts, BatchLog.Of(run.BatchId, BatchLog.Resumed).Count);
        var resultsAtFailure = await StoredResultsAsync(run);
        Assert.True(resultsAtFailure < Total, $"Every item had finished before the batch failed ({resultsAtFailure}/{Total}); the retry would test nothing.");

        await hold.ReleaseAsync();
        var retry = ApiAssert.Json(await _api.PostAsync($"/batch/{run.BatchId}/retry", null), HttpStatusCode.Accepted);
        Assert.Equal("processing", retry.Str("status"));
        Assert.False(retry.TryGetProperty("reason", out _), $"The retried batch still has a reason: {retry}");
        var final = await _api.WaitUntilEndedAsync(run.BatchId);

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"failed at {failedAt.TotalSeconds:F2} s with {resultsAtFailure}/{Total} results stored; retried, completed at {clock.Elapsed.TotalSeconds:F2} s"));
        Assert.Equal("completed", final.Str("status"));
        Assert.Equal((Total, Total, 0), (final.Int("total"), final.Int("succeeded"), final.Int("failed")));
        Assert.False(final.TryGetProperty("reason", out _), $"The completed batch still has a reason: {final}");
        await AssertEveryItemAppliedOnceAsync(run);
    }

    /// <summary>
    /// Starts a batch of a read of an existing user, whose result only a checkpoint stores, then creates of fresh
    /// users, at concurrency 1, with the read's result row held: returns once the run's checkpoint waits on it.
    /// </summary>
    private async Task<(ResumeRun Run, InsertHold Hold)> StartStalledAsync(string prefix)
    {
        var token = Unique.Token();
        var readId = await _api.CreateUserAsync($"{prefix}-read-{token}@example.com");
        var emails = Enumerable.Range(0, Creates).Select(i => $"{prefix}{i}-{token}@example.com").ToList();
        var operations = emails
            .Select((email, i) => new OperationRequest($"create{i}", "POST", "/users", JsonSerializer.Serialize(new { email, name = "Resume User" }), null, null))
            .Prepend(new OperationRequest("read", "GET", $"/users/{readId}", null, null, null))
            .ToList();
        var batchId = $"{prefix}-{token}";
        var run = new ResumeRun(fixture.Grains.GetGrain<IBatchGrain>(batchId), batchId, emails, operations);

        var hold = await InsertHold.AcquireResultAsync(fixture.Database, batchId, 0);
        try
        {
            var started = await run.Grain.StartAsync(new BatchRequest(operations, Concurrency: 1));
            Assert.Equal(BatchStatus.Processing, started.Status);
            await hold.WaitUntilBlockingAsync(fixture.Database);
            return (run, hold);
        }
        catch
        {
            await hold.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the silos logged <paramref name="count"/> events <paramref name="eventId"/> about the batch; returns when.</summary>
    private static async Task<TimeSpan> WaitForEventAsync(ResumeRun run, int eventId, int count, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (BatchLog.Of(run.BatchId, eventId).Count < count)
        {
            Assert.True(clock.Elapsed < timeout, $"Batch {run.BatchId} did not log event {eventId} {count} times within {timeout.TotalSeconds} s.");
            await Task.Delay(20);
        }

        return clock.Elapsed;
    }

    /// <summary>Every item answered once, in order, and each user created exactly once (one row, with the id the batch answered).</summary>
    private async Task AssertEveryItemAppliedOnceAsync(ResumeRun run)
    {
        var results = await _api.AllResultsAsync(run.BatchId);
        Assert.Equal(run.Operations.Select(o => o.Id), results.Select(r => r.Str("id")));
        Assert.Equal([200, .. Enumerable.Repeat(201, Creates)], results.Select(r => r.Int("status")));
        var createdIds = results.Skip(1).Select(r => r.GetProperty("result").GetProperty("id").GetInt64()).ToList();

        await using var command = fixture.Database.CreateCommand("SELECT lower(email), id FROM users WHERE lower(email) = ANY($1) ORDER BY id");
        command.Parameters.AddWithValue(run.Emails.Select(e => e.ToLowerInvariant()).ToArray());
        var stored = new List<(string Email, long Id)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stored.Add((reader.GetString(0), reader.GetInt64(1)));
            }
        }

        Assert.Equal(run.Emails, stored.Select(s => s.Email));
        Assert.Equal(createdIds, stored.Select(s => s.Id));
    }

    private async Task<long> StoredResultsAsync(ResumeRun run)
    {
        await using var command = fixture.Database.CreateCommand("SELECT count(*) FROM batch_results WHERE batch_id = $1");
        command.Parameters.AddWithValue(run.BatchId);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private sealed record ResumeRun(IBatchGrain Grain, string BatchId, IReadOnlyList<string> Emails, IReadOnlyList<OperationRequest> Operations);

    public sealed class ResumeFixture() : ClusterFixture(silos: 1, typeof(ResumeSilo));

    /// <summary>
    /// Checkpoints every 200 ms and stores each result at once (flush size 1, chunks of 1), so eight results not yet
    /// written stop the run's worker; a heartbeat older than 1 s is stale; the reminder checks every second.
    /// </summary>
    private sealed class ResumeSilo : ClusterFixture.SiloConfigurator
    {
        protected override IConfiguration Configuration { get; } = TestEnvironment.SiloConfigurationWith(new Dictionary<string, string?>
        {
            ["Batch:HeartbeatInterval"] = "00:00:00.200",
            ["Batch:HeartbeatTimeout"] = HeartbeatTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["Batch:ResumeCheckPeriod"] = "00:00:01",
            ["Batch:MaxResumeAttempts"] = MaxResumeAttempts.ToString(CultureInfo.InvariantCulture),
            ["Batch:FlushSize"] = "1",
            ["Batch:ChunkSize"] = "1",
            ["Batch:UploadTimeout"] = UploadTimeout.ToString("c", CultureInfo.InvariantCulture),
        });

        public override void Configure(ISiloBuilder siloBuilder)
        {
            base.Configure(siloBuilder);
            siloBuilder.Services.AddSingleton<ILoggerProvider, BatchLog>();
        }
    }
}
