using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Idempotency;

public static class IdempotencyExtensions
{
    /// <summary>Idempotency records: their retention, validated at start-up, and the janitor that expires them.</summary>
    public static IServiceCollection AddIdempotency(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<IdempotencyOptions>()
            .Bind(configuration.GetSection(IdempotencyOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<IdempotencyOptions>, SelfValidation<IdempotencyOptions>>();
        services.AddSingleton<IdempotencyJanitor>();
        services.AddHostedService(sp => sp.GetRequiredService<IdempotencyJanitor>());
        return services;
    }
}
