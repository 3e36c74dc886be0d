using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Diagnostics;
using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Batches;

public static class BatchExtensions
{
    /// <summary>Registers batch execution: its options, validated at start-up, and its metrics.</summary>
    public static IServiceCollection AddBatching(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BatchOptions>()
            .Bind(configuration.GetSection(BatchOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<BatchOptions>, SelfValidation<BatchOptions>>();
        services.AddMetrics();
        services.AddSingleton<BatchMetrics>();
        services.AddSingleton<BatchItemStore>();
        return services;
    }
}
