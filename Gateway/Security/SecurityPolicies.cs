using Microsoft.AspNetCore.Authorization;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Security;

/// <summary>
/// Who may call what: the operator's routes need <see cref="Admin"/>; every other route (the fallback) needs a tenant's
/// credential, a reader's only for GET and HEAD.
/// </summary>
public static class SecurityPolicies
{
    public const string Admin = "admin";

    public static void Add(AuthorizationOptions options)
    {
        options.AddPolicy(Admin, policy => policy.RequireAuthenticatedUser().RequireClaim(Credentials.RoleClaim, ApiRoles.Admin));
        options.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().AddRequirements(new TenantAccess()).Build();
    }

    /// <summary>May the caller act on its tenant's data with this request's method.</summary>
    public static bool AllowsTenantAccess(System.Security.Claims.ClaimsPrincipal user, string method) =>
        user.FindFirst(TenantScope.TenantClaim) is not null
        && user.FindFirst(Credentials.RoleClaim)?.Value switch
        {
            ApiRoles.Writer => true,
            ApiRoles.Reader => HttpMethods.IsGet(method) || HttpMethods.IsHead(method),
            _ => false,
        };

    /// <summary>The requirement of the fallback policy (<see cref="AllowsTenantAccess"/>).</summary>
    public sealed class TenantAccess : AuthorizationHandler<TenantAccess>, IAuthorizationRequirement
    {
        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, TenantAccess requirement)
        {
            if (context.Resource is HttpContext http && AllowsTenantAccess(context.User, http.Request.Method))
            {
                context.Succeed(requirement);
            }

            return Task.CompletedTask;
        }
    }
}
