using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.Storage;
using Orleans.TestingHost;

namespace Orleans.Batch.Tests.Grains.Batches;

/// <summary>A batch belongs to the tenant that created it, and the grain itself refuses every other.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BatchTenancyTests(ClusterFixture fixture)
{
    [Fact]
    public async Task EveryMethod_OtherTenant_AnsweredAsUnknownAndChangesNothing()
    {
        var (owner, other) = ($"t-{Unique.Token()}", $"t-{Unique.Token()}");
        TenantContext.Set(owner);
        var batchId = Guid.NewGuid().ToString("N");
        var grain = fixture.Grains.GetGrain<IBatchGrain>(batchId);
        await grain.StartAsync(new BatchRequest([CreateUser("a", Unique.Email("own")), CreateUser("b", "not-an-email")], null));
        var ended = await grain.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((BatchStatus.Completed, 1, 1), (ended!.Status, ended.Succeeded, ended.Failed));

        TenantContext.Set(other);
        Assert.Null(await grain.GetStatusAsync());
        Assert.Null(await grain.WaitAsync(TimeSpan.FromSeconds(1)));
        Assert.Null(await grain.GetResultsAsync(-1, 10, null));
        Assert.Null((await grain.CancelAsync()).Progress);
        Assert.Null((await grain.RetryAsync()).Progress);
        Assert.Null((await grain.ResumeUploadAsync()).Progress);
        await grain.AbortAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => grain.StartAsync(new BatchRequest([CreateUser("c", Unique.Email("theirs"))], null)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => grain.AppendAsync(2, BatchItemSlice.Of([new BatchItem(CreateUser("d", Unique.Email("theirs")))])));
        await Assert.ThrowsAsync<InvalidOperationException>(() => grain.SealAsync(3, null));

        TenantContext.Set(owner);
        var after = await grain.GetStatusAsync();
        Assert.Equal((BatchStatus.Completed, 2, 1, 1), (after!.Status, after.Total, after.Succeeded, after.Failed));
        Assert.Equal(["a", "b"], (await grain.GetResultsAsync(-1, 10, null))!.Items.Select(i => i.Result.Id));
    }

    [Fact]
    public async Task Call_WithoutTenant_IsRefused()
    {
        TenantContext.Set($"t-{Unique.Token()}");
        var grain = fixture.Grains.GetGrain<IBatchGrain>(Guid.NewGuid().ToString("N"));
        await grain.StartAsync(new BatchRequest([CreateUser("a", Unique.Email("notenant"))], null));

        TenantContext.Clear();

        await Assert.ThrowsAsync<TenantRequiredException>(grain.GetStatusAsync);
        await Assert.ThrowsAsync<TenantRequiredException>(() => grain.CancelAsync());
        await Assert.ThrowsAsync<TenantRequiredException>(() =>
            fixture.Grains.GetGrain<IBatchGrain>(Guid.NewGuid().ToString("N")).StartAsync(new BatchRequest([CreateUser("b", Unique.Email("notenant"))], null)));
    }

    [Fact]
    public async Task Start_RegistersTheBatchForItsTenant_AndItsEndWithAnExpiry()
    {
        var tenant = $"t-{Unique.Token()}";
        TenantContext.Set(tenant);
        var batchId = Guid.NewGuid().ToString("N");
        var grain = fixture.Grains.GetGrain<IBatchGrain>(batchId);

        await grain.StartAsync(new BatchRequest([CreateUser("a", Unique.Email("reg"))], null));
        var ended = await grain.WaitAsync(TimeSpan.FromSeconds(10));

        var row = await RegistryRowAsync(batchId);
        Assert.Equal((tenant, "finished", false), (row!.Value.Tenant, row.Value.Status, row.Value.IsAsync));
        // The configured default retention (Tenancy:Quotas:Retention), counted from when the batch ended; the registry
        // keeps it to the microsecond.
        Assert.InRange(ended!.ExpiresAt!.Value - ended.UpdatedAt, TimeSpan.FromDays(7) - TimeSpan.FromSeconds(5), TimeSpan.FromDays(7));
        Assert.InRange((row.Value.ExpiresAt!.Value - ended.ExpiresAt.Value).Duration(), TimeSpan.Zero, TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task SubmissionKey_SameKeyInTwoTenants_ClaimsTwoBatches()
    {
        var (a, b) = ($"t-{Unique.Token()}", $"t-{Unique.Token()}");
        var key = Unique.Token();
        var fingerprint = new byte[] { 1, 2, 3 };

        TenantContext.Set(a);
        var first = await fixture.Grains.GetGrain<ISubmissionGrain>(SubmissionKeys.For(a, "/batch", key)).ClaimAsync("batch-a", fingerprint);
        TenantContext.Set(b);
        var second = await fixture.Grains.GetGrain<ISubmissionGrain>(SubmissionKeys.For(b, "/batch", key)).ClaimAsync("batch-b", fingerprint);
        var again = await fixture.Grains.GetGrain<ISubmissionGrain>(SubmissionKeys.For(b, "/batch", key)).ClaimAsync("batch-c", fingerprint);

        Assert.Equal(("batch-a", true), (first.BatchId, first.IsNew));
        Assert.Equal(("batch-b", true), (second.BatchId, second.IsNew));
        Assert.Equal(("batch-b", false), (again.BatchId, again.IsNew));
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            fixture.Grains.GetGrain<ISubmissionGrain>(SubmissionKeys.For(a, "/batch", key)).ClaimAsync("batch-d", fingerprint));
    }

    [Fact]
    public void SubmissionKeys_DefaultTenant_KeepsTheFormFromBeforeTenants()
    {
        Assert.Equal("/batch|k1", SubmissionKeys.For(TenantContext.Default, "/batch", "k1"));
        Assert.Equal("acme|/batch|k1", SubmissionKeys.For("acme", "/batch", "k1"));
        Assert.Equal(TenantContext.Default, SubmissionKeys.TenantOf("/batch/users/import|k|x"));
        Assert.Equal("acme", SubmissionKeys.TenantOf("acme|/batch|k|x"));
    }

    [Fact]
    public async Task ActiveBatchesQuota_Reached_RefusesANewAsyncBatch_AndKeepsNothing()
    {
        var tenant = $"q-{Unique.Token()}";
        // The tenant's quota (the configured default, 20) is taken by batches still running.
        await using (var fill = fixture.Database.CreateCommand(
            "INSERT INTO batch_registry (batch_id, tenant_id, status, is_async) SELECT $1 || '-' || n, $1, 'active', true FROM generate_series(1, 20) n"))
        {
            fill.Parameters.AddWithValue(tenant);
            await fill.ExecuteNonQueryAsync();
        }

        try
        {
            TenantContext.Set(tenant);
            var refusedId = Guid.NewGuid().ToString("N");
            var refused = fixture.Grains.GetGrain<IBatchGrain>(refusedId);

            var e = await Assert.ThrowsAsync<TenantQuotaExceededException>(() =>
                refused.StartAsync(new BatchRequest([CreateUser("a", Unique.Email("quota"))], null, BatchMode.Async)));
            var upload = await Assert.ThrowsAsync<TenantQuotaExceededException>(() =>
                fixture.Grains.GetGrain<IBatchGrain>(Guid.NewGuid().ToString("N")).AppendAsync(0, BatchItemSlice.Of([new BatchItem(CreateUser("b", Unique.Email("quota")))])));

            Assert.Equal(("activeBatches", 20L), (e.Quota, e.Limit));
            Assert.Equal("activeBatches", upload.Quota);
            Assert.Null(await refused.GetStatusAsync());
            Assert.Null(await RegistryRowAsync(refusedId));
            Assert.Equal(20, await ActiveAsyncAsync(tenant));

            // A sync batch is not counted; an async one is accepted again once a place is free.
            var sync = fixture.Grains.GetGrain<IBatchGrain>(Guid.NewGuid().ToString("N"));
            await sync.StartAsync(new BatchRequest([CreateUser("c", Unique.Email("quota"))], null, BatchMode.Sync));
            await ExecuteAsync("UPDATE batch_registry SET status = 'finished' WHERE batch_id = $1", $"{tenant}-1");
            var accepted = await refused.StartAsync(new BatchRequest([CreateUser("a", Unique.Email("quota"))], null, BatchMode.Async));
            Assert.Equal(1, accepted.Total);
            Assert.Equal(BatchStatus.Completed, (await refused.WaitAsync(TimeSpan.FromSeconds(10)))!.Status);
        }
        finally
        {
            await ExecuteAsync("DELETE FROM batch_registry WHERE tenant_id = $1", tenant);
        }
    }

    [Fact]
    public async Task ActiveBatchesQuota_LastPlaceTakenAtOnce_AdmitsOneBatch()
    {
        var tenant = $"q-{Unique.Token()}";
        await using (var fill = fixture.Database.CreateCommand(
            "INSERT INTO batch_registry (batch_id, tenant_id, status, is_async) SELECT $1 || '-' || n, $1, 'active', true FROM generate_series(1, 19) n"))
        {
            fill.Parameters.AddWithValue(tenant);
            await fill.ExecuteNonQueryAsync();
        }

        try
        {
            TenantContext.Set(tenant);
            // Uploads created at once, on both silos, for the quota's one free place; unsealed, they stay active.
            var grains = Enumerable.Range(0, 6).Select(_ => fixture.Grains.GetGrain<IBatchGrain>(Guid.NewGuid().ToString("N"))).ToList();
            var starts = grains.Select(async (grain, i) =>
            {
                try
                {
                    await grain.AppendAsync(0, BatchItemSlice.Of([new BatchItem(CreateUser("a", Unique.Email($"race{i}")))]));
                    return true;
                }
                catch (TenantQuotaExceededException)
                {
                    return false;
                }
            });

            Assert.Equal(1, (await Task.WhenAll(starts)).Count(admitted => admitted));
            await Task.WhenAll(grains.Select(grain => grain.AbortAsync()));
        }
        finally
        {
            await ExecuteAsync("DELETE FROM batch_registry WHERE tenant_id = $1", tenant);
        }
    }

    [Fact]
    public async Task BatchStoredBeforeTenancy_BelongsToTheDefaultTenant()
    {
        var batchId = Guid.NewGuid().ToString("N");
        var grain = fixture.Grains.GetGrain<IBatchGrain>(batchId);
        var now = DateTimeOffset.UtcNow;
        // The state as the previous version stored it: no tenant.
        var storage = Assert.IsType<InProcessSiloHandle>(fixture.Cluster.GetActiveSilos().First()).SiloHost.Services.GetRequiredKeyedService<IGrainStorage>(BatchStorage.ProviderName);
        await storage.WriteStateAsync("batch", grain.GetGrainId(), new GrainState<BatchState>(new BatchState
        {
            Status = BatchStatus.Completed, Total = 1, Succeeded = 1, Appended = 1, CreatedAt = now, UpdatedAt = now, Concurrency = 1,
        }));

        TenantContext.Set($"t-{Unique.Token()}");
        Assert.Null(await grain.GetStatusAsync());
        TenantContext.Set(TenantContext.Default);
        var progress = await grain.GetStatusAsync();

        Assert.Equal((BatchStatus.Completed, 1), (progress!.Status, progress.Succeeded));
    }

    private static OperationRequest CreateUser(string id, string email) =>
        new(id, "POST", "/users", JsonSerializer.Serialize(new { email, name = "Tenant User" }), null, null);

    private async Task<(string Tenant, string Status, bool IsAsync, DateTimeOffset? ExpiresAt)?> RegistryRowAsync(string batchId)
    {
        await using var command = fixture.Database.CreateCommand("SELECT tenant_id, status, is_async, expires_at FROM batch_registry WHERE batch_id = $1");
        command.Parameters.AddWithValue(batchId);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync())
        {
            return null;
        }

        DateTimeOffset? expiresAt = reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3);
        return (reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), expiresAt);
    }

    private async Task<long> ActiveAsyncAsync(string tenant)
    {
        await using var command = fixture.Database.CreateCommand("SELECT count(*) FROM batch_registry WHERE tenant_id = $1 AND status = 'active' AND is_async");
        command.Parameters.AddWithValue(tenant);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task ExecuteAsync(string sql, string parameter)
    {
        await using var command = fixture.Database.CreateCommand(sql);
        command.Parameters.AddWithValue(parameter);
        await command.ExecuteNonQueryAsync();
    }
}
