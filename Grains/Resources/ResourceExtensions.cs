using Microsoft.Extensions.DependencyInjection;
using Orleans.Batch.Grains.Operations;
using Orleans.Batch.Grains.Resources.Orders;
using Orleans.Batch.Grains.Resources.Products;
using Orleans.Batch.Grains.Resources.Users;

namespace Orleans.Batch.Grains.Resources;

public static class ResourceExtensions
{
    /// <summary>Registers the resource handlers (users, products, orders), the router and the executor in front of them.</summary>
    public static IServiceCollection AddResources(this IServiceCollection services)
    {
        services.AddSingleton<IResourceHandler, UserHandler>();
        services.AddSingleton<IResourceHandler, ProductHandler>();
        services.AddSingleton<IResourceHandler, OrderHandler>();
        services.AddSingleton<ResourceRouter>();
        services.AddSingleton<OperationExecutor>();
        services.AddSingleton<StagedCreates>();
        return services;
    }
}
