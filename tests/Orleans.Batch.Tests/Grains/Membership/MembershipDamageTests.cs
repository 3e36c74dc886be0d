using System.Net;
using Orleans.Batch.Grains.Membership;
using Orleans.Runtime;

namespace Orleans.Batch.Tests.Grains.Membership;

public sealed class MembershipDamageTests
{
    private static readonly SiloAddress Self = Silo(1);

    [Fact]
    public void Assess_TableAsLastSeen_IsWhole()
    {
        var known = Known(Entry(Self, SiloStatus.Active), Entry(Silo(2), SiloStatus.Active));

        Assert.Null(MembershipDamage.Assess(Table(7, known.Values), known, Self, versionFloor: 7));
    }

    [Fact]
    public void Assess_VersionRowGone_RestoresEveryActiveRowAndTheFloor()
    {
        var known = Known(Entry(Silo(2), SiloStatus.Active), Entry(Self, SiloStatus.Active), Entry(Silo(3), SiloStatus.Dead));

        var damage = MembershipDamage.Assess(null, known, Self, versionFloor: 9);

        Assert.NotNull(damage);
        Assert.Equal(9, damage.VersionFloor);
        Assert.Equal([Self, Silo(2)], damage.MissingRows.Select(r => r.SiloAddress));
    }

    [Fact]
    public void Assess_TableOlderThanSeen_IsDamagedWithNoRowMissing()
    {
        var known = Known(Entry(Self, SiloStatus.Active));

        var damage = MembershipDamage.Assess(Table(2, known.Values), known, Self, versionFloor: 5);

        Assert.NotNull(damage);
        Assert.Empty(damage.MissingRows);
    }

    [Fact]
    public void Assess_NewerTableWithoutAnActiveSilo_RestoresIt()
    {
        var other = Entry(Silo(2), SiloStatus.Active);
        var known = Known(Entry(Self, SiloStatus.Active), other);

        var damage = MembershipDamage.Assess(Table(12, [known[Self]]), known, Self, versionFloor: 7);

        Assert.Equal([other.SiloAddress], damage!.MissingRows.Select(r => r.SiloAddress));
    }

    [Fact]
    public void Assess_OwnRowWhileJoining_IsRestored_OtherSilosOnlyWhenActive()
    {
        var known = Known(Entry(Self, SiloStatus.Joining), Entry(Silo(2), SiloStatus.Joining), Entry(Silo(3), SiloStatus.ShuttingDown));

        var damage = MembershipDamage.Assess(Table(3, []), known, Self, versionFloor: 3);

        Assert.Equal([Self], damage!.MissingRows.Select(r => r.SiloAddress));
    }

    [Fact]
    public void Assess_DeadRowsCleanedUp_IsWhole()
    {
        var known = Known(Entry(Self, SiloStatus.Active), Entry(Silo(2), SiloStatus.Dead));

        Assert.Null(MembershipDamage.Assess(Table(4, [known[Self]]), known, Self, versionFloor: 4));
    }

    [Fact]
    public void Assess_NothingSeenYet_NoVersionRow_AsksForTheRowOnly()
    {
        var damage = MembershipDamage.Assess(null, new Dictionary<SiloAddress, MembershipEntry>(), Self, versionFloor: int.MinValue);

        Assert.Equal(0, damage!.VersionFloor);
        Assert.Empty(damage.MissingRows);
    }

    private static SiloAddress Silo(int n) => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11110 + n), n);

    private static MembershipEntry Entry(SiloAddress silo, SiloStatus status) => new()
    {
        SiloAddress = silo,
        Status = status,
        HostName = "host",
        SiloName = $"silo-{silo.Generation}",
        StartTime = DateTime.UtcNow,
        IAmAliveTime = DateTime.UtcNow,
    };

    private static Dictionary<SiloAddress, MembershipEntry> Known(params MembershipEntry[] entries) =>
        entries.ToDictionary(e => e.SiloAddress);

    private static MembershipTableData Table(int version, IEnumerable<MembershipEntry> rows) =>
        new([.. rows.Select(r => Tuple.Create(r, version.ToString(System.Globalization.CultureInfo.InvariantCulture)))],
            new TableVersion(version, version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
}
