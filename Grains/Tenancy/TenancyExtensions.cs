using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Tenancy;

public static class TenancyExtensions
{
    /// <summary>
    /// Tenants: their default quotas, validated at start-up, their rows and keys in PostgreSQL, and the silo's cache of
    /// each tenant's quotas.
    /// </summary>
    public static IServiceCollection AddTenancy(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TenantQuotaOptions>()
            .Bind(configuration.GetSection(TenantQuotaOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<TenantQuotaOptions>, SelfValidation<TenantQuotaOptions>>();
        services.AddSingleton<TenantStore>();
        services.AddSingleton(sp => new TenantQuotaCache(sp.GetRequiredService<IGrainFactory>()));
        services.AddSingleton<Fairness.ITenantWeights>(sp => sp.GetRequiredService<TenantQuotaCache>());
        return services;
    }
}
