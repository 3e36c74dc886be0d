using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Membership;

public static class MembershipRepairExtensions
{
    /// <summary>
    /// Makes the silo write back what the Redis membership table lost (see <see cref="RepairingMembershipTable"/>);
    /// call it after <c>UseRedisClustering</c>, whose table it wraps.
    /// </summary>
    public static IServiceCollection AddMembershipRepair(this IServiceCollection services, IConfiguration configuration)
    {
        var table = services.LastOrDefault(d => d.ServiceType == typeof(IMembershipTable))
            ?? throw new InvalidOperationException("AddMembershipRepair wraps the membership table: call UseRedisClustering first.");
        services.RemoveAll<IMembershipTable>();
        services.AddOptions<MembershipRepairOptions>()
            .Bind(configuration.GetSection(MembershipRepairOptions.Section))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<MembershipRepairOptions>, SelfValidation<MembershipRepairOptions>>();
        services.AddSingleton<RedisMembershipVersion>();
        services.AddSingleton(sp => new RepairingMembershipTable(
            Create(sp, table),
            sp.GetRequiredService<ILocalSiloDetails>(),
            sp.GetRequiredService<RedisMembershipVersion>(),
            sp,
            sp.GetRequiredService<ILogger<RepairingMembershipTable>>()));
        services.AddSingleton<IMembershipTable>(sp => sp.GetRequiredService<RepairingMembershipTable>());
        services.AddHostedService<MembershipRepairService>();
        return services;
    }

    private static IMembershipTable Create(IServiceProvider services, ServiceDescriptor descriptor) =>
        (IMembershipTable)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
