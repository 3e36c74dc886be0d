using System.Diagnostics;
using System.Globalization;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>
/// A Redis of a fixture's own, started and stopped by scripts/lib.sh as <c>./run.sh</c> does, on the port after the one
/// ./test.sh gives the shared Redis (<c>BATCH_TEST_REDIS_PORT</c> + 1), with its data in a folder of its own.
/// </summary>
public sealed class PrivateRedis : IAsyncDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), $"orleans-batch-redis-{Guid.NewGuid():N}");

    public static int Port { get; } = int.Parse(TestEnvironment.Redis.Split(':')[^1], CultureInfo.InvariantCulture) + 1;

    public static string ConnectionString { get; } = $"127.0.0.1:{Port}";

    public Task StartAsync() => LibAsync("start_redis");

    public Task StopAsync() => LibAsync("stop_redis");

    /// <summary>Stops Redis, deletes everything it stored and starts it again on the same port: a restart that lost its data.</summary>
    public async Task RestartEmptyAsync()
    {
        await StopAsync();
        Directory.Delete(Path.Combine(_state, "redis"), recursive: true);
        await StartAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }

    private async Task LibAsync(string function)
    {
        var start = new ProcessStartInfo("/bin/bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("set -euo pipefail; source \"$1/scripts/lib.sh\"; \"$2\" \"$3\" \"$4\"");
        start.ArgumentList.Add("lib");
        start.ArgumentList.Add(RepositoryRoot());
        start.ArgumentList.Add(function);
        start.ArgumentList.Add(_state);
        start.ArgumentList.Add(Port.ToString(CultureInfo.InvariantCulture));
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{function} on port {Port} failed ({process.ExitCode}): {await output}{await errors}");
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "scripts", "lib.sh")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} holds scripts/lib.sh; run the tests from the repository with ./test.sh.");
    }
}
