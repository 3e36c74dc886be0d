using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Orleans.Batch.Grains.Interfaces.Tenancy;

/// <summary>What a credential may do.</summary>
public static class ApiRoles
{
    /// <summary>Reads its tenant's data: GET and HEAD routes.</summary>
    public const string Reader = "reader";

    /// <summary>Reads and changes its tenant's data.</summary>
    public const string Writer = "writer";

    /// <summary>The operator: tenants, keys, quotas, the dashboard; no tenant's data.</summary>
    public const string Admin = "admin";

    public static bool IsValid(string? role) => role is Reader or Writer or Admin;

    /// <summary>A role that belongs to a tenant (every role but the operator's).</summary>
    public static bool IsTenantRole(string? role) => role is Reader or Writer;
}

/// <summary>
/// API keys: <c>obk_&lt;keyId&gt;_&lt;secret&gt;</c>, a public 12-hex-digit id for listing and revoking and a secret of 256
/// random bits (base64url). Only <see cref="Hash"/> of a key is stored: a plain SHA-256 suffices because the secret is
/// 256 bits from a CSPRNG, far beyond guessing, so a slow password hash would only cost CPU on every request.
/// </summary>
public static class ApiKeys
{
    public const string Prefix = "obk_";

    public const int KeyIdLength = 12;

    private const int SecretBytes = 32;

    private static readonly int SecretLength = Base64Url.GetEncodedLength(SecretBytes);

    /// <summary>The length of every key.</summary>
    public static int Length => Prefix.Length + KeyIdLength + 1 + SecretLength;

    /// <summary>A new key id (12 lower-case hex digits).</summary>
    public static string NewKeyId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(KeyIdLength / 2));

    /// <summary>A new key with id <paramref name="keyId"/> and a fresh secret.</summary>
    public static string NewKey(string keyId) => Prefix + keyId + "_" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(SecretBytes));

    /// <summary>True when <paramref name="keyId"/> has the shape of a key id.</summary>
    public static bool IsKeyId(string? keyId) => keyId is { Length: KeyIdLength } && keyId.All(char.IsAsciiHexDigitLower);

    /// <summary>Reads the key id of <paramref name="key"/>; false when it is not shaped like a key.</summary>
    public static bool TryParse(string? key, out string keyId)
    {
        keyId = "";
        if (key is null || key.Length != Length || !key.StartsWith(Prefix, StringComparison.Ordinal) || key[Prefix.Length + KeyIdLength] != '_')
        {
            return false;
        }

        var id = key.Substring(Prefix.Length, KeyIdLength);
        var secret = key.AsSpan(Prefix.Length + KeyIdLength + 1);
        if (!IsKeyId(id) || !Base64Url.IsValid(secret, out var decoded) || decoded != SecretBytes)
        {
            return false;
        }

        keyId = id;
        return true;
    }

    /// <summary>The stored form of a key: SHA-256 of its UTF-8 text.</summary>
    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));
}
