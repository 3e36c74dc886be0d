using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Hosting;

namespace Orleans.Batch.Gateway.Security;

public static class SecurityExtensions
{
    /// <summary>
    /// Credentials: API keys (checked by their key grains, a yes trusted for at most 2 s) and, when configured, JWT
    /// bearer tokens; a policy scheme picks one by the credential's shape. Options validated at start-up.
    /// </summary>
    public static WebApplicationBuilder AddBatchSecurity(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ApiKeyOptions>().Bind(builder.Configuration.GetSection(ApiKeyOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ApiKeyOptions>, OptionsValidator<ApiKeyOptions>>();
        services.AddOptions<JwtOptions>().Bind(builder.Configuration.GetSection(JwtOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<JwtOptions>, OptionsValidator<JwtOptions>>();
        services.AddSingleton<ApiKeyVerifier>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, CredentialProblems>();
        services.AddSingleton<IAuthorizationHandler, SecurityPolicies.TenantAccess>();
        services.AddSingleton<IConfigureOptions<JwtBearerOptions>, ConfigureJwt>();

        var jwtEnabled = builder.Configuration.GetSection(JwtOptions.Section).Get<JwtOptions>()?.Enabled ?? false;
        services.AddAuthentication(Credentials.Scheme)
            .AddPolicyScheme(Credentials.Scheme, "API key or JWT", o => o.ForwardDefaultSelector = http =>
                jwtEnabled && Credentials.LooksLikeJwt(Credentials.Read(http.Request, out _)) ? Credentials.JwtScheme : Credentials.ApiKeyScheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(Credentials.ApiKeyScheme, null)
            .AddJwtBearer(Credentials.JwtScheme, _ => { });
        services.AddAuthorization(SecurityPolicies.Add);
        return builder;
    }

    /// <summary>Authenticates, authorizes and then scopes every grain call to the caller's tenant.</summary>
    public static WebApplication UseBatchSecurity(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.Use(TenantScope.InvokeAsync);
        return app;
    }

    private sealed class ConfigureJwt(IOptions<JwtOptions> jwt) : IConfigureNamedOptions<JwtBearerOptions>
    {
        public void Configure(string? name, JwtBearerOptions options)
        {
            if (name == Credentials.JwtScheme)
            {
                JwtClaims.Configure(options, jwt.Value);
            }
        }

        public void Configure(JwtBearerOptions options) => Configure(Options.DefaultName, options);
    }
}
