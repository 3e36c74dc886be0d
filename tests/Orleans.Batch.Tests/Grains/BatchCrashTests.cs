using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.Configuration;
using Orleans.Runtime.Messaging;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace Orleans.Batch.Tests.Grains;

/// <summary>
/// A cluster of its own in which the silo running a batch is killed mid-run: the batch must carry on elsewhere from
/// its checkpoint, woken by a call or by its reminder alone, and apply every item exactly once.
/// </summary>
public sealed class BatchCrashTests(BatchCrashTests.CrashFixture fixture, ITestOutputHelper output) : IClassFixture<BatchCrashTests.CrashFixture>
{
    private const int Total = 3000;
    private const int Concurrency = 3;
    private const int KillAfterCompleted = 300;

    [Fact]
    public async Task Run_SiloRunningBatchKilled_ResumesOnSurvivorAndAppliesEveryItemOnce()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var run = await StartAsync("crash");
        var clock = Stopwatch.StartNew();
        await using var sampler = new ProgressSampler(run.Grain, clock);
        var host = await HostOfAsync(run.Grain);
        var beforeKill = await sampler.WaitForAsync(p => p.Completed >= KillAfterCompleted, TimeSpan.FromSeconds(30), "some progress before the kill");
        Assert.True(
            beforeKill.Progress.Status == BatchStatus.Processing && beforeKill.Progress.Completed < Total / 2,
            $"The batch must still be early in its run when its silo is killed, to test the resume; it was {beforeKill.Progress.Status} at {beforeKill.Progress.Completed}/{Total}.");
        Assert.Equal(host.SiloAddress, await ActivationAddressAsync(run.Grain));

        var killStarted = clock.Elapsed;
        await fixture.Cluster.KillSiloAsync(host);
        var killed = clock.Elapsed;
        var completedAtKill = sampler.MaxCompleted;
        var (usersAtKill, resultsAtKill) = await CommittedAsync(run);

        var resumed = await sampler.WaitForAsync(
            p => p.Completed > completedAtKill, TimeSpan.FromSeconds(40), "progress after the kill", after: killed);
        var done = await sampler.WaitForAsync(p => p.IsTerminal, TimeSpan.FromSeconds(45), "the end of the batch", after: killed);
        await sampler.DisposeAsync();

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"started {Total} items at concurrency {Concurrency}; killed {host.SiloAddress} at {killStarted.TotalSeconds:F2} s with {completedAtKill} completed (kill took {(killed - killStarted).TotalSeconds:F2} s)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"at the kill {usersAtKill} users were committed and {resultsAtKill} results stored: {usersAtKill - resultsAtKill} items ran again after it, answered from their idempotency records"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"first status answer after the kill: +{sampler.FirstAnswerAfter(killed)?.TotalSeconds:F2} s; progress again: +{(resumed.At - killed).TotalSeconds:F2} s ({resumed.Progress.Completed}); completed: +{(done.At - killed).TotalSeconds:F2} s"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{sampler.Samples.Count} status samples, {sampler.Failures} failed calls (last: {sampler.LastError?.GetType().Name})"));

        Assert.Equal(0, sampler.Unknown);
        AssertNeverDecreased(sampler.Samples);
        await AssertEveryItemAppliedOnceAsync(run, done.Progress, host);
        AssertResumedOnce(run);
    }

    [Fact]
    public async Task Run_SiloRunningBatchKilled_ItsReminderResumesItWithoutAnyCall()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var run = await StartAsync("remind");
        var clock = Stopwatch.StartNew();
        var host = await HostOfAsync(run.Grain);
        var beforeKill = await WaitForStoredResultsAsync(run, n => n >= KillAfterCompleted, TimeSpan.FromSeconds(30), "some progress before the kill");
        Assert.True(beforeKill < Total / 2, $"The batch must still be early in its run when its silo is killed, to test the resume; {beforeKill}/{Total} results were stored.");
        Assert.Equal(host.SiloAddress, await ActivationAddressAsync(run.Grain));

        await fixture.Cluster.KillSiloAsync(host);
        var killed = clock.Elapsed;
        var (usersAtKill, resultsAtKill) = await CommittedAsync(run);

        // Nothing calls the batch grain from here on: only its reminder can wake it on a surviving silo.
        await WaitForStoredResultsAsync(run, n => n > resultsAtKill, TimeSpan.FromSeconds(40), "progress after the kill");
        var resumed = clock.Elapsed;
        await WaitForStoredResultsAsync(run, n => n == Total, TimeSpan.FromSeconds(45), "every result");
        var stored = clock.Elapsed;
        var final = await run.Grain.WaitAsync(TimeSpan.FromSeconds(10));

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"killed {host.SiloAddress} with {resultsAtKill} results stored and {usersAtKill} users committed; with no call, the reminder resumed it +{(resumed - killed).TotalSeconds:F2} s after the kill; every result stored +{(stored - killed).TotalSeconds:F2} s"));

        Assert.NotNull(final);
        await AssertEveryItemAppliedOnceAsync(run, final, host);
        AssertResumedOnce(run);
    }

    [Fact]
    public async Task Upload_SiloRunningBatchKilledMidUpload_TakesTheRestWhereTheStoredSlicesEnd()
    {
        // Grain calls act for the tenant HTTP requests act for until credentials are required.
        TenantContext.Set(TenantContext.Default);
        var run = NewRun("upload");
        var grain = run.Grain;
        var items = run.Operations.Select(o => new BatchItem(o)).ToArray();
        // An earlier test of the class may have killed the silo the client last reached the cluster through.
        await AfterKillAsync(() => grain.AppendAsync(0, items[..500]));
        await grain.SealAsync(Total, Concurrency);
        var host = await HostOfAsync(grain);

        // With users locked nothing finishes, so the slices appended after sealing are most likely in no checkpoint
        // when the silo dies: the batch, activated elsewhere, must find from the stored pages where the next one goes.
        await using (var hold = await fixture.Database.OpenConnectionAsync())
        {
            await using var transaction = await hold.BeginTransactionAsync();
            await using (var lockUsers = new NpgsqlCommand("LOCK TABLE users IN SHARE MODE", hold, transaction))
            {
                await lockUsers.ExecuteNonQueryAsync();
            }

            await grain.AppendAsync(500, items[500..1000]);
            await grain.AppendAsync(1000, items[1000..1500]);
            await fixture.Cluster.KillSiloAsync(host);
        }

        var afterKill = await AfterKillAsync(() => grain.AppendAsync(1500, items[1500..]));
        Assert.Equal(Total, afterKill.Total);
        await WaitForStoredResultsAsync(run, n => n == Total, TimeSpan.FromSeconds(45), "every result");
        var done = await AfterKillAsync(() => grain.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.NotNull(done);
        await AssertEveryItemAppliedOnceAsync(run, done, host);
        AssertResumedOnce(run);
    }

    /// <summary>One silo's death wakes the batch once, however many wake-ups (activation, reminder, calls) reach it.</summary>
    private void AssertResumedOnce(CrashRun run)
    {
        var resumes = BatchLog.Of(run.Grain.GetPrimaryKeyString(), BatchLog.Resumed);
        output.WriteLine($"resumes logged: {string.Join("; ", resumes)}");
        Assert.True(resumes.Count == 1, $"One silo death must resume the batch once, as attempt 1; the silos logged: {string.Join("; ", resumes)}");
        Assert.EndsWith("attempt 1", resumes[0], StringComparison.Ordinal);
    }

    private async Task<CrashRun> StartAsync(string prefix)
    {
        var run = NewRun(prefix);

        var started = await AfterKillAsync(() => run.Grain.StartAsync(new BatchRequest(run.Operations, Concurrency)));
        Assert.Equal(BatchStatus.Processing, started.Status);
        Assert.Equal(Concurrency, started.Concurrency);
        return run;
    }

    /// <summary>A batch of its own, not started, of <see cref="Total"/> users to create, each with an email of its own.</summary>
    private CrashRun NewRun(string prefix)
    {
        var token = Unique.Token();
        var emails = Enumerable.Range(0, Total).Select(i => $"{prefix}{i}-{token}@example.com").ToList();
        var operations = emails
            .Select((email, i) => new OperationRequest($"op{i}", "POST", "/users", JsonSerializer.Serialize(new { email, name = "Crash User" }), null, null))
            .ToList();
        return new CrashRun(fixture.Grains.GetGrain<IBatchGrain>($"{prefix}-{token}"), token, emails, operations);
    }

    /// <summary>The batch ended completed on another silo with every item succeeded once, in order, each user stored once.</summary>
    private async Task AssertEveryItemAppliedOnceAsync(CrashRun run, BatchProgress final, SiloHandle killed)
    {
        Assert.Equal(BatchStatus.Completed, final.Status);
        Assert.Equal(Total, final.Total);
        Assert.Equal(Total, final.Succeeded);
        Assert.Equal(0, final.Failed);
        Assert.Equal(0, final.Cancelled);
        Assert.NotEqual(killed.SiloAddress, await ActivationAddressAsync(run.Grain));

        var results = await ReadAllResultsAsync(run.Grain);
        Assert.DoesNotContain(results, r => r.Result.Status == 409);
        Assert.Equal(Enumerable.Range(0, Total), results.Select(r => r.Seq));
        Assert.Equal(run.Operations.Select(o => o.Id), results.Select(r => r.Result.Id));
        Assert.All(results, r => Assert.True(r.Outcome == ItemOutcome.Succeeded && r.Result.Status == 201, $"{r.Result.Id}: {r.Outcome} {r.Result.Status} {r.Result.Body}"));
        var created = results
            .Select(r => JsonDocument.Parse(r.Result.Body!).RootElement)
            .Select(b => (Email: b.GetProperty("email").GetString()!, Id: b.GetProperty("id").GetInt64()))
            .ToList();
        Assert.Equal(run.Emails, created.Select(r => r.Email));

        var stored = await StoredUsersAsync(run.Emails);
        Assert.Equal(Total, stored.Count);
        Assert.All(stored, user => Assert.True(user.Value.Count == 1, $"{user.Key} is stored {user.Value.Count} times"));
        Assert.Equal(created.Select(r => r.Id), run.Emails.Select(e => stored[e].Id));
    }

    /// <summary>Polls the batch's stored results (not the grain) until their count satisfies <paramref name="condition"/>.</summary>
    private async Task<long> WaitForStoredResultsAsync(CrashRun run, Func<long, bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        long results = 0;
        while (clock.Elapsed < timeout)
        {
            (_, results) = await CommittedAsync(run);
            if (condition(results))
            {
                return results;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"No {what} within {timeout.TotalSeconds} s: {results}/{Total} results stored.");
    }

    private static void AssertNeverDecreased(IReadOnlyList<Sample> samples)
    {
        for (var i = 1; i < samples.Count; i++)
        {
            var (previous, current) = (samples[i - 1].Progress, samples[i].Progress);
            Assert.True(
                current.Completed >= previous.Completed && current.Succeeded >= previous.Succeeded,
                string.Create(CultureInfo.InvariantCulture,
                    $"Progress went back at {samples[i].At.TotalSeconds:F2} s: {previous.Completed} ({previous.Succeeded} succeeded) then {current.Completed} ({current.Succeeded} succeeded)"));
        }
    }

    private async Task<SiloHandle> HostOfAsync(IBatchGrain grain)
    {
        var address = await ActivationAddressAsync(grain);
        return fixture.Cluster.Silos.SingleOrDefault(s => s.SiloAddress.Equals(address))
            ?? throw new InvalidOperationException($"The batch grain is active on {address?.ToString() ?? "no silo"}, which is not one of the test cluster's silos.");
    }

    private Task<SiloAddress?> ActivationAddressAsync(IBatchGrain grain) =>
        AfterKillAsync(() => fixture.Grains.GetGrain<IManagementGrain>(0).GetActivationAddress(grain).AsTask());

    /// <summary>
    /// A call that may still be routed through the killed silo's gateway until the client notices it is gone:
    /// connection failures are retried for a while, and so is a call whose answer never came (sent to the dead silo
    /// before the client knew), as the gateway retries an append; anything else fails the test.
    /// </summary>
    private static async Task<T> AfterKillAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (attempt < 20 && e is ConnectionFailedException or SiloUnavailableException
                                      || attempt < 3 && e is TimeoutException)
            {
                await Task.Delay(500);
            }
        }
    }

    private static async Task<List<BatchItemResult>> ReadAllResultsAsync(IBatchGrain grain)
    {
        var results = new List<BatchItemResult>();
        var after = -1;
        while (true)
        {
            var position = after;
            var page = await AfterKillAsync(() => grain.GetResultsAsync(position, 1000, null));
            Assert.NotNull(page);
            results.AddRange(page.Items);
            if (page.NextAfter is not { } next)
            {
                return results;
            }

            Assert.True(next > after, $"The results cursor went from {after} to {next}.");
            after = next;
        }
    }

    /// <summary>Users of this run committed so far, and the batch's items whose results are stored.</summary>
    private async Task<(long Users, long Results)> CommittedAsync(CrashRun run)
    {
        await using var command = fixture.Database.CreateCommand("""
            SELECT (SELECT count(*) FROM users WHERE email LIKE @pattern),
                   (SELECT count(*) FROM batch_results WHERE batch_id = @batchId)
            """);
        command.Parameters.AddWithValue("pattern", $"%-{run.Token}@example.com");
        command.Parameters.AddWithValue("batchId", run.Grain.GetPrimaryKeyString());
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    private async Task<Dictionary<string, (int Count, long Id)>> StoredUsersAsync(IReadOnlyList<string> emails)
    {
        await using var command = fixture.Database.CreateCommand(
            "SELECT lower(email), count(*)::int, min(id) FROM users WHERE lower(email) = ANY(@emails) GROUP BY lower(email)");
        command.Parameters.AddWithValue("emails", emails.Select(e => e.ToLowerInvariant()).ToArray());
        await using var reader = await command.ExecuteReaderAsync();
        var stored = new Dictionary<string, (int, long)>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            stored.Add(reader.GetString(0), (reader.GetInt32(1), reader.GetInt64(2)));
        }

        return stored;
    }

    /// <summary>Five silos: each test kills one, and most of the silos still alive survive each kill.</summary>
    public sealed class CrashFixture() : ClusterFixture(silos: 5, typeof(CrashSilo));

    /// <summary>
    /// Checks for stalled batches every 5 s, checkpoints often, notices a dead silo within a few seconds, and runs each
    /// chunk at least <see cref="SlowChunks.Delay"/> late, so a batch is still early in its run however fast the
    /// machine when a test sees its first results and kills its silo.
    /// </summary>
    private sealed class CrashSilo : ClusterFixture.SiloConfigurator
    {
        protected override IConfiguration Configuration { get; } = TestEnvironment.SiloConfigurationWith(new Dictionary<string, string?>
        {
            ["Batch:ResumeCheckPeriod"] = "00:00:05",
            ["Batch:HeartbeatInterval"] = "00:00:00.500",
            ["Batch:DefaultConcurrency"] = "3",
            ["Batch:ChunkSize"] = "10",
        });

        public override void Configure(ISiloBuilder siloBuilder)
        {
            base.Configure(siloBuilder);
            siloBuilder.AddIncomingGrainCallFilter<SlowChunks>();
            siloBuilder.Services.AddSingleton<ILoggerProvider, BatchLog>();
            siloBuilder.Services.PostConfigure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.MaxProbeTimeout = TimeSpan.FromSeconds(2);
                o.NumMissedProbesLimit = 2;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
            });
        }
    }

    private sealed class SlowChunks : IIncomingGrainCallFilter
    {
        public static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(15);

        public async Task Invoke(IIncomingGrainCallContext context)
        {
            if (context.InterfaceMethod?.DeclaringType == typeof(IChunkGrain))
            {
                await Task.Delay(Delay);
            }

            await context.Invoke();
        }
    }

    private sealed record CrashRun(IBatchGrain Grain, string Token, IReadOnlyList<string> Emails, IReadOnlyList<OperationRequest> Operations);

    private sealed record Sample(TimeSpan At, BatchProgress Progress);

    /// <summary>Asks the batch for its status every 50 ms, one call at a time, keeping every answer in the order received.</summary>
    private sealed class ProgressSampler : IAsyncDisposable
    {
        private readonly IBatchGrain _grain;
        private readonly Stopwatch _clock;
        private readonly List<Sample> _samples = [];
        private readonly Lock _gate = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private int _failures;
        private int _unknown;

        public ProgressSampler(IBatchGrain grain, Stopwatch clock)
        {
            _grain = grain;
            _clock = clock;
            _loop = Task.Run(LoopAsync);
        }

        public IReadOnlyList<Sample> Samples
        {
            get
            {
                lock (_gate)
                {
                    return [.. _samples];
                }
            }
        }

        public int Failures => Volatile.Read(ref _failures);

        /// <summary>Answers that no such batch exists: its state must never be lost.</summary>
        public int Unknown => Volatile.Read(ref _unknown);

        public Exception? LastError { get; private set; }

        public int MaxCompleted => Samples.Select(s => s.Progress.Completed).DefaultIfEmpty(0).Max();

        public TimeSpan? FirstAnswerAfter(TimeSpan at) => Samples.FirstOrDefault(s => s.At > at)?.At - at;

        /// <summary>The first sample (received after <paramref name="after"/>) that matches; fails the test after <paramref name="timeout"/>.</summary>
        public async Task<Sample> WaitForAsync(Func<BatchProgress, bool> condition, TimeSpan timeout, string what, TimeSpan? after = null)
        {
            var deadline = _clock.Elapsed + timeout;
            while (_clock.Elapsed < deadline)
            {
                if (Samples.FirstOrDefault(s => s.At > (after ?? TimeSpan.MinValue) && condition(s.Progress)) is { } sample)
                {
                    return sample;
                }

                if (_loop.IsCompleted)
                {
                    await _loop;
                    throw new InvalidOperationException("The status sampler stopped.");
                }

                await Task.Delay(50);
            }

            var last = Samples.LastOrDefault();
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                $"No {what} within {timeout.TotalSeconds} s; last status {last?.Progress.Status} {last?.Progress.Completed}/{last?.Progress.Total} at {last?.At.TotalSeconds:F2} s; {Failures} failed calls, last: {LastError}"));
        }

        public async ValueTask DisposeAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await _stop.CancelAsync();
                await _loop;
            }

            _stop.Dispose();
        }

        private async Task LoopAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    if (await _grain.GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(2), _stop.Token) is { } progress)
                    {
                        lock (_gate)
                        {
                            _samples.Add(new Sample(_clock.Elapsed, progress));
                        }
                    }
                    else
                    {
                        Interlocked.Increment(ref _unknown);
                    }

                    await Task.Delay(50, _stop.Token);
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    // The silo that hosted the batch is dead until membership says so: calls fail or time out meanwhile.
                    Interlocked.Increment(ref _failures);
                    LastError = e;
                }
            }
        }
    }
}
