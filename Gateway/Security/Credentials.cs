using System.Security.Claims;
using Microsoft.Extensions.Primitives;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Security;

/// <summary>Where a request carries its credential, and the identity the gateway gives an authenticated caller.</summary>
public static class Credentials
{
    public const string ApiKeyHeader = "X-Api-Key";

    /// <summary>The policy scheme that picks JWT or API key by the credential's shape.</summary>
    public const string Scheme = "Credentials";

    public const string ApiKeyScheme = "ApiKey";

    public const string JwtScheme = "Jwt";

    /// <summary>The claim naming the caller's role (<see cref="ApiRoles"/>).</summary>
    public const string RoleClaim = "orleans-batch:role";

    /// <summary>Where a handler leaves why a presented credential was refused, for the 401's WWW-Authenticate.</summary>
    internal const string FailureItem = "orleans-batch:credential-failure";

    /// <summary>
    /// The credential of the request: the token of <c>Authorization: Bearer</c>, else <c>X-Api-Key</c>. Null when the
    /// request carries none; <paramref name="malformed"/> says a credential was sent but cannot be read.
    /// </summary>
    public static string? Read(HttpRequest request, out bool malformed)
    {
        malformed = false;
        var authorization = request.Headers.Authorization;
        var apiKey = request.Headers[ApiKeyHeader];
        if (StringValues.IsNullOrEmpty(authorization) && StringValues.IsNullOrEmpty(apiKey))
        {
            return null;
        }

        if (authorization.Count > 1 || apiKey.Count > 1)
        {
            malformed = true;
            return null;
        }

        if (!StringValues.IsNullOrEmpty(authorization))
        {
            var value = authorization.ToString();
            const string bearer = "Bearer ";
            if (!value.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) || value.Length == bearer.Length)
            {
                malformed = true;
                return null;
            }

            return value[bearer.Length..].Trim();
        }

        return apiKey.ToString().Trim();
    }

    /// <summary>Whether the request carries anything in a credential header.</summary>
    public static bool Presented(HttpRequest request) =>
        !StringValues.IsNullOrEmpty(request.Headers.Authorization) || !StringValues.IsNullOrEmpty(request.Headers[ApiKeyHeader]);

    /// <summary>A JWT has three dot-separated parts; an API key has none.</summary>
    public static bool LooksLikeJwt(string? token) => token is not null && token.Count(c => c == '.') == 2;

    /// <summary>The principal of a caller: its role and, for a tenant's credential, its tenant.</summary>
    public static ClaimsPrincipal Principal(string scheme, string? tenant, string role)
    {
        var claims = new List<Claim> { new(RoleClaim, role) };
        if (tenant is not null)
        {
            claims.Add(new Claim(TenantScope.TenantClaim, tenant));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme, TenantScope.TenantClaim, RoleClaim));
    }

    /// <summary>Records why the request's credential was refused (a sentence without the credential).</summary>
    internal static void Refused(HttpContext http, string reason) => http.Items[FailureItem] = reason;
}
