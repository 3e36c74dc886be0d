namespace Orleans.Batch.Grains.Batches;

/// <summary>
/// Positions as spans of consecutive ones, [from, to): a chunk's or a page's are usually one or a few spans, so the
/// database builds a multirange from a few ranges, not from one per item.
/// </summary>
internal static class SeqSpans
{
    public static (int[] From, int[] To) Of(IEnumerable<int> seqs)
    {
        var (from, to) = (new List<int>(1), new List<int>(1));
        foreach (var seq in seqs.Order())
        {
            if (to.Count > 0 && seq <= to[^1])
            {
                to[^1] = Math.Max(to[^1], seq + 1);
            }
            else
            {
                from.Add(seq);
                to.Add(seq + 1);
            }
        }

        return ([.. from], [.. to]);
    }

    /// <summary>The multirange of spans given as the integer array parameters <paramref name="from"/> and <paramref name="to"/>.</summary>
    public static string Sql(string from, string to) =>
        $"(SELECT coalesce(range_agg(int4range(l, u)), {BatchItemStore.NoRanges}) FROM unnest({from}::integer[], {to}::integer[]) AS c(l, u))";
}
