using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.Configuration;
using Xunit.Abstractions;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>
/// A cluster of its own whose silos reach PostgreSQL through a <see cref="PostgresProxy"/>: the database goes away in
/// the middle of an upload, so the upload fails; sending the same request again with the same key completes it, and no
/// answer before that ever accepts the partial batch.
/// </summary>
public sealed class ImportDatabaseOutageTests(ImportDatabaseOutageTests.OutageFixture fixture, ITestOutputHelper output)
    : IClassFixture<ImportDatabaseOutageTests.OutageFixture>
{
    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task Import_WithKey_DatabaseLostMidUpload_IsNot202_RetryIs409_AndTheSameRequestImportsEveryRow()
    {
        var file = UploadFile.Of("dbkey", UploadFaults.Rows);
        var key = Unique.Token();
        ApiResponse failed;
        using (CutDatabaseBefore(nameof(IBatchGrain.AppendAsync), UploadFaults.CutAtRow))
        {
            failed = await UploadFaults.ImportAsync(fixture.Impatient, file, key);
        }

        try
        {
            var problem = ApiAssert.Problem(failed, HttpStatusCode.ServiceUnavailable, "upload-incomplete");
            var batchId = problem.Str("batchId")!;
            Assert.Equal((UploadFaults.CutAtRow, UploadFaults.Rows), (problem.Int("stored"), problem.Int("total")));
            Assert.Contains("same Idempotency-Key", problem.Str("detail"), StringComparison.Ordinal);

            // While the database is still away, a retry is refused without it: it names what completes the batch.
            var early = ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/retry", null), HttpStatusCode.Conflict, "batch-conflict");
            Assert.Contains("Idempotency-Key", early.Str("detail"), StringComparison.Ordinal);
            await fixture.Proxy.RestoreAsync();

            var stopped = await _api.WaitForAsync(batchId, s => s.Str("status") == "failed", timeout: TimeSpan.FromSeconds(60));
            output.WriteLine($"after the outage: {stopped}");
            Assert.Equal((UploadFaults.Rows, UploadFaults.CutAtRow), (stopped.Int("total"), stopped.Int("stored")));
            Assert.True(stopped.GetProperty("progress").GetDouble() < 1, $"A batch holding part of its upload reads as done: {stopped}");
            Assert.Contains($"stopped after {UploadFaults.CutAtRow} of {UploadFaults.Rows} items", stopped.Str("reason"), StringComparison.Ordinal);
            ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/retry", null), HttpStatusCode.Conflict, "batch-conflict");
            Assert.Equal("failed", (await _api.StatusAsync(batchId)).Str("status"));

            var resent = await UploadFaults.SendUntilAcceptedAsync(() => UploadFaults.ImportAsync(fixture.Http, file, key), output);

            await UploadFaults.AssertAcceptedWholeAsync(_api, resent, batchId);
            await UploadFaults.AssertEveryRowImportedOnceAsync(_api, fixture.Database, batchId, file);
        }
        finally
        {
            await fixture.Proxy.RestoreAsync();
        }
    }

    [Fact]
    public async Task Import_WithoutKey_DatabaseLostMidUpload_AnswerCarriesTheBatchId_AndItsStatusSaysTheUploadStopped()
    {
        var file = UploadFile.Of("dbnokey", UploadFaults.Rows);
        ApiResponse failed;
        using (CutDatabaseBefore(nameof(IBatchGrain.AppendAsync), UploadFaults.CutAtRow))
        {
            failed = await UploadFaults.ImportAsync(fixture.Impatient, file, key: null);
        }

        await fixture.Proxy.RestoreAsync();
        var problem = ApiAssert.Problem(failed, HttpStatusCode.ServiceUnavailable, "upload-incomplete");
        var batchId = problem.Str("batchId")!;
        Assert.Contains("no Idempotency-Key, so it cannot be resumed", problem.Str("detail"), StringComparison.Ordinal);
        Assert.Contains($"/batch/{batchId}/results", problem.Str("detail"), StringComparison.Ordinal);

        var ended = await _api.WaitForAsync(batchId, s => s.Str("status") == "failed", timeout: TimeSpan.FromSeconds(60));

        Assert.Equal((UploadFaults.Rows, UploadFaults.CutAtRow, UploadFaults.CutAtRow), (ended.Int("total"), ended.Int("stored"), ended.Int("succeeded")));
        Assert.Contains("The upload stopped after", ended.Str("reason"), StringComparison.Ordinal);
        Assert.Equal(UploadFaults.CutAtRow, await fixture.Database.CountUsersAsync(file.Emails));
    }

    [Fact]
    public async Task Submit_WithKey_DatabaseLostAtStart_Answers503_AndTheSameRequestRunsEveryOperationOnce()
    {
        var token = Unique.Token();
        var emails = Enumerable.Range(0, 150).Select(i => $"submit{i}-{token}@example.com").ToList();
        var body = new { operations = emails.Select((email, i) => BatchLifecycle.CreateUser($"op{i}", email)).ToArray() };
        var headers = new Dictionary<string, string> { ["Idempotency-Key"] = token };
        ApiResponse failed;
        using (CutDatabaseBefore(nameof(IBatchGrain.StartAsync), 0))
        {
            failed = await new BatchApi(fixture.Impatient).SendAsync(HttpMethod.Post, "/batch", body, headers);
        }

        await fixture.Proxy.RestoreAsync();
        ApiAssert.Problem(failed, HttpStatusCode.ServiceUnavailable, "database-unavailable");

        var resent = await UploadFaults.SendUntilAcceptedAsync(() => _api.SendAsync(HttpMethod.Post, "/batch", body, headers), output);

        var batchId = ApiAssert.Json(resent, HttpStatusCode.Accepted).Str("batchId")!;
        var final = await _api.WaitForAsync(batchId, s => s.Str("status") == "completed", timeout: TimeSpan.FromSeconds(60));
        Assert.Equal((150, 150, 150), (final.Int("total"), final.Int("stored"), final.Int("succeeded")));
        Assert.Equal(150, await fixture.Database.CountUsersAsync(emails));
    }

    [Fact]
    public async Task Import_SentAgainWhileTheFirstUploadRuns_Is409WithRetryAfter_AndTheFirstCompletesAlone()
    {
        var file = UploadFile.Of("twice", UploadFaults.Rows);
        var key = Unique.Token();
        var (first, batchId, held) = await ImportHeldAsync(() => UploadFaults.ImportAsync(fixture.Http, file, key));
        using var hook = held.Hook;

        using var again = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import") { Content = new StringContent(file.Csv, Encoding.UTF8, "text/csv") };
        again.Headers.Add("Idempotency-Key", key);
        using var raw = await fixture.Http.SendAsync(again);
        var second = await ApiResponse.ReadAsync(raw);
        held.Release.SetResult();

        var problem = ApiAssert.Problem(second, HttpStatusCode.Conflict, "upload-in-progress");
        Assert.Equal(batchId, problem.Str("batchId"));
        Assert.Equal(TimeSpan.FromSeconds(5), raw.Headers.RetryAfter?.Delta);
        await UploadFaults.AssertAcceptedWholeAsync(_api, await first, batchId);
        await UploadFaults.AssertEveryRowImportedOnceAsync(_api, fixture.Database, batchId, file);
    }

    [Fact]
    public async Task Import_ClientGoesAwayMidUpload_TheBatchStopsShortOfItsTotal_AndTheSameRequestImportsEveryRow()
    {
        var file = UploadFile.Of("gone", UploadFaults.Rows);
        var key = Unique.Token();
        using var leave = new CancellationTokenSource();
        var (first, batchId, held) = await ImportHeldAsync(() => ImportCancellableAsync(file, key, leave.Token));
        using (held.Hook)
        {
            await leave.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);

            var stopped = await _api.WaitForAsync(batchId, s => s.Str("status") == "failed", timeout: TimeSpan.FromSeconds(60));
            held.Release.SetResult();
            Assert.Equal((UploadFaults.Rows, UploadFaults.CutAtRow), (stopped.Int("total"), stopped.Int("stored")));
            Assert.Contains($"The upload stopped after {UploadFaults.CutAtRow} of {UploadFaults.Rows} items (the upload failed)", stopped.Str("reason"), StringComparison.Ordinal);
        }

        var resent = await UploadFaults.SendUntilAcceptedAsync(() => UploadFaults.ImportAsync(fixture.Http, file, key), output);

        await UploadFaults.AssertAcceptedWholeAsync(_api, resent, batchId);
        await UploadFaults.AssertEveryRowImportedOnceAsync(_api, fixture.Database, batchId, file);
    }

    [Fact]
    public async Task Import_CancelledWhileUploading_Is409_AndTheSameRequestAgainIs409_NeverAccepted()
    {
        var file = UploadFile.Of("cancel", UploadFaults.Rows);
        var key = Unique.Token();
        var (first, batchId, held) = await ImportHeldAsync(() => UploadFaults.ImportAsync(fixture.Http, file, key));
        using var hook = held.Hook;

        var cancelled = ApiAssert.Json(await _api.PostAsync($"/batch/{batchId}/cancel", null), HttpStatusCode.OK);
        held.Release.SetResult();
        var answer = await first;
        var again = await UploadFaults.ImportAsync(fixture.Http, file, key);

        Assert.Equal("cancelled", cancelled.Str("status"));
        foreach (var refused in new[] { answer, again })
        {
            var problem = ApiAssert.Problem(refused, HttpStatusCode.Conflict, "batch-conflict");
            Assert.Equal(batchId, problem.Str("batchId"));
            Assert.Contains($"cancelled while its file was uploading: it holds {UploadFaults.CutAtRow} of the file's {UploadFaults.Rows} rows", problem.Str("detail"), StringComparison.Ordinal);
        }
    }

    /// <summary>The import, given up by its client when <paramref name="cancellationToken"/> is cancelled.</summary>
    private async Task<HttpStatusCode> ImportCancellableAsync(UploadFile file, string key, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import") { Content = new StringContent(file.Csv, Encoding.UTF8, "text/csv") };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await fixture.Http.SendAsync(request, cancellationToken);
        return response.StatusCode;
    }

    /// <summary>Sends an import whose slice at <see cref="UploadFaults.CutAtRow"/> is held in its silo until released; returns once it is held.</summary>
    private async Task<(Task<T> First, string BatchId, HeldAppend Held)> ImportHeldAsync<T>(Func<Task<T>> send)
    {
        var held = HoldAppendAt(UploadFaults.CutAtRow);
        var first = send();
        return (first, await held.Reached.Task.WaitAsync(TimeSpan.FromSeconds(60)), held);
    }

    /// <summary>Holds the first append from <paramref name="from"/> on in its silo, before it runs, until released.</summary>
    private HeldAppend HoldAppendAt(int from)
    {
        var held = new HeldAppend(
            new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously),
            new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously),
            null!);
        return held with
        {
            Hook = GrainCallHooks.Set(fixture.Cluster.Options.ServiceId, async (call, _) =>
            {
                if (call.InterfaceMethod?.Name == nameof(IBatchGrain.AppendAsync) && call.Request.GetArgument(0) is int position && position >= from
                    && held.Reached.TrySetResult(call.TargetId.Key.ToString()!))
                {
                    await held.Release.Task;
                }
            }),
        };
    }

    private sealed record HeldAppend(TaskCompletionSource<string> Reached, TaskCompletionSource Release, IDisposable Hook);

    /// <summary>Cuts the database once, just before the first call of <paramref name="method"/> whose first argument is at least <paramref name="from"/>.</summary>
    private IDisposable CutDatabaseBefore(string method, int from)
    {
        var cut = 0;
        return GrainCallHooks.Set(fixture.Cluster.Options.ServiceId, (call, _) =>
        {
            if (call.InterfaceMethod?.Name == method && (from == 0 || call.Request.GetArgument(0) is int position && position >= from)
                && Interlocked.Exchange(ref cut, 1) == 0)
            {
                return fixture.Proxy.CutAsync();
            }

            return Task.CompletedTask;
        });
    }

    /// <summary>
    /// Two silos on PostgreSQL through a proxy, resuming batches every 2 s, waiting 30 s for a silent upload (longer than
    /// any test here holds one); besides the usual gateway, an impatient one
    /// that re-sends a failed call for one second only, so the outage fails its upload instead of waiting it out.
    /// </summary>
    public sealed class OutageFixture() : ClusterFixture(silos: 2, typeof(OutageSilo))
    {
        /// <summary>Static, so the silo configurator, which the test cluster creates itself, reaches it.</summary>
        private static readonly PostgresProxy SharedProxy = new(TestEnvironment.Postgres);

        public PostgresProxy Proxy => SharedProxy;

        public HttpClient Impatient { get; private set; } = null!;

        public override async Task InitializeAsync()
        {
            await SharedProxy.RestoreAsync();
            await base.InitializeAsync();
            // Impatient with failures only: a slow call on a busy machine is waited for, so only the outage fails an upload.
            (_, Impatient) = await StartGatewayAsync(new Dictionary<string, string?>(UploadFaults.ImpatientGateway) { ["Orleans:AttemptTimeout"] = "00:01:00" });
        }

        public override async Task DisposeAsync()
        {
            await SharedProxy.RestoreAsync();
            await base.DisposeAsync();
            await SharedProxy.DisposeAsync();
        }

        private sealed class OutageSilo : SiloConfigurator
        {
            protected override IConfiguration Configuration { get; } = TestEnvironment.SiloConfigurationWith(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = SharedProxy.ConnectionString,
                ["Batch:ResumeCheckPeriod"] = "00:00:02",
                ["Batch:UploadTimeout"] = "00:00:30",
            });

            public override void Configure(ISiloBuilder siloBuilder)
            {
                base.Configure(siloBuilder);
                siloBuilder.AddIncomingGrainCallFilter<GrainCallHooks>();
            }
        }
    }
}

/// <summary>
/// A cluster of its own in which the silo holding an import's batch is killed in the middle of its upload: the gateway
/// rides over it when it may wait long enough, and otherwise the same request sent again completes the import.
/// </summary>
public sealed class ImportSiloKillTests(ImportSiloKillTests.KillFixture fixture, ITestOutputHelper output) : IClassFixture<ImportSiloKillTests.KillFixture>
{
    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task Import_SiloHoldingTheBatchKilledMidUpload_TheGatewayResendsItsCalls_AndAnswers202WithEveryRow()
    {
        var file = UploadFile.Of("ride", UploadFaults.Rows);

        var (response, batchId) = await ImportKillingTheBatchSiloAsync(fixture.Http, file, Unique.Token());

        await UploadFaults.AssertAcceptedWholeAsync(_api, response, batchId);
        await UploadFaults.AssertEveryRowImportedOnceAsync(_api, fixture.Database, batchId, file);
    }

    [Fact]
    public async Task Import_SiloHoldingTheBatchKilledMidUpload_FailedUploadIsNever202_AndTheSameRequestImportsEveryRow()
    {
        var file = UploadFile.Of("kill", UploadFaults.Rows);
        var key = Unique.Token();

        var (failed, batchId) = await ImportKillingTheBatchSiloAsync(fixture.Impatient, file, key);

        var problem = ApiAssert.Problem(failed, failed.Status, "upload-incomplete");
        Assert.NotEqual(HttpStatusCode.Accepted, failed.Status);
        Assert.Equal(batchId, problem.Str("batchId"));
        // The first upload may still be taken as running for Batch:UploadTimeout: the same request is answered 409 until then.
        var resent = await UploadFaults.SendUntilAcceptedAsync(() => UploadFaults.ImportAsync(fixture.Http, file, key), output);

        await UploadFaults.AssertAcceptedWholeAsync(_api, resent, batchId);
        await UploadFaults.AssertEveryRowImportedOnceAsync(_api, fixture.Database, batchId, file);
    }

    /// <summary>
    /// Sends the import; when its slice at <see cref="UploadFaults.CutAtRow"/> reaches the batch's silo, holds it there and
    /// kills that silo. Returns the import's answer and the batch's id.
    /// </summary>
    private async Task<(ApiResponse Response, string BatchId)> ImportKillingTheBatchSiloAsync(HttpClient gateway, UploadFile file, string key)
    {
        var reached = new TaskCompletionSource<(string BatchId, SiloAddress Silo)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource();
        using var hook = GrainCallHooks.Set(fixture.Cluster.Options.ServiceId, async (call, silo) =>
        {
            if (call.InterfaceMethod?.Name == nameof(IBatchGrain.AppendAsync) && call.Request.GetArgument(0) is int position
                && position >= UploadFaults.CutAtRow && reached.TrySetResult((call.TargetId.Key.ToString()!, silo)))
            {
                await never.Task;
            }
        });

        var import = UploadFaults.ImportAsync(gateway, file, key);
        var (batchId, host) = await reached.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await fixture.Cluster.KillSiloAsync(fixture.Cluster.Silos.Single(s => s.SiloAddress.Equals(host)));
        var response = await import;
        never.TrySetResult();
        output.WriteLine($"killed {host} holding batch {batchId}; the import answered {(int)response.Status}: {response.Text}");
        return (response, batchId);
    }

    /// <summary>
    /// Three silos (each test kills one) that notice a dead silo within seconds and resume batches every 2 s; besides the
    /// usual gateway, an impatient one that re-sends a failed call for one second only, so the kill fails its upload.
    /// </summary>
    public sealed class KillFixture() : ClusterFixture(silos: 3, typeof(KillSilo))
    {
        public HttpClient Impatient { get; private set; } = null!;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            (_, Impatient) = await StartGatewayAsync(UploadFaults.ImpatientGateway);
        }

        /// <summary>
        /// Longer than the usual gateway needs to re-send a slice held by the killed silo (an attempt's timeout, then
        /// membership), so the batch still waits for it; the re-sent import of the impatient gateway waits it out.
        /// </summary>
        private sealed class KillSilo : SiloConfigurator
        {
            protected override IConfiguration Configuration { get; } = TestEnvironment.SiloConfigurationWith(new Dictionary<string, string?>
            {
                ["Batch:ResumeCheckPeriod"] = "00:00:02",
                ["Batch:UploadTimeout"] = "00:00:20",
            });

            public override void Configure(ISiloBuilder siloBuilder)
            {
                base.Configure(siloBuilder);
                siloBuilder.AddIncomingGrainCallFilter<GrainCallHooks>();
                siloBuilder.Services.PostConfigure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = TimeSpan.FromSeconds(1);
                    o.MaxProbeTimeout = TimeSpan.FromSeconds(2);
                    o.NumMissedProbesLimit = 2;
                    o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
                });
            }
        }
    }
}

/// <summary>A users CSV of fresh emails.</summary>
public sealed record UploadFile(string Csv, IReadOnlyList<string> Emails)
{
    public static UploadFile Of(string prefix, int rows)
    {
        var token = Unique.Token();
        var emails = Enumerable.Range(0, rows).Select(i => $"{prefix}{i}-{token}@example.com").ToList();
        var csv = new StringBuilder("email,name\n");
        emails.ForEach(email => csv.Append(email).Append(",Fault User\n"));
        return new UploadFile(csv.ToString(), emails);
    }
}

/// <summary>What the upload fault tests share.</summary>
public static class UploadFaults
{
    /// <summary>Rows of each file: the upload's slices are 1,000 rows, then 5,000 at a time.</summary>
    public const int Rows = 20_000;

    /// <summary>The position of the slice the fault hits: 6,000 rows are stored by then.</summary>
    public const int CutAtRow = 6000;

    /// <summary>A gateway that re-sends a failed grain call for one second only, so a fault fails the upload.</summary>
    public static readonly IReadOnlyDictionary<string, string?> ImpatientGateway = new Dictionary<string, string?>
    {
        ["Orleans:FailoverTimeout"] = "00:00:01",
    };

    public static async Task<ApiResponse> ImportAsync(HttpClient gateway, UploadFile file, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import");
        request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(file.Csv));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return await new BatchApi(gateway).SendAsync(request);
    }

    /// <summary>
    /// Sends the same request, as a client honouring Retry-After would, until it is accepted: every answer before must be a
    /// 409 (the first upload may still run) or a 503 problem, never a success.
    /// </summary>
    public static async Task<ApiResponse> SendUntilAcceptedAsync(Func<Task<ApiResponse>> send, ITestOutputHelper output)
    {
        var answers = new List<int>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var response = await send();
            answers.Add((int)response.Status);
            if (response.Status == HttpStatusCode.Accepted)
            {
                output.WriteLine($"the same request again was answered {string.Join(", ", answers)}");
                return response;
            }

            Assert.True(response.Status is HttpStatusCode.Conflict or HttpStatusCode.ServiceUnavailable && response.ContentType == "application/problem+json",
                $"Unexpected answer to the request sent again: {(int)response.Status} {response.Text}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"The request sent again was never accepted; answers: {string.Join(", ", answers)}");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>A 202 for <paramref name="batchId"/>, whose status at once says it holds every row.</summary>
    public static async Task AssertAcceptedWholeAsync(BatchApi api, ApiResponse response, string batchId)
    {
        Assert.Equal(batchId, ApiAssert.Json(response, HttpStatusCode.Accepted).Str("batchId"));
        var status = await api.StatusAsync(batchId);
        Assert.Equal((Rows, Rows), (status.Int("total"), status.Int("stored")));
        Assert.NotEqual("failed", status.Str("status"));
    }

    /// <summary>The batch ends completed with every row succeeded, and the users table holds each row's user once.</summary>
    public static async Task AssertEveryRowImportedOnceAsync(BatchApi api, Npgsql.NpgsqlDataSource database, string batchId, UploadFile file)
    {
        var final = await api.WaitForAsync(batchId, s => BatchLifecycle.TerminalStatuses.Contains(s.Str("status")), timeout: TimeSpan.FromSeconds(120));
        Assert.True(final.Str("status") == "completed", $"The import did not complete: {final}");
        Assert.Equal((Rows, Rows, Rows, 0), (final.Int("total"), final.Int("stored"), final.Int("succeeded"), final.Int("failed")));
        Assert.False(final.TryGetProperty("reason", out _), $"The completed import still has a reason: {final}");
        await using var command = database.CreateCommand("SELECT count(*), count(DISTINCT lower(email)) FROM users WHERE lower(email) = ANY($1)");
        command.Parameters.AddWithValue(file.Emails.Select(e => e.ToLowerInvariant()).ToArray());
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(((long)Rows, (long)Rows), (reader.GetInt64(0), reader.GetInt64(1)));
    }
}
