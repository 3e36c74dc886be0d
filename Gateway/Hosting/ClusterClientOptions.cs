namespace Orleans.Batch.Gateway.Hosting;

/// <summary>Which cluster the gateway talks to. Bound from the <c>Orleans</c> section.</summary>
public sealed class ClusterClientOptions
{
    public const string Section = "Orleans";

    /// <summary>Must match the silos' <c>Orleans:ClusterId</c> (default <c>orleans-batch</c>).</summary>
    public string ClusterId { get; set; } = "orleans-batch";

    /// <summary>Must match the silos' <c>Orleans:ServiceId</c> (default <c>orleans-batch</c>).</summary>
    public string ServiceId { get; set; } = "orleans-batch";

    /// <summary>Pause between attempts to reach the cluster while no silo answers (default 2 s).</summary>
    public TimeSpan ConnectRetryDelay { get; set; } = TimeSpan.FromSeconds(2);
}
