using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>
/// The key of an <see cref="ISubmissionGrain"/>: a tenant's <c>Idempotency-Key</c> for one route, so the same key in two
/// tenants names two batches. The default tenant keeps the form from before tenants (<c>/path|key</c>), so claims a
/// database of that version holds still answer; any other tenant's key starts with its id (<c>tenant|/path|key</c>),
/// which a path, starting with '/', never does.
/// </summary>
public static class SubmissionKeys
{
    public static string For(string tenant, string path, string key) =>
        tenant == TenantContext.Default ? $"{path}|{key}" : $"{tenant}|{path}|{key}";

    /// <summary>The tenant a submission grain's key belongs to.</summary>
    public static string TenantOf(string grainKey) =>
        grainKey.StartsWith('/') ? TenantContext.Default : grainKey[..Math.Max(0, grainKey.IndexOf('|', StringComparison.Ordinal))];
}
