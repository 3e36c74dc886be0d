using Orleans.Batch.Grains.Database;
using Dapper;
using Npgsql;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Tenancy;

/// <summary>The <c>tenants</c> and <c>api_keys</c> tables (deploy/sql/30-tenants.sql).</summary>
public sealed class TenantStore(NpgsqlDataSource dataSource, DatabaseGate gate)
{
    private const string TenantColumns = """
        id AS Id, name AS Name, created_at AS CreatedAt, requests_per_second AS RequestsPerSecond, burst AS Burst,
        active_batches AS ActiveBatches, in_flight_operations AS InFlightOperations, import_rows AS ImportRows,
        weight AS Weight, retention AS Retention, idempotency_retention AS IdempotencyRetention
        """;

    private const string KeyColumns =
        "key_id AS KeyId, tenant_id AS Tenant, role AS Role, hash AS Hash, created_at AS CreatedAt, revoked_at AS RevokedAt";

    public async Task<TenantRow?> GetTenantAsync(string id, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<TenantRow>(new CommandDefinition(
            $"SELECT {TenantColumns} FROM tenants WHERE id = @id", new { id }, cancellationToken: cancellationToken));
    }

    /// <summary>The new tenant's row; null when the id is taken.</summary>
    public async Task<TenantRow?> InsertTenantAsync(string id, string name, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<TenantRow>(new CommandDefinition(
            $"INSERT INTO tenants (id, name) VALUES (@id, @name) ON CONFLICT (id) DO NOTHING RETURNING {TenantColumns}",
            new { id, name }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<TenantRow>> ListTenantsAsync(CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<TenantRow>(new CommandDefinition(
            $"SELECT {TenantColumns} FROM tenants ORDER BY id", cancellationToken: cancellationToken))).AsList();
    }

    public async Task<bool> TenantExistsAsync(string id, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM tenants WHERE id = @id)", new { id }, cancellationToken: cancellationToken));
    }

    /// <summary>Replaces the tenant's overrides; its row as stored, or null when there is no such tenant.</summary>
    public async Task<TenantRow?> SetOverridesAsync(string id, TenantQuotaOverrides o, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<TenantRow>(new CommandDefinition(
            $"""
            UPDATE tenants SET requests_per_second = @RequestsPerSecond, burst = @Burst, active_batches = @ActiveBatches,
                in_flight_operations = @InFlightOperations, import_rows = @ImportRows, weight = @Weight,
                retention = make_interval(secs => @RetentionSeconds), idempotency_retention = make_interval(secs => @IdempotencyRetentionSeconds)
            WHERE id = @id RETURNING {TenantColumns}
            """,
            new
            {
                id, o.RequestsPerSecond, o.Burst, o.ActiveBatches, o.InFlightOperations, o.ImportRows, o.Weight,
                // Dapper would send a TimeSpan as a time of day, which stops at 24 h.
                RetentionSeconds = o.Retention?.TotalSeconds,
                IdempotencyRetentionSeconds = o.IdempotencyRetention?.TotalSeconds,
            },
            cancellationToken: cancellationToken));
    }

    public async Task<KeyRow?> GetKeyAsync(string keyId, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(
            $"SELECT {KeyColumns} FROM api_keys WHERE key_id = @keyId", new { keyId }, cancellationToken: cancellationToken));
    }

    /// <summary>The new key's row; null when the key id is taken.</summary>
    public async Task<KeyRow?> InsertKeyAsync(string keyId, string? tenant, string role, byte[] hash, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(
            $"""
            INSERT INTO api_keys (key_id, tenant_id, role, hash) VALUES (@keyId, @tenant, @role, @hash)
            ON CONFLICT (key_id) DO NOTHING RETURNING {KeyColumns}
            """,
            new { keyId, tenant, role, hash }, cancellationToken: cancellationToken));
    }

    /// <summary>Marks the key revoked (keeping the first revocation's time); its row, or null when there is no such key.</summary>
    public async Task<KeyRow?> RevokeKeyAsync(string keyId, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(
            $"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = @keyId RETURNING {KeyColumns}",
            new { keyId }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<KeyRow>> ListKeysAsync(string tenant, CancellationToken cancellationToken)
    {
        using var slot = await gate.EnterAsync(cancellationToken);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<KeyRow>(new CommandDefinition(
            $"SELECT {KeyColumns} FROM api_keys WHERE tenant_id = @tenant ORDER BY created_at, key_id", new { tenant },
            cancellationToken: cancellationToken))).AsList();
    }
}

/// <summary>A row of <c>tenants</c>.</summary>
public sealed class TenantRow
{
    public string Id { get; init; } = "";

    public string Name { get; init; } = "";

    public DateTime CreatedAt { get; init; }

    public double? RequestsPerSecond { get; init; }

    public int? Burst { get; init; }

    public int? ActiveBatches { get; init; }

    public int? InFlightOperations { get; init; }

    public int? ImportRows { get; init; }

    public int? Weight { get; init; }

    public TimeSpan? Retention { get; init; }

    public TimeSpan? IdempotencyRetention { get; init; }

    public TenantInfo Info => new(Id, Name, new DateTimeOffset(CreatedAt, TimeSpan.Zero));

    public TenantQuotaOverrides Overrides =>
        new(RequestsPerSecond, Burst, ActiveBatches, InFlightOperations, ImportRows, Weight, Retention, IdempotencyRetention);
}

/// <summary>A row of <c>api_keys</c>.</summary>
public sealed class KeyRow
{
    public string KeyId { get; init; } = "";

    public string? Tenant { get; init; }

    public string Role { get; init; } = "";

    public byte[] Hash { get; init; } = [];

    public DateTime CreatedAt { get; init; }

    public DateTime? RevokedAt { get; init; }

    public ApiKeyInfo Info => new(KeyId, Tenant, Role, new DateTimeOffset(CreatedAt, TimeSpan.Zero),
        RevokedAt is { } revoked ? new DateTimeOffset(revoked, TimeSpan.Zero) : null);
}
