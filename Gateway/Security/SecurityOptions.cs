using Orleans.Batch.Gateway.Hosting;

namespace Orleans.Batch.Gateway.Security;

/// <summary>How the gateway checks API keys. Bound from the <c>Security:ApiKeys</c> section.</summary>
public sealed class ApiKeyOptions : IValidatedOptions
{
    public const string Section = "Security:ApiKeys";

    /// <summary>The longest a revoked key can still act on this gateway.</summary>
    public static readonly TimeSpan MaxCacheDuration = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a gateway trusts a key it verified before asking its key grain again (default 2 s, at most 2 s, 0 asks on
    /// every request): a revoked key is refused on every gateway within this time.
    /// </summary>
    public TimeSpan CacheDuration { get; set; } = MaxCacheDuration;

    /// <summary>Verified keys a gateway remembers at once (default 10,000); when full it forgets them all.</summary>
    public int CacheSize { get; set; } = 10_000;

    public IEnumerable<string> Validate()
    {
        if (CacheDuration < TimeSpan.Zero || CacheDuration > MaxCacheDuration)
        {
            yield return $"{Section}:CacheDuration must be from 0 to {MaxCacheDuration}; got {CacheDuration}.";
        }

        if (CacheSize is < 1 or > 10_000_000)
        {
            yield return $"{Section}:CacheSize must be from 1 to 10000000; got {CacheSize}.";
        }
    }
}

/// <summary>
/// JWT bearer tokens from an identity provider. Bound from the <c>Security:Jwt</c> section; off until
/// <see cref="Authority"/> or <see cref="SigningKey"/> is set.
/// </summary>
public sealed class JwtOptions : IValidatedOptions
{
    public const string Section = "Security:Jwt";

    /// <summary>The identity provider's URL, whose discovery document gives the signing keys and the issuer.</summary>
    public string? Authority { get; set; }

    /// <summary>The audience a token must name (unchecked when not set).</summary>
    public string? Audience { get; set; }

    /// <summary>The issuer a token must name (with <see cref="SigningKey"/>; unchecked when not set).</summary>
    public string? Issuer { get; set; }

    /// <summary>A shared HMAC-SHA256 signing key of at least 32 bytes (UTF-8), instead of an authority.</summary>
    public string? SigningKey { get; set; }

    /// <summary>The claim naming the caller's tenant (default <c>tenant</c>).</summary>
    public string TenantClaim { get; set; } = "tenant";

    /// <summary>The claim naming the caller's role: reader, writer or admin (default <c>role</c>).</summary>
    public string RoleClaim { get; set; } = "role";

    /// <summary>Whether the authority's metadata must be fetched over HTTPS (default true).</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    public bool Enabled => !string.IsNullOrEmpty(Authority) || !string.IsNullOrEmpty(SigningKey);

    public IEnumerable<string> Validate()
    {
        if (!string.IsNullOrEmpty(Authority) && !string.IsNullOrEmpty(SigningKey))
        {
            yield return $"{Section}: set Authority or SigningKey, not both.";
        }

        if (!string.IsNullOrEmpty(Authority) && !Uri.TryCreate(Authority, UriKind.Absolute, out _))
        {
            yield return $"{Section}:Authority must be an absolute URL; got '{Authority}'.";
        }

        if (!string.IsNullOrEmpty(SigningKey) && System.Text.Encoding.UTF8.GetByteCount(SigningKey) < 32)
        {
            yield return $"{Section}:SigningKey must be at least 32 bytes.";
        }

        if (string.IsNullOrWhiteSpace(TenantClaim) || string.IsNullOrWhiteSpace(RoleClaim))
        {
            yield return $"{Section}:TenantClaim and {Section}:RoleClaim must name claims.";
        }
    }
}
