using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Clustering.Redis;

namespace Orleans.Batch.Grains.Membership;

/// <summary>
/// Wraps the membership table so that this silo writes back what the table lost (Redis restarted empty): its version row,
/// the rows of the silos that were active in it, and a version above every view this silo holds. Until the table is whole
/// again no read reaches Orleans, which would otherwise fail every read of a table without a version row, ignore a table
/// older than its view for good, or stop this silo on a newer one without its row.
/// </summary>
/// <remarks>
/// Several silos may repair at once: each row goes back with Orleans's own insert, which fails when the row is there or
/// the version moved, and the version is only ever raised, so each silo reads again and at worst writes nothing.
/// </remarks>
public sealed partial class RepairingMembershipTable(
    IMembershipTable inner,
    ILocalSiloDetails silo,
    RedisMembershipVersion version,
    IServiceProvider services,
    ILogger<RepairingMembershipTable> logger) : IMembershipTable
{
    private readonly SemaphoreSlim _repair = new(1, 1);
    private readonly Lock _gate = new();
    private Dictionary<SiloAddress, MembershipEntry> _known = [];
    private int _knownVersion;

    /// <summary>Whether this silo has joined or runs, by its own row as it last wrote or read it.</summary>
    public bool IsMember
    {
        get
        {
            lock (_gate)
            {
                return _known.TryGetValue(silo.SiloAddress, out var own) && own.Status is SiloStatus.Joining or SiloStatus.Active;
            }
        }
    }

    public Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken = default) =>
        inner.InitializeMembershipTableAsync(tryInitTableVersion, cancellationToken);

    public Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken = default) =>
        inner.DeleteMembershipTableEntriesAsync(clusterId, cancellationToken);

    public Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken = default) =>
        inner.CleanupDefunctSiloEntriesAsync(beforeDate, cancellationToken);

    public Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken = default) =>
        inner.ReadRowAsync(key, cancellationToken);

    public async Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        var table = await TryReadAsync(cancellationToken);
        return table is not null && Assess(table) is null ? Remember(table) : await RepairAsync(cancellationToken);
    }

    public async Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        var inserted = await inner.InsertRowAsync(entry, tableVersion, cancellationToken);
        if (inserted)
        {
            Remember(entry, tableVersion);
        }

        return inserted;
    }

    public async Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken = default)
    {
        var updated = await inner.UpdateRowAsync(entry, etag, tableVersion, cancellationToken);
        if (updated)
        {
            Remember(entry, tableVersion);
        }

        return updated;
    }

    public async Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken = default)
    {
        // Orleans's Redis table skips the update when this silo's row is gone, and fails it when the version row is:
        // either way the table was lost, so put it back first.
        await CheckAsync(cancellationToken);
        await inner.UpdateIAmAliveAsync(entry, cancellationToken);
    }

    /// <summary>
    /// Reads the table and repairs it if it lost anything; whether Orleans should read it now: after a repair, or when it
    /// is newer than this silo's view (another silo repaired it, or a silo that started on the emptied table merged).
    /// </summary>
    public async Task<bool> CheckAsync(CancellationToken cancellationToken = default)
    {
        if (await TryReadAsync(cancellationToken) is { } table && Assess(table) is null)
        {
            return table.Version.Version > ViewVersion();
        }

        await RepairAsync(cancellationToken);
        return true;
    }

#pragma warning disable CS0618 // Orleans still declares the synchronous-named members; they forward to the ones above.
    public Task InitializeMembershipTable(bool tryInitTableVersion) => InitializeMembershipTableAsync(tryInitTableVersion);

    public Task DeleteMembershipTableEntries(string clusterId) => DeleteMembershipTableEntriesAsync(clusterId);

    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => CleanupDefunctSiloEntriesAsync(beforeDate);

    public Task<MembershipTableData> ReadRow(SiloAddress key) => ReadRowAsync(key);

    public Task<MembershipTableData> ReadAll() => ReadAllAsync();

    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => InsertRowAsync(entry, tableVersion);

    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => UpdateRowAsync(entry, etag, tableVersion);

    public Task UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry);
#pragma warning restore CS0618

    /// <summary>The table, or null when its version row is gone (Orleans's Redis table refuses to read it then).</summary>
    private async Task<MembershipTableData?> TryReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await inner.ReadAllAsync(cancellationToken);
        }
        catch (RedisClusteringException)
        {
            return null;
        }
    }

    private async Task<MembershipTableData> RepairAsync(CancellationToken cancellationToken)
    {
        await _repair.WaitAsync(cancellationToken);
        try
        {
            MembershipDamage? first = null;
            var written = 0;
            for (var attempt = 0; ; attempt++)
            {
                var table = await TryReadAsync(cancellationToken);
                if (Assess(table) is not { } damage)
                {
                    if (first is not null)
                    {
                        LogRepaired(table!.Version.Version, written, table.Members.Count);
                    }

                    return Remember(table!);
                }

                if (first is null)
                {
                    first = damage;
                    LogDamaged(table?.Version.Version, damage.VersionFloor, damage.MissingRows.Count, string.Join(", ", damage.MissingRows.Select(r => r.SiloAddress)));
                }

                // Each pass makes progress or meets another silo's: a bound well above the rows to write stops on a table
                // that keeps changing under it, and the next read tries again.
                if (attempt > 10 + (4 * first.MissingRows.Count))
                {
                    throw new InvalidOperationException(
                        $"The membership table still lacks {damage.MissingRows.Count} rows or is below version {damage.VersionFloor} after {attempt} repair attempts.");
                }

                if (table is null || table.Version.Version < damage.VersionFloor)
                {
                    await version.RaiseAsync(damage.VersionFloor);
                }
                else if (await inner.InsertRowAsync(damage.MissingRows[0], table.Version.Next(), cancellationToken))
                {
                    written++;
                }
            }
        }
        finally
        {
            _repair.Release();
        }
    }

    private MembershipDamage? Assess(MembershipTableData? table)
    {
        // The view Orleans holds may be newer than any table this silo read: it also learns from other silos' gossip.
        var viewVersion = ViewVersion();
        lock (_gate)
        {
            var floor = (int)Math.Clamp(viewVersion, _knownVersion, int.MaxValue);
            return MembershipDamage.Assess(table, _known, silo.SiloAddress, floor);
        }
    }

    private long ViewVersion() => services.GetService<IClusterMembershipService>()?.CurrentSnapshot.Version.Value ?? 0;

    private MembershipTableData Remember(MembershipTableData table)
    {
        lock (_gate)
        {
            _known = table.Members.ToDictionary(m => m.Item1.SiloAddress, m => m.Item1);
            _knownVersion = Math.Max(_knownVersion, table.Version.Version);
        }

        return table;
    }

    private void Remember(MembershipEntry entry, TableVersion tableVersion)
    {
        lock (_gate)
        {
            _known = new Dictionary<SiloAddress, MembershipEntry>(_known) { [entry.SiloAddress] = entry };
            _knownVersion = Math.Max(_knownVersion, tableVersion.Version);
        }
    }

    [LoggerMessage(EventId = 1400, Level = LogLevel.Warning,
        Message = "The membership table lost rows (Redis restarted without its data?): version {Version}, this silo has seen {Floor}; writing back {Count} rows: {Silos}")]
    private partial void LogDamaged(int? version, int floor, int count, string silos);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning,
        Message = "The membership table is whole again: version {Version}, {Written} rows written back by this silo, {Rows} rows")]
    private partial void LogRepaired(int version, int written, int rows);
}
