using Microsoft.Extensions.Configuration;
using System.Net;
using Orleans.Configuration;

namespace Orleans.Batch.Silo;

/// <summary>Who this silo is and where it listens. Bound from the <c>Orleans</c> section.</summary>
public sealed class SiloEndpointOptions
{
    public const string Section = "Orleans";

    /// <summary>The cluster this silo joins (default <c>orleans-batch</c>).</summary>
    public string ClusterId { get; set; } = "orleans-batch";

    /// <summary>The service whose grain state this silo reads and writes; keep it stable (default <c>orleans-batch</c>).</summary>
    public string ServiceId { get; set; } = "orleans-batch";

    /// <summary>Silo-to-silo port (default 11111). Every silo on one machine needs its own.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port clients such as the gateway connect to (default 30000).</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address other silos and clients reach this one at (default 127.0.0.1).</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    public static SiloEndpointOptions Bind(IConfiguration configuration)
    {
        var options = configuration.GetSection(Section).Get<SiloEndpointOptions>() ?? new SiloEndpointOptions();
        if (!IPAddress.TryParse(options.AdvertisedAddress, out _))
        {
            throw new InvalidOperationException($"Orleans:AdvertisedAddress must be an IP address; got '{options.AdvertisedAddress}'.");
        }

        if (options.SiloPort is < 1 or > 65535 || options.GatewayPort is < 1 or > 65535 || options.SiloPort == options.GatewayPort)
        {
            throw new InvalidOperationException(
                $"Orleans:SiloPort ({options.SiloPort}) and Orleans:GatewayPort ({options.GatewayPort}) must be distinct ports from 1 to 65535.");
        }

        return options;
    }
}

public static class SiloEndpointExtensions
{
    public static ISiloBuilder UseBatchEndpoints(this ISiloBuilder silo, SiloEndpointOptions options)
    {
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        return silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedAddress), options.SiloPort, options.GatewayPort);
    }
}
