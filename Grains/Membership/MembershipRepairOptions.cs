using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Membership;

/// <summary>How often a silo checks that the membership table still holds what it last saw. Bound from <c>MembershipRepair</c>.</summary>
public sealed class MembershipRepairOptions : ISelfValidating
{
    public const string Section = "MembershipRepair";

    /// <summary>
    /// Period of the check (default 5 s): one read of the table per silo. A lost table is also noticed by Orleans's own
    /// reads, but those back off to a minute once Redis has been away for a while.
    /// </summary>
    public TimeSpan CheckPeriod { get; set; } = TimeSpan.FromSeconds(5);

    IEnumerable<string> ISelfValidating.Problems() => Validate();

    internal IEnumerable<string> Validate()
    {
        if (CheckPeriod < TimeSpan.FromMilliseconds(100) || CheckPeriod > TimeSpan.FromMinutes(5))
        {
            yield return $"MembershipRepair:CheckPeriod must be from 100 ms to 5 minutes; got {CheckPeriod}.";
        }
    }
}
