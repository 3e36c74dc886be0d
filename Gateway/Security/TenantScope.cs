using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Security;

/// <summary>
/// Makes the authenticated caller's tenant the tenant of every grain call the request makes (<see cref="TenantContext"/>).
/// A tenant's credential always carries its tenant; the operator's carries none, and its calls act for no tenant.
/// </summary>
public static class TenantScope
{
    /// <summary>The claim that names the caller's tenant.</summary>
    public const string TenantClaim = "orleans-batch:tenant";

    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (context.User.FindFirst(TenantClaim)?.Value is { } tenant)
        {
            TenantContext.Set(tenant);
        }
        else
        {
            TenantContext.Clear();
        }

        try
        {
            await next(context);
        }
        finally
        {
            TenantContext.Clear();
        }
    }
}
