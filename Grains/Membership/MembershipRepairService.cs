using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Orleans.Batch.Grains.Membership;

/// <summary>
/// Checks the membership table every <see cref="MembershipRepairOptions.CheckPeriod"/> while this silo is a member, and
/// has Orleans read it at once after a repair or when it is newer than this silo's view, so a repaired table reaches every
/// silo without waiting for Orleans's next read (a minute apart, and backed off after failures).
/// </summary>
public sealed partial class MembershipRepairService(
    RepairingMembershipTable table,
    IClusterMembershipService membership,
    IOptions<MembershipRepairOptions> options,
    ILogger<MembershipRepairService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CheckPeriod);
        var failing = false;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (!table.IsMember)
            {
                continue;
            }

            try
            {
                if (await table.CheckAsync(stoppingToken))
                {
                    await membership.Refresh(cancellationToken: stoppingToken);
                }

                failing = false;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Redis away: Orleans keeps the silos serving on the view they hold; one warning per outage is enough.
                if (!failing)
                {
                    LogCheckFailed(e.Message);
                }

                failing = true;
            }
        }
    }

    [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "Checking the membership table failed ({Reason}); retrying every period until it answers")]
    private partial void LogCheckFailed(string reason);
}
