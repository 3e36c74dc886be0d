using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Database;

namespace Orleans.Batch.Grains.Batches;

/// <summary>What <see cref="BatchRegistry.AdmitAsync"/> decided about a new batch (its statement answers these numbers).</summary>
public enum Admission
{
    /// <summary>Registered now, or already registered to the same tenant (a creation sent again).</summary>
    Admitted = 0,

    /// <summary>The tenant's active async batches are at its quota: nothing was registered.</summary>
    OverQuota = 1,

    /// <summary>The id names a batch of the same tenant that was deleted after its retention.</summary>
    Gone = 2,

    /// <summary>The id names another tenant's batch.</summary>
    Taken = 3,
}

/// <summary>A batch the retention janitor deletes: its id and tenant.</summary>
public sealed record ExpiredBatch(string BatchId, string TenantId);

/// <summary>
/// <c>batch_registry</c> (deploy/sql/25-batch-registry.sql): one row per batch with its tenant, whether it is active or
/// finished, and when it expires and was deleted. It serves the active async batches quota and retention. Its statements
/// take a slot of the silo's <see cref="DatabaseGate"/>, like the batches' own: many batches starting at once stay within the pool.
/// </summary>
public sealed class BatchRegistry(NpgsqlDataSource dataSource, DatabaseGate gate)
{
    /// <summary>
    /// One round trip, one transaction: an async batch first takes its tenant's advisory lock, so the count that follows sees
    /// every batch admitted before and none is admitted past the quota by a batch created at once on another silo.
    /// </summary>
    private const string AdmitSql = """
        SELECT pg_advisory_xact_lock(hashtext('batch-quota:' || @tenant)) WHERE @isAsync;
        WITH existing AS (SELECT tenant_id, deleted_at FROM batch_registry WHERE batch_id = @batchId),
        admitted AS (
            INSERT INTO batch_registry (batch_id, tenant_id, status, is_async)
            SELECT @batchId, @tenant, 'active', @isAsync
            WHERE NOT EXISTS (SELECT 1 FROM existing)
              AND (NOT @isAsync OR (SELECT count(*) FROM batch_registry WHERE tenant_id = @tenant AND status = 'active' AND is_async) < @activeLimit)
            ON CONFLICT (batch_id) DO NOTHING
            RETURNING 1)
        SELECT CASE
            WHEN EXISTS (SELECT 1 FROM admitted) THEN 0
            WHEN NOT EXISTS (SELECT 1 FROM existing) THEN CASE WHEN @isAsync THEN 1 ELSE 0 END
            WHEN (SELECT tenant_id FROM existing) <> @tenant THEN 3
            WHEN (SELECT deleted_at FROM existing) IS NOT NULL THEN 2
            ELSE 0 END
        """;

    /// <summary>
    /// Registers a new batch of <paramref name="tenant"/>, active. An async one is admitted only while the tenant has fewer
    /// than <paramref name="activeLimit"/> active async batches. The same batch registered again is admitted (a creation
    /// sent again), also when it was inserted at the same moment by another call.
    /// </summary>
    public async Task<Admission> AdmitAsync(string batchId, string tenant, bool isAsync, int activeLimit, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var results = await connection.QueryMultipleAsync(new CommandDefinition(
            AdmitSql, new { batchId, tenant, isAsync, activeLimit }, cancellationToken: cancellationToken));
        await results.ReadAsync();
        return (Admission)await results.ReadSingleAsync<int>();
    }

    /// <summary>The batch is active again (retried, its upload reopened) or still is: it keeps no expiry.</summary>
    public Task SetActiveAsync(string batchId, string tenant, CancellationToken cancellationToken) => ExecuteAsync("""
        INSERT INTO batch_registry (batch_id, tenant_id, status) VALUES (@batchId, @tenant, 'active')
        ON CONFLICT (batch_id) DO UPDATE SET status = 'active', finished_at = NULL, expires_at = NULL
        WHERE batch_registry.deleted_at IS NULL
        """, new { batchId, tenant }, cancellationToken);

    /// <summary>The batch ended at <paramref name="finishedAt"/> and is deleted at <paramref name="expiresAt"/>.</summary>
    public Task SetFinishedAsync(string batchId, string tenant, DateTimeOffset finishedAt, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
        ExecuteAsync("""
            INSERT INTO batch_registry (batch_id, tenant_id, status, finished_at, expires_at) VALUES (@batchId, @tenant, 'finished', @finishedAt, @expiresAt)
            ON CONFLICT (batch_id) DO UPDATE SET status = 'finished', finished_at = @finishedAt, expires_at = @expiresAt
            WHERE batch_registry.deleted_at IS NULL
            """, new { batchId, tenant, finishedAt, expiresAt }, cancellationToken);

    /// <summary>A batch discarded before it was sealed leaves no trace: its id may be used again.</summary>
    public Task RemoveAsync(string batchId, CancellationToken cancellationToken) =>
        ExecuteAsync("DELETE FROM batch_registry WHERE batch_id = @batchId AND deleted_at IS NULL", new { batchId }, cancellationToken);

    /// <summary>The batch's items, results and state are deleted: it is a tombstone from now on.</summary>
    public Task MarkDeletedAsync(string batchId, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE batch_registry SET deleted_at = now() WHERE batch_id = @batchId AND deleted_at IS NULL", new { batchId }, cancellationToken);

    /// <summary>When <paramref name="tenant"/>'s batch <paramref name="batchId"/> was deleted, while its tombstone lasts; else null.</summary>
    public async Task<DateTimeOffset?> DeletedAtAsync(string batchId, string tenant, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var deletedAt = await connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition(
            "SELECT deleted_at FROM batch_registry WHERE batch_id = @batchId AND tenant_id = @tenant AND deleted_at IS NOT NULL",
            new { batchId, tenant }, cancellationToken: cancellationToken));
        return deletedAt is { } at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null;
    }

    /// <summary>Tenants with finished batches that have no expiry yet (those from before the registry), up to <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<string>> TenantsWithoutExpiryAsync(int limit, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT DISTINCT tenant_id FROM batch_registry WHERE status = 'finished' AND expires_at IS NULL AND deleted_at IS NULL LIMIT @limit",
            new { limit }, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>Gives <paramref name="tenant"/>'s finished batches without an expiry one <paramref name="retention"/> after they finished.</summary>
    public Task SetExpiriesAsync(string tenant, TimeSpan retention, CancellationToken cancellationToken) => ExecuteAsync("""
        UPDATE batch_registry SET expires_at = finished_at + @retention
        WHERE tenant_id = @tenant AND status = 'finished' AND expires_at IS NULL AND deleted_at IS NULL
        """, new { tenant, retention }, cancellationToken);

    /// <summary>Finished batches past their expiry, the longest expired first, up to <paramref name="limit"/>.</summary>
    public async Task<IReadOnlyList<ExpiredBatch>> ExpiredAsync(int limit, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<ExpiredBatch>(new CommandDefinition("""
            SELECT batch_id AS BatchId, tenant_id AS TenantId FROM batch_registry
            WHERE status = 'finished' AND deleted_at IS NULL AND expires_at <= now()
            ORDER BY expires_at LIMIT @limit
            """, new { limit }, cancellationToken: cancellationToken))).AsList();
    }

    /// <summary>
    /// Removes up to <paramref name="limit"/> tombstones kept as long as their batches were (from finishing to expiry):
    /// their ids answer 404 from then on.
    /// </summary>
    public Task<int> ForgetAsync(int limit, CancellationToken cancellationToken) => ExecuteAsync("""
        DELETE FROM batch_registry WHERE batch_id IN (
            SELECT batch_id FROM batch_registry
            WHERE deleted_at IS NOT NULL AND deleted_at + coalesce(expires_at - finished_at, interval '0') <= now()
            LIMIT @limit)
        """, new { limit }, cancellationToken);

    /// <summary>
    /// Removes up to <paramref name="limit"/> rows of batches registered over <paramref name="age"/> ago that never stored an
    /// item: their creation failed after they were admitted (the database went away) and nobody sent it again. They would
    /// otherwise hold a place in their tenant's quota for ever; a batch stores its first items as it is created.
    /// </summary>
    public Task<int> ForgetAbandonedAsync(TimeSpan age, int limit, CancellationToken cancellationToken) => ExecuteAsync("""
        DELETE FROM batch_registry WHERE batch_id IN (
            SELECT r.batch_id FROM batch_registry r
            WHERE r.status = 'active' AND r.deleted_at IS NULL AND r.created_at < now() - @age
              AND NOT EXISTS (SELECT 1 FROM batch_item_pages p WHERE p.batch_id = r.batch_id)
            LIMIT @limit)
        """, new { age, limit }, cancellationToken);

    private async Task<int> ExecuteAsync(string sql, object parameters, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
    }

}
