using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Security;

/// <summary>
/// Asks a key's grain whether a presented key is valid, and trusts a yes for at most
/// <see cref="ApiKeyOptions.CacheDuration"/>, so a revoked key stops working on this gateway within that time.
/// A no is never remembered: a key refused once may be valid a moment later.
/// </summary>
public sealed class ApiKeyVerifier(IClusterClient cluster, IOptions<ApiKeyOptions> options, TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, (ApiKeyIdentity Identity, long Until)> _verified = new(StringComparer.Ordinal);

    /// <summary>Who <paramref name="key"/> (already parsed, with <paramref name="keyId"/>) acts as; null when it is unknown or revoked.</summary>
    public async Task<ApiKeyIdentity?> VerifyAsync(string key, string keyId, CancellationToken cancellationToken)
    {
        var hash = ApiKeys.Hash(key);
        // Remembered by hash, so the gateway's memory holds no key.
        var cacheKey = Convert.ToBase64String(hash);
        var now = clock.GetTimestamp();
        if (_verified.TryGetValue(cacheKey, out var hit) && now < hit.Until)
        {
            return hit.Identity;
        }

        var identity = await cluster.GetGrain<IApiKeyGrain>(keyId).VerifyAsync(hash, cancellationToken);
        var duration = options.Value.CacheDuration;
        if (identity is null || duration <= TimeSpan.Zero)
        {
            _verified.TryRemove(cacheKey, out _);
            return identity;
        }

        if (_verified.Count >= options.Value.CacheSize)
        {
            _verified.Clear();
        }

        _verified[cacheKey] = (identity, now + (long)(duration.TotalSeconds * clock.TimestampFrequency));
        return identity;
    }
}
