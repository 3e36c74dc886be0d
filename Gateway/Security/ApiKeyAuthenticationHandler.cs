using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Security;

/// <summary>
/// Authenticates an API key from <c>Authorization: Bearer</c> or <c>X-Api-Key</c>. Refusals are answered by
/// <see cref="CredentialProblems"/>, alike for every scheme.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyVerifier verifier)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = Credentials.Read(Request, out var malformed);
        // A route open to all (GET /health) does not ask the cluster about a key: it must answer while the cluster cannot.
        if ((key is null && !malformed) || Context.GetEndpoint()?.Metadata.GetMetadata<IAllowAnonymous>() is not null)
        {
            return AuthenticateResult.NoResult();
        }

        if (malformed || !ApiKeys.TryParse(key, out var keyId))
        {
            return Refuse("The credential is not a bearer token or API key of the expected form.");
        }

        if (await verifier.VerifyAsync(key!, keyId, Context.RequestAborted) is not { } identity)
        {
            return Refuse("The API key is unknown or revoked.");
        }

        return AuthenticateResult.Success(new AuthenticationTicket(
            Credentials.Principal(Scheme.Name, identity.Tenant, identity.Role), Scheme.Name));
    }

    private AuthenticateResult Refuse(string reason)
    {
        Credentials.Refused(Context, reason);
        return AuthenticateResult.Fail(reason);
    }
}
