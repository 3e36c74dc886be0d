using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Diagnostics;

namespace Orleans.Batch.Grains.Batches;

public static class BatchExtensions
{
    /// <summary>Registers batch execution: its options, validated at start-up, and its metrics.</summary>
    public static IServiceCollection AddBatching(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BatchOptions>()
            .Bind(configuration.GetSection(BatchOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<BatchOptions>, Validator>();
        services.AddMetrics();
        services.AddSingleton<BatchMetrics>();
        services.AddSingleton<BatchItemStore>();
        return services;
    }

    private sealed class Validator : IValidateOptions<BatchOptions>
    {
        public ValidateOptionsResult Validate(string? name, BatchOptions options)
        {
            var failures = options.Validate().ToList();
            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }
}
