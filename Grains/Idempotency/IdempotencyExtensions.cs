using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Hosting;
using Orleans.Batch.Grains.Tenancy;

namespace Orleans.Batch.Grains.Idempotency;

public static class IdempotencyExtensions
{
    /// <summary>Idempotency records: their retention (each tenant's default), validated at start-up, and the janitor that expires them.</summary>
    public static IServiceCollection AddIdempotency(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<IdempotencyOptions>()
            .Bind(configuration.GetSection(IdempotencyOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<IdempotencyOptions>, SelfValidation<IdempotencyOptions>>();
        // A tenant's idempotency retention defaults to Idempotency:Retention unless Tenancy:Quotas sets another default.
        if (configuration.GetSection(TenantQuotaOptions.Section)[nameof(TenantQuotaOptions.IdempotencyRetention)] is null)
        {
            services.AddOptions<TenantQuotaOptions>()
                .Configure<IOptions<IdempotencyOptions>>((quotas, idempotency) => quotas.IdempotencyRetention = idempotency.Value.Retention);
        }

        services.AddSingleton<IdempotencyJanitor>();
        services.AddHostedService(sp => sp.GetRequiredService<IdempotencyJanitor>());
        return services;
    }
}
