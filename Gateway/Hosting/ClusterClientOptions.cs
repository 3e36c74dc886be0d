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

    /// <summary>
    /// How long a grain call that is safe to send again is re-sent after it failed because its silo died (membership
    /// takes several seconds to declare a silo dead and move its grains) before the request is answered 503
    /// (default 25 s; 0 sends each call once).
    /// </summary>
    public TimeSpan FailoverTimeout { get; set; } = TimeSpan.FromSeconds(25);

    public const string FailoverTimeoutRule = "Orleans:FailoverTimeout must be from 0 to 00:02:00.";

    internal bool IsValid => FailoverTimeout >= TimeSpan.Zero && FailoverTimeout <= TimeSpan.FromMinutes(2);
}
