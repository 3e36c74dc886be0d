using System.Text.RegularExpressions;

namespace Orleans.Batch.Grains.Interfaces.Tenancy;

/// <summary>
/// The tenant a grain call acts for. It travels in Orleans' <see cref="RequestContext"/>, so it follows every call the
/// gateway makes and every call a grain makes while serving one; a grain that works outside a call (a reminder, a
/// timer, a janitor) sets it from what it stored before calling out. Every read or write of a tenant's data takes it
/// from here, never from the call's arguments.
/// </summary>
public static partial class TenantContext
{
    /// <summary>The <see cref="RequestContext"/> key.</summary>
    public const string Key = "orleans-batch.tenant";

    /// <summary>The tenant that data from before tenants existed belongs to.</summary>
    public const string Default = "default";

    /// <summary>The tenant of the current call, or null when the call acts for none (the operator, the runtime).</summary>
    public static string? Current => RequestContext.Get(Key) as string;

    /// <summary>The tenant of the current call; a call that carries none is refused.</summary>
    public static string Required => Current ?? throw new TenantRequiredException();

    /// <summary>Makes <paramref name="tenant"/> the tenant of the calls made from here on in this async flow.</summary>
    public static void Set(string tenant)
    {
        if (!IsValidId(tenant))
        {
            throw new ArgumentException($"'{tenant}' is not a tenant id.", nameof(tenant));
        }

        RequestContext.Set(Key, tenant);
    }

    /// <summary>Calls from here on act for no tenant.</summary>
    public static void Clear() => RequestContext.Remove(Key);

    /// <summary>
    /// A tenant id: 1 to 40 lower-case letters, digits and inner hyphens (it names the tenant in URLs, logs and keys).
    /// </summary>
    public static bool IsValidId(string? id) => id is not null && IdPattern().IsMatch(id);

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();
}

/// <summary>A grain call that needs a tenant carried none: a defect of the caller, never a client's error.</summary>
[GenerateSerializer, Alias("Orleans.Batch.TenantRequiredException")]
public sealed class TenantRequiredException() : InvalidOperationException("The call carries no tenant.");
