using System.Globalization;

namespace Orleans.Batch.Bench;

/// <summary>Samples the resident set of every process ./run.sh started (its .run/*.pid files) and keeps each one's peak.</summary>
internal sealed class RssSampler : IDisposable
{
    private readonly Dictionary<string, int> _pids;
    private readonly Dictionary<string, long> _peaks = [];
    private readonly Timer _timer;

    public RssSampler(string runState)
    {
        _pids = Directory.GetFiles(runState, "*.pid")
            .Where(f => Path.GetFileName(f) is var n && (n.StartsWith("silo-", StringComparison.Ordinal) || n == "gateway.pid"))
            .ToDictionary(f => Path.GetFileNameWithoutExtension(f), f => int.Parse(File.ReadAllText(f).Trim(), CultureInfo.InvariantCulture));
        _timer = new Timer(_ => Sample(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(250));
    }

    public IReadOnlyList<(string Process, long PeakBytes)> Peaks()
    {
        lock (_peaks)
        {
            return [.. _peaks.OrderBy(p => p.Key).Select(p => (p.Key, p.Value))];
        }
    }

    public void Dispose() => _timer.Dispose();

    private void Sample()
    {
        foreach (var (name, pid) in _pids)
        {
            try
            {
                var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
                if (line is null)
                {
                    continue;
                }

                var bytes = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                lock (_peaks)
                {
                    _peaks[name] = Math.Max(_peaks.GetValueOrDefault(name), bytes);
                }
            }
            catch (IOException)
            {
            }
        }
    }
}
