using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>
/// Lets a test act inside a silo just before a grain call runs there (cut the database, hold the call while its silo
/// is killed). Hooks are kept per service id, so fixtures running side by side in this process never see each other's.
/// Add it to a fixture's silos with <c>AddIncomingGrainCallFilter&lt;GrainCallHooks&gt;()</c>.
/// </summary>
public sealed class GrainCallHooks(IOptions<ClusterOptions> cluster, ILocalSiloDetails silo) : IIncomingGrainCallFilter
{
    private static readonly ConcurrentDictionary<string, Func<IIncomingGrainCallContext, SiloAddress, Task>> Hooks = new();

    /// <summary>Runs <paramref name="hook"/> before every grain call in the silos of <paramref name="serviceId"/> until disposed.</summary>
    public static IDisposable Set(string serviceId, Func<IIncomingGrainCallContext, SiloAddress, Task> hook)
    {
        Hooks[serviceId] = hook;
        return new Removal(serviceId);
    }

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (Hooks.TryGetValue(cluster.Value.ServiceId, out var hook))
        {
            await hook(context, silo.SiloAddress);
        }

        await context.Invoke();
    }

    private sealed class Removal(string serviceId) : IDisposable
    {
        public void Dispose() => Hooks.TryRemove(serviceId, out _);
    }
}
