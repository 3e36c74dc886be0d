using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Scheduling;

public static class SchedulingExtensions
{
    /// <summary>Fair sharing of the cluster's chunk slots between tenants: its options, validated at start-up.</summary>
    public static IServiceCollection AddScheduling(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SchedulingOptions>()
            .Bind(configuration.GetSection(SchedulingOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<SchedulingOptions>, SelfValidation<SchedulingOptions>>();
        // Each batch activation counts its own slots.
        services.AddTransient<TenantSlots>();
        return services;
    }
}
