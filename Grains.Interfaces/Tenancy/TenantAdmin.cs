namespace Orleans.Batch.Grains.Interfaces.Tenancy;

/// <summary>A tenant as the operator sees it.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.TenantInfo")]
public sealed record TenantInfo(
    [property: Id(0)] string Id,
    [property: Id(1)] string Name,
    [property: Id(2)] DateTimeOffset CreatedAt);

/// <summary>An API key as listed: never the key nor its hash.</summary>
/// <param name="Tenant">Its tenant; null for an operator (admin) key.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.ApiKeyInfo")]
public sealed record ApiKeyInfo(
    [property: Id(0)] string KeyId,
    [property: Id(1)] string? Tenant,
    [property: Id(2)] string Role,
    [property: Id(3)] DateTimeOffset CreatedAt,
    [property: Id(4)] DateTimeOffset? RevokedAt);

/// <summary>A key just created: the only time its text is shown.</summary>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.CreatedApiKey")]
public sealed record CreatedApiKey(
    [property: Id(0)] ApiKeyInfo Info,
    [property: Id(1)] string Key);

/// <summary>Who a verified key acts as.</summary>
/// <param name="Tenant">Null for an operator (admin) key.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.ApiKeyIdentity")]
public sealed record ApiKeyIdentity(
    [property: Id(0)] string? Tenant,
    [property: Id(1)] string Role);

/// <summary>Tenants and their keys, for the operator (no tenant's data).</summary>
public interface ITenantAdminGrain : IGrainWithIntegerKey
{
    Task<IReadOnlyList<TenantInfo>> ListTenantsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// A new key of <paramref name="role"/> for <paramref name="tenant"/> (null and <see cref="ApiRoles.Admin"/> for an
    /// operator key); null when no tenant has that id.
    /// </summary>
    Task<CreatedApiKey?> CreateKeyAsync(string? tenant, string role, CancellationToken cancellationToken = default);

    /// <summary>The tenant's keys, revoked ones included; null when no tenant has that id.</summary>
    Task<IReadOnlyList<ApiKeyInfo>?> ListKeysAsync(string tenant, CancellationToken cancellationToken = default);
}

/// <summary>
/// One API key, keyed by its key id. It keeps the key's row in memory, so a revocation through it refuses the key's
/// very next verification on every gateway that asks.
/// </summary>
public interface IApiKeyGrain : IGrainWithStringKey
{
    /// <summary>Stores the key with <paramref name="hash"/>; null when the id is taken.</summary>
    Task<ApiKeyInfo?> CreateAsync(string? tenant, string role, byte[] hash, CancellationToken cancellationToken = default);

    /// <summary>Who the key acts as when <paramref name="hash"/> is its hash and it is not revoked; null otherwise.</summary>
    Task<ApiKeyIdentity?> VerifyAsync(byte[] hash, CancellationToken cancellationToken = default);

    /// <summary>Revokes the key (again is a no-op); false when there is no such key.</summary>
    Task<bool> RevokeAsync(CancellationToken cancellationToken = default);
}
