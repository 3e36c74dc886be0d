using Microsoft.Extensions.Options;

namespace Orleans.Batch.Gateway.Quotas;

public static class RateLimitExtensions
{
    /// <summary>Tenants' request rates, applied per gateway from the quotas the cluster holds; options validated at start-up.</summary>
    public static WebApplicationBuilder AddTenantRateLimits(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TenantRateLimitOptions>()
            .Bind(builder.Configuration.GetSection(TenantRateLimitOptions.Section))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TenantRateLimitOptions>, Validator>();
        builder.Services.AddSingleton<TenantQuotaCache>();
        builder.Services.AddSingleton<TenantRateLimits>();
        return builder;
    }

    private sealed class Validator : IValidateOptions<TenantRateLimitOptions>
    {
        public ValidateOptionsResult Validate(string? name, TenantRateLimitOptions options) =>
            options.Validate().ToList() is { Count: > 0 } failures ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
