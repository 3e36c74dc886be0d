using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Orleans.Batch.Testing;

namespace Orleans.Batch.Tests.Process;

/// <summary><c>./run.sh</c> refuses to start next to a process already listening on one of its ports, and names it.</summary>
public sealed class RunScriptPortTests
{
    [Fact]
    public async Task Run_PortAlreadyInUse_ExitsNamingThePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var busy = ((IPEndPoint)listener.LocalEndpoint).Port;
        var state = Path.Combine(Path.GetTempPath(), $"orleans-batch-ports-{Guid.NewGuid():N}");
        var start = new ProcessStartInfo("/bin/bash")
        {
            WorkingDirectory = RunScript.RepositoryRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("./run.sh");
        start.Environment["BATCH_RUN_STATE"] = state;
        start.Environment["BATCH_RUN_SKIP_BUILD"] = "1";
        start.Environment["BATCH_REDIS_PORT"] = busy.ToString(CultureInfo.InvariantCulture);
        // Ports of the crash test's neighbourhood, below the ephemeral range: free while this test runs.
        start.Environment["BATCH_PG_PORT"] = "25612";
        start.Environment["BATCH_SILO_PORT_BASE"] = "12210";
        start.Environment["BATCH_GATEWAY_PORT_BASE"] = "31100";
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:18180";

        using var run = System.Diagnostics.Process.Start(start)!;
        var stderr = run.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await run.WaitForExitAsync(timeout.Token);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"port(s) already in use: Redis {busy}.", await stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(state, "postgres")), "Nothing is started once a port is taken.");
        if (Directory.Exists(state))
        {
            Directory.Delete(state, recursive: true);
        }
    }
}
