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

    /// <summary>
    /// How long one attempt of such a call that should be quick (an upload slice, a seal, a start) is waited for before it
    /// is sent again: a call held by a silo that dies is never answered, and Orleans would wait its whole response timeout
    /// (default 10 s).
    /// </summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the gateway reads which silos it may send to (default 10 s; Orleans' own is 1 min). A gateway that
    /// started with a partial list, or whose silo died, otherwise keeps sending to what it knew for up to that long.
    /// </summary>
    public TimeSpan GatewayListRefreshPeriod { get; set; } = TimeSpan.FromSeconds(10);

    public const string FailoverRule = "Orleans:FailoverTimeout must be from 0 to 00:02:00, Orleans:AttemptTimeout from 00:00:01 to 00:01:00 and Orleans:GatewayListRefreshPeriod from 00:00:01 to 00:10:00.";

    internal bool IsValid => FailoverTimeout >= TimeSpan.Zero && FailoverTimeout <= TimeSpan.FromMinutes(2)
        && AttemptTimeout >= TimeSpan.FromSeconds(1) && AttemptTimeout <= TimeSpan.FromMinutes(1)
        && GatewayListRefreshPeriod >= TimeSpan.FromSeconds(1) && GatewayListRefreshPeriod <= TimeSpan.FromMinutes(10);
}
