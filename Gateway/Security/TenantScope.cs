using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Security;

/// <summary>
/// Makes the authenticated caller's tenant the tenant of every grain call the request makes (<see cref="TenantContext"/>).
/// </summary>
public static class TenantScope
{
    /// <summary>The claim that names the caller's tenant.</summary>
    public const string TenantClaim = "orleans-batch:tenant";

    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        // Until credentials are required every caller acts for the default tenant.
        var tenant = context.User.FindFirst(TenantClaim)?.Value ?? TenantContext.Default;
        TenantContext.Set(tenant);
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
