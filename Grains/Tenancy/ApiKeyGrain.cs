using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Tenancy;

/// <summary>
/// One API key, keyed by its key id: the only writer of its row, which it keeps in memory, so a revocation refuses the
/// key's next verification at once. An id with no row is read again on every call. Idle activations go after two
/// minutes (unknown ids are what a guessing client creates); never deactivated on demand, which made concurrent calls
/// for the same unknown id fail with a rejected message (answered 503).
/// </summary>
[CollectionAgeLimit(Minutes = 2)]
public sealed partial class ApiKeyGrain(TenantStore store, ILogger<ApiKeyGrain> logger) : Grain, IApiKeyGrain
{
    private KeyRow? _row;

    private string KeyId => this.GetPrimaryKeyString();

    public async Task<ApiKeyInfo?> CreateAsync(string? tenant, string role, byte[] hash, CancellationToken cancellationToken = default)
    {
        if (!ApiKeys.IsKeyId(KeyId) || !ApiRoles.IsValid(role) || (role == ApiRoles.Admin) != (tenant is null) || hash.Length != SHA256.HashSizeInBytes)
        {
            throw new ArgumentException($"A key of role '{role}' for tenant '{tenant}' with id '{KeyId}' cannot be stored.");
        }

        if (await RowAsync(cancellationToken) is not null)
        {
            return null;
        }

        _row = await store.InsertKeyAsync(KeyId, tenant, role, hash, cancellationToken);
        if (_row is not null)
        {
            LogCreated(KeyId, role, tenant ?? "(operator)");
        }

        return _row?.Info;
    }

    public async Task<ApiKeyIdentity?> VerifyAsync(byte[] hash, CancellationToken cancellationToken = default)
    {
        // Constant time: how much of a presented hash matches says nothing to the caller.
        return await RowAsync(cancellationToken) is { RevokedAt: null } row && CryptographicOperations.FixedTimeEquals(row.Hash, hash)
            ? new ApiKeyIdentity(row.Tenant, row.Role)
            : null;
    }

    public async Task<bool> RevokeAsync(CancellationToken cancellationToken = default)
    {
        if (await RowAsync(cancellationToken) is null)
        {
            return false;
        }

        _row = await store.RevokeKeyAsync(KeyId, cancellationToken);
        LogRevoked(KeyId, _row?.Tenant ?? "(operator)");
        return _row is not null;
    }

    private async Task<KeyRow?> RowAsync(CancellationToken cancellationToken)
    {
        if (_row is null && ApiKeys.IsKeyId(KeyId))
        {
            _row = await store.GetKeyAsync(KeyId, cancellationToken);
        }

        return _row;
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "API key {KeyId} ({Role}) created for tenant {Tenant}")]
    private partial void LogCreated(string keyId, string role, string tenant);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "API key {KeyId} of tenant {Tenant} revoked")]
    private partial void LogRevoked(string keyId, string tenant);
}
