using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Orleans.Batch.Gateway.Http;

namespace Orleans.Batch.Gateway.Security;

/// <summary>
/// Answers a refused request as problem details, whatever scheme refused it: 401 with a <c>WWW-Authenticate</c>
/// challenge when the caller is not authenticated (with <c>error="invalid_token"</c> when it presented a credential),
/// 403 when it is but its role does not allow the route.
/// </summary>
internal sealed class CredentialProblems : IAuthorizationMiddlewareResultHandler
{
    private const string Realm = "Bearer realm=\"orleans-batch\"";

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            return next(context);
        }

        if (authorizeResult.Forbidden)
        {
            context.Response.Headers.WWWAuthenticate = Realm + ", error=\"insufficient_scope\"";
            return ProblemResponses.WriteAsync(context, ApiProblems.Forbidden(
                "The credential is valid but its role does not allow this request (reader: GET and HEAD of its tenant; writer: all of its tenant; admin: /admin and the dashboard)."));
        }

        if (Credentials.Presented(context.Request))
        {
            var reason = context.Items[Credentials.FailureItem] as string ?? "The credential was refused.";
            context.Response.Headers.WWWAuthenticate = $"{Realm}, error=\"invalid_token\", error_description=\"{reason}\"";
            return ProblemResponses.WriteAsync(context, ApiProblems.Unauthorized(reason));
        }

        context.Response.Headers.WWWAuthenticate = Realm;
        return ProblemResponses.WriteAsync(context, ApiProblems.Unauthorized(
            "This request needs a credential: 'Authorization: Bearer <API key or token>' or 'X-Api-Key: <API key>'."));
    }
}
