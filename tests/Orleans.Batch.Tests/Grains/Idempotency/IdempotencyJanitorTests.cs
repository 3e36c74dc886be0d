using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Grains.Idempotency;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.TestingHost;

namespace Orleans.Batch.Tests.Grains.Idempotency;

[Collection(ClusterCollection.Name)]
public sealed class IdempotencyJanitorTests(ClusterFixture fixture)
{
    [Fact]
    public async Task DeleteExpired_RemovesOnlyRecordsPastTheirRetention()
    {
        var expired = $"janitor-expired-{Unique.Token()}";
        var live = $"janitor-live-{Unique.Token()}";
        await using (var connection = await fixture.Database.OpenConnectionAsync())
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO idempotency_records (tenant_id, key, fingerprint, status, result, expires_at)
                VALUES ('default', @expired, '\x00', 201, '{}', now() - interval '1 minute'), ('default', @live, '\x00', 201, '{}', now() + interval '1 hour')
                """,
                new { expired, live });
        }

        var silo = Assert.IsType<InProcessSiloHandle>(fixture.Cluster.GetActiveSilos().First());
        var janitor = silo.SiloHost.Services.GetRequiredService<IdempotencyJanitor>();
        await janitor.DeleteExpiredAsync(CancellationToken.None);

        await using var check = await fixture.Database.OpenConnectionAsync();
        var keys = (await check.QueryAsync<string>("SELECT key FROM idempotency_records WHERE key IN (@expired, @live)", new { expired, live })).ToList();
        Assert.Equal([live], keys);
    }

    [Fact]
    public async Task DeleteExpired_SameKeyInAnotherTenant_KeepsTheLiveRecord()
    {
        var key = $"janitor-shared-{Unique.Token()}";
        var (expired, live) = ($"expired-{Unique.Token()}", $"live-{Unique.Token()}");
        await using (var connection = await fixture.Database.OpenConnectionAsync())
        {
            await connection.ExecuteAsync(
                """
                INSERT INTO idempotency_records (tenant_id, key, fingerprint, status, result, expires_at)
                VALUES (@expired, @key, '\x00', 201, '{}', now() - interval '1 minute'), (@live, @key, '\x00', 201, '{}', now() + interval '1 hour')
                """,
                new { expired, live, key });
        }

        var silo = Assert.IsType<InProcessSiloHandle>(fixture.Cluster.GetActiveSilos().First());
        await silo.SiloHost.Services.GetRequiredService<IdempotencyJanitor>().DeleteExpiredAsync(CancellationToken.None);

        await using var check = await fixture.Database.OpenConnectionAsync();
        Assert.Equal([live], await check.QueryAsync<string>("SELECT tenant_id FROM idempotency_records WHERE key = @key", new { key }));
    }
}
