using Orleans.Messaging;

namespace Orleans.Batch.Gateway.Hosting;

/// <summary>
/// Answers the last list that named any gateway when the membership table names none. A table Redis lost names no silo
/// until the silos write their rows back (seconds), and an empty answer would make the client drop every gateway it
/// has until its next refresh; while Redis is away the provider fails instead, and the client keeps its list itself.
/// </summary>
internal sealed class LastKnownGatewayListProvider(IGatewayListProvider inner) : IGatewayListProvider
{
    private IList<Uri> _last = [];

    /// <summary>Wraps the gateway list provider registered last (the Redis one: call after <c>UseRedisClustering</c>).</summary>
    public static void Wrap(IServiceCollection services)
    {
        var provider = services.Last(d => d.ServiceType == typeof(IGatewayListProvider));
        services.Remove(provider);
        services.AddSingleton<IGatewayListProvider>(sp => new LastKnownGatewayListProvider((IGatewayListProvider)(
            provider.ImplementationInstance
            ?? provider.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, provider.ImplementationType!))));
    }

    public TimeSpan MaxStaleness => inner.MaxStaleness;

    public Task InitializeGatewayListProviderAsync(CancellationToken cancellationToken) => inner.InitializeGatewayListProviderAsync(cancellationToken);

    public async Task<IList<Uri>> GetGatewaysAsync(CancellationToken cancellationToken)
    {
        var gateways = await inner.GetGatewaysAsync(cancellationToken);
        if (gateways.Count == 0)
        {
            return Volatile.Read(ref _last);
        }

        Volatile.Write(ref _last, gateways);
        return gateways;
    }

#pragma warning disable CS0618 // Orleans still declares the tokenless members; they forward to the ones above.
    public bool IsUpdatable => true;

    public Task InitializeGatewayListProvider() => InitializeGatewayListProviderAsync(CancellationToken.None);

    public Task<IList<Uri>> GetGateways() => GetGatewaysAsync(CancellationToken.None);
#pragma warning restore CS0618
}
