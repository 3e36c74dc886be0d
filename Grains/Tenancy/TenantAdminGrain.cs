using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Concurrency;

namespace Orleans.Batch.Grains.Tenancy;

/// <summary>Lists tenants and keys from the database and makes new keys; each key is stored by its own <see cref="IApiKeyGrain"/>.</summary>
[StatelessWorker]
public sealed class TenantAdminGrain(TenantStore store) : Grain, ITenantAdminGrain
{
    private const int KeyIdAttempts = 5;

    public async Task<IReadOnlyList<TenantInfo>> ListTenantsAsync(CancellationToken cancellationToken = default) =>
        [.. (await store.ListTenantsAsync(cancellationToken)).Select(row => row.Info)];

    public async Task<CreatedApiKey?> CreateKeyAsync(string? tenant, string role, CancellationToken cancellationToken = default)
    {
        if (tenant is not null && !await store.TenantExistsAsync(tenant, cancellationToken))
        {
            return null;
        }

        // A 48-bit id rarely collides; a taken one is drawn again.
        for (var attempt = 0; attempt < KeyIdAttempts; attempt++)
        {
            var keyId = ApiKeys.NewKeyId();
            var key = ApiKeys.NewKey(keyId);
            if (await GrainFactory.GetGrain<IApiKeyGrain>(keyId).CreateAsync(tenant, role, ApiKeys.Hash(key), cancellationToken) is { } info)
            {
                return new CreatedApiKey(info, key);
            }
        }

        throw new InvalidOperationException($"No free key id was drawn in {KeyIdAttempts} attempts.");
    }

    public async Task<IReadOnlyList<ApiKeyInfo>?> ListKeysAsync(string tenant, CancellationToken cancellationToken = default) =>
        await store.TenantExistsAsync(tenant, cancellationToken)
            ? [.. (await store.ListKeysAsync(tenant, cancellationToken)).Select(row => row.Info)]
            : null;
}
