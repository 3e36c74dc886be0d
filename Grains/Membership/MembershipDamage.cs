namespace Orleans.Batch.Grains.Membership;

/// <summary>What a damaged membership table lacks: rows this silo last saw there, or a version as high as it has seen.</summary>
/// <param name="VersionFloor">The lowest table version this silo may accept.</param>
/// <param name="MissingRows">Rows to write back, this silo's own first.</param>
public sealed record MembershipDamage(int VersionFloor, IReadOnlyList<MembershipEntry> MissingRows)
{
    /// <summary>
    /// The table is damaged when it is older than what this silo has seen, or lacks a row of a silo that was active in it
    /// (or this silo's own row while it joins or runs). Neither happens in a healthy table: its version never goes down,
    /// and Orleans deletes only rows of silos that are no longer active. Null when the table is whole.
    /// </summary>
    /// <param name="table">The table as read; null when its version row is gone (the whole hash, as a rule).</param>
    public static MembershipDamage? Assess(
        MembershipTableData? table, IReadOnlyDictionary<SiloAddress, MembershipEntry> known, SiloAddress self, int versionFloor)
    {
        var missing = known.Values
            .Where(e => e.Status == SiloStatus.Active || (e.SiloAddress.Equals(self) && e.Status == SiloStatus.Joining))
            .Where(e => table?.TryGet(e.SiloAddress) is null)
            .OrderBy(e => e.SiloAddress.Equals(self) ? 0 : 1)
            .ToList();
        return table is not null && missing.Count == 0 && table.Version.Version >= versionFloor
            ? null
            : new MembershipDamage(Math.Max(versionFloor, 0), missing);
    }
}
