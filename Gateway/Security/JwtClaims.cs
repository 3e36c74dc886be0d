using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Security;

/// <summary>Turns a validated token's configured tenant and role claims into the gateway's own, or refuses the token.</summary>
internal static class JwtClaims
{
    public static void Configure(JwtBearerOptions bearer, JwtOptions jwt)
    {
        bearer.MapInboundClaims = false;
        bearer.RequireHttpsMetadata = jwt.RequireHttpsMetadata;
        if (!string.IsNullOrEmpty(jwt.Authority))
        {
            bearer.Authority = jwt.Authority;
        }

        bearer.Audience = jwt.Audience;
        bearer.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateAudience = !string.IsNullOrEmpty(jwt.Audience),
            ValidAudience = jwt.Audience,
            ValidateIssuer = !string.IsNullOrEmpty(jwt.Issuer) || !string.IsNullOrEmpty(jwt.Authority),
            ValidIssuer = jwt.Issuer,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = TimeSpan.FromSeconds(30),
            IssuerSigningKey = string.IsNullOrEmpty(jwt.SigningKey) ? null : new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(jwt.SigningKey)),
        };
        bearer.Events = new JwtBearerEvents
        {
            OnAuthenticationFailed = context =>
            {
                Credentials.Refused(context.HttpContext, context.Exception is SecurityTokenExpiredException
                    ? "The bearer token has expired."
                    : "The bearer token is not valid (signature, issuer, audience or lifetime).");
                return Task.CompletedTask;
            },
            OnTokenValidated = context =>
            {
                if (Identity(context.Principal, jwt) is { } principal)
                {
                    context.Principal = principal;
                }
                else
                {
                    var reason = $"The bearer token carries no valid '{jwt.RoleClaim}' claim (reader, writer or admin) or, for reader and writer, no valid '{jwt.TenantClaim}' claim.";
                    Credentials.Refused(context.HttpContext, reason);
                    context.Fail(reason);
                }

                return Task.CompletedTask;
            },
        };
    }

    /// <summary>The gateway's principal for a token's claims; null when they name no role, or a tenant role without a tenant.</summary>
    internal static ClaimsPrincipal? Identity(ClaimsPrincipal? token, JwtOptions jwt)
    {
        var roles = token?.FindAll(jwt.RoleClaim).Select(c => c.Value).Where(ApiRoles.IsValid).Distinct().ToList() ?? [];
        if (roles.Count != 1)
        {
            return null;
        }

        var role = roles[0];
        if (role == ApiRoles.Admin)
        {
            return Credentials.Principal(Credentials.JwtScheme, null, role);
        }

        var tenant = token!.FindFirst(jwt.TenantClaim)?.Value;
        return TenantContext.IsValidId(tenant) ? Credentials.Principal(Credentials.JwtScheme, tenant, role) : null;
    }
}
