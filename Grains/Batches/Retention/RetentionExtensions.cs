using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Batches.Retention;

public static class RetentionExtensions
{
    /// <summary>The batch registry, the quotas batches are held to, and the janitor that deletes finished batches after their tenant's retention.</summary>
    public static IServiceCollection AddBatchRetention(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RetentionOptions>()
            .Bind(configuration.GetSection(RetentionOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<RetentionOptions>, SelfValidation<RetentionOptions>>();
        services.AddSingleton<BatchRegistry>();
        services.AddSingleton<BatchQuotas>();
        services.AddSingleton<RetentionJanitor>();
        services.AddHostedService(sp => sp.GetRequiredService<RetentionJanitor>());
        return services;
    }
}
