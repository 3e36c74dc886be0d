using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Configuration;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;
using static Orleans.Batch.Tests.Infrastructure.BatchLifecycle;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>
/// A tenant's limits over HTTP (the tenant the fixture's requests act for): its active
/// async batches, rows per import, and the retention of its finished batches. The cluster has small quotas of its own
/// and sweeps every second; other clusters share the database, so the tests fill quotas with rows of their own.
/// </summary>
public sealed class BatchLimitsTests(BatchLimitsTests.LimitsFixture fixture) : IClassFixture<BatchLimitsTests.LimitsFixture>
{
    private const int ActiveBatches = 10;
    private const int ImportRows = 5;

    private readonly BatchApi _api = new(fixture.Http);

    [Fact]
    public async Task Import_OverTheTenantsRowsQuota_Returns413_AndKeepsNothing()
    {
        var emails = Enumerable.Range(0, ImportRows + 1).Select(i => Unique.Email($"rowquota{i}")).ToList();

        var refused = await ImportAsync(emails);
        var accepted = await ImportAsync(emails[..ImportRows]);

        var problem = ApiAssert.Problem(refused, HttpStatusCode.RequestEntityTooLarge, "too-many-rows");
        Assert.Equal((ImportRows, "importRows"), (problem.Int("limit"), problem.Str("quota")));
        Assert.Equal(HttpStatusCode.Accepted, accepted.Status);
        await _api.WaitUntilEndedAsync(accepted.BatchId());
        Assert.Equal(0, await fixture.Database.CountUsersAsync(emails[ImportRows..]));
    }

    [Fact]
    public async Task AsyncBatch_OverTheActiveBatchesQuota_Returns429WithRetryAfter_AndTheAcceptedRunOn()
    {
        var first = await _api.PostAsync("/batch", new { mode = "async", operations = new[] { CreateUser("a", Unique.Email("active")) } });
        Assert.Equal(HttpStatusCode.Accepted, first.Status);
        var filler = $"fill-{Unique.Token()}";
        // The quota is taken by rows of the tenant the requests act for, as the first batch's row names it.
        await ExecuteAsync($"""
            INSERT INTO batch_registry (batch_id, tenant_id, status, is_async)
            SELECT '{filler}-' || n, (SELECT tenant_id FROM batch_registry WHERE batch_id = '{first.BatchId()}'), 'active', true
            FROM generate_series(1, {ActiveBatches}) n
            """);
        ApiResponse refused, refusedImport, sync;
        var refusedEmail = Unique.Email("refused");
        try
        {
            refused = await _api.PostAsync("/batch", new { mode = "async", operations = new[] { CreateUser("b", refusedEmail) } });
            refusedImport = await ImportAsync([refusedEmail]);
            sync = await _api.PostAsync("/batch", new { mode = "sync", operations = new[] { CreateUser("c", Unique.Email("sync")) } });
        }
        finally
        {
            await ExecuteAsync($"DELETE FROM batch_registry WHERE batch_id LIKE '{filler}-%'");
        }

        var problem = ApiAssert.Problem(refused, HttpStatusCode.TooManyRequests, "quota-exceeded");
        Assert.Equal(("activeBatches", ActiveBatches), (problem.Str("quota"), problem.Int("limit")));
        Assert.NotNull(refused.RetryAfter);
        ApiAssert.Problem(refusedImport, HttpStatusCode.TooManyRequests, "quota-exceeded");
        Assert.Equal(HttpStatusCode.OK, sync.Status);
        Assert.Equal(0, await fixture.Database.CountUsersAsync([refusedEmail]));
        var ended = await _api.WaitUntilEndedAsync(first.BatchId());
        Assert.Equal(("completed", 1), (ended.Str("status"), ended.Int("succeeded")));
        Assert.Equal(HttpStatusCode.Accepted, (await _api.PostAsync("/batch", new { mode = "async", operations = new[] { CreateUser("d", Unique.Email("again")) } })).Status);
    }

    [Fact]
    public async Task FinishedBatch_AfterItsRetention_IsDeleted_Answers410_ThenAfterItsTombstone404()
    {
        var done = await _api.PostAsync("/batch", new { operations = new[] { CreateUser("a", Unique.Email("kept")) } });
        Assert.Equal(HttpStatusCode.OK, done.Status);
        var batchId = done.BatchId();
        var status = await _api.StatusAsync(batchId);
        Assert.InRange(status.GetProperty("expiresAt").GetDateTimeOffset() - status.GetProperty("updatedAt").GetDateTimeOffset(),
            TimeSpan.FromDays(7) - TimeSpan.FromSeconds(5), TimeSpan.FromDays(7));
        // A batch still uploading, registered as finished and expired (as a batch from before the registry may be): the
        // janitor asks its grain, which says it is active, and keeps it.
        TenantContext.Set(TenantContext.Default);
        var runningId = Guid.NewGuid().ToString("N");
        var running = fixture.Grains.GetGrain<IBatchGrain>(runningId);
        await running.AppendAsync(0, BatchItemSlice.Of([new BatchItem(new OperationRequest(
            "r1", "POST", "/users", $$"""{"email":"{{Unique.Email("running")}}","name":"Running"}""", null, runningId))]));

        // Both expired an hour after they finished: their tombstones last an hour.
        await ExecuteAsync($"UPDATE batch_registry SET status = 'finished', finished_at = now() - interval '1 hour', expires_at = now() - interval '1 second' WHERE batch_id IN ('{batchId}', '{runningId}')");
        await UntilAsync($"SELECT count(*) FROM batch_registry WHERE batch_id = '{batchId}' AND deleted_at IS NOT NULL", 1);

        ApiAssert.Problem(await _api.GetAsync($"/batch/{batchId}/status"), HttpStatusCode.Gone, "batch-gone");
        ApiAssert.Problem(await _api.GetAsync($"/batch/{batchId}/results"), HttpStatusCode.Gone, "batch-gone");
        ApiAssert.Problem(await _api.GetAsync($"/batch/{batchId}/results?format=csv"), HttpStatusCode.Gone, "batch-gone");
        ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/cancel", null), HttpStatusCode.Gone, "batch-gone");
        ApiAssert.Problem(await _api.PostAsync($"/batch/{batchId}/retry", null), HttpStatusCode.Gone, "batch-gone");
        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM batch_item_pages WHERE batch_id = '{batchId}'"));
        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM batch_result_runs WHERE batch_id = '{batchId}'"));
        Assert.Equal(0L, await ScalarAsync($"SELECT count(*) FROM orleans_storage WHERE grainidextensionstring = '{batchId}' AND payloadbinary IS NOT NULL"));
        await UntilAsync($"SELECT count(*) FROM batch_registry WHERE batch_id = '{runningId}' AND status = 'active'", 1);
        var stillRunning = await running.GetStatusAsync();
        Assert.Equal((BatchStatus.Pending, 1), (stillRunning!.Status, stillRunning.Stored));

        // The tombstone outlived its hour: the id is unknown.
        await ExecuteAsync($"UPDATE batch_registry SET deleted_at = now() - interval '2 hours' WHERE batch_id = '{batchId}'");
        await UntilAsync($"SELECT count(*) FROM batch_registry WHERE batch_id = '{batchId}'", 0);
        ApiAssert.Problem(await _api.GetAsync($"/batch/{batchId}/status"), HttpStatusCode.NotFound, "batch-not-found");
        await running.AbortAsync();
    }

    private async Task<ApiResponse> ImportAsync(IEnumerable<string> emails)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/batch/users/import");
        request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes("email,name\r\n" + string.Concat(emails.Select(e => $"{e},Imported\r\n"))));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        return await _api.SendAsync(request);
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = fixture.Database.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var command = fixture.Database.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Polls <paramref name="countSql"/> until it answers <paramref name="expected"/>: the janitor sweeps every second.</summary>
    private async Task UntilAsync(string countSql, long expected)
    {
        var clock = Stopwatch.StartNew();
        while (await ScalarAsync(countSql) != expected)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"'{countSql}' never answered {expected}.");
            await Task.Delay(100);
        }
    }

    public sealed class LimitsFixture() : ClusterFixture(silos: 1, typeof(LimitsSilo));

    private sealed class LimitsSilo : ClusterFixture.SiloConfigurator
    {
        protected override IConfiguration Configuration { get; } = TestEnvironment.SiloConfigurationWith(new Dictionary<string, string?>
        {
            ["Tenancy:Quotas:ActiveBatches"] = ActiveBatches.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tenancy:Quotas:ImportRows"] = ImportRows.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Retention:SweepInterval"] = "00:00:01",
        });
    }
}
