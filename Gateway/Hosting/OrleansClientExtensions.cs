using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;

namespace Orleans.Batch.Gateway.Hosting;

public static class OrleansClientExtensions
{
    /// <summary>
    /// The Orleans client: Redis membership finds the silos (keeping the last gateways it found while the table names none);
    /// it keeps retrying until one answers.
    /// </summary>
    public static WebApplicationBuilder AddBatchOrleansClient(this WebApplicationBuilder builder)
    {
        var redis = builder.Configuration.GetConnectionString("Redis") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                "ConnectionStrings:Redis is not set; set it in appsettings.json or the ConnectionStrings__Redis environment variable.");
        builder.Services.AddOptions<ClusterClientOptions>().Bind(builder.Configuration.GetSection(ClusterClientOptions.Section))
            .Validate(o => o.IsValid, ClusterClientOptions.FailoverRule).ValidateOnStart();
        builder.Services.AddSingleton<GrainRetry>();

        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(redis);
            LastKnownGatewayListProvider.Wrap(client.Services);
            client.Services.AddOptions<ClusterOptions>().Configure<IOptions<ClusterClientOptions>>((o, own) =>
            {
                o.ClusterId = own.Value.ClusterId;
                o.ServiceId = own.Value.ServiceId;
            });
            client.Services.AddOptions<GatewayOptions>().Configure<IOptions<ClusterClientOptions>>((o, own) =>
                o.GatewayListRefreshPeriod = own.Value.GatewayListRefreshPeriod);
            client.UseConnectionRetryFilter<ClusterConnectRetryFilter>();
            client.AddDashboard();
        });
        return builder;
    }
}

/// <summary>Keeps the gateway trying to reach the cluster, so it can start before the silos do.</summary>
internal sealed partial class ClusterConnectRetryFilter(IOptions<ClusterClientOptions> options, ILogger<ClusterConnectRetryFilter> logger)
    : IClientConnectionRetryFilter
{
    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        LogClusterUnreachable(options.Value.ConnectRetryDelay, exception.Message);
        await Task.Delay(options.Value.ConnectRetryDelay, cancellationToken);
        return true;
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "No silo answered ({Reason}); retrying in {Delay}")]
    private partial void LogClusterUnreachable(TimeSpan delay, string reason);
}
