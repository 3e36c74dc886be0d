using System.Globalization;

namespace Orleans.Batch.Bench;

/// <summary>
/// CPU seconds PostgreSQL on this machine has used: every server process's own, plus what its exited processes
/// used (the postmaster's children's times), so a backend that ends during a round still counts. Null when no
/// PostgreSQL runs here.
/// </summary>
internal static class PostgresCpu
{
    /// <summary>Linux reports process times in clock ticks of 1/100 s (USER_HZ) whatever the kernel's own rate.</summary>
    private const double TicksPerSecond = 100;

    public static double? Read()
    {
        double total = 0;
        var found = false;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _) || Stat(dir) is not { } stat)
            {
                continue;
            }

            var (command, fields) = stat;
            if (command != "postgres")
            {
                continue;
            }

            found = true;
            // Fields after the command, from state (3rd field of stat): utime is the 14th field, cutime the 16th.
            total += Ticks(fields[11]) + Ticks(fields[12]);
            if (IsPostmaster(dir))
            {
                total += Ticks(fields[13]) + Ticks(fields[14]);
            }
        }

        return found ? total / TicksPerSecond : null;
    }

    private static bool IsPostmaster(string dir)
    {
        try
        {
            return File.ReadAllText(Path.Combine(dir, "cmdline")).Contains("\0-D\0", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static (string Command, string[] Fields)? Stat(string dir)
    {
        try
        {
            var text = File.ReadAllText(Path.Combine(dir, "stat"));
            var open = text.IndexOf('(', StringComparison.Ordinal);
            var close = text.LastIndexOf(')');
            return (text[(open + 1)..close], text[(close + 2)..].Split(' '));
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static long Ticks(string field) => long.Parse(field, CultureInfo.InvariantCulture);
}
