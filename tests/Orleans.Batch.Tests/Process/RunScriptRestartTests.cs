using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Orleans.Batch.Testing;
using Xunit.Abstractions;

namespace Orleans.Batch.Tests.Process;

/// <summary>
/// <c>./run.sh</c> starts a silo that dies again, on its own ports, with a growing delay, says so, and still stops at
/// once when told to during that delay; <c>--no-restart</c> only reports the exit.
/// </summary>
public sealed class RunScriptRestartTests(ITestOutputHelper output)
{
    private const int Silos = 2;
    // Below the ephemeral range (32768 and up), beside the crash test's ports.
    private static readonly RunPorts Ports = new(Postgres: 25712, Redis: 26659, SiloBase: 12310, GatewayBase: 31200, Http: 18280);

    [Fact]
    public async Task Run_SiloKilled_IsRestartedAndServesABatchSubmittedAfterwards()
    {
        await using var run = await StartAsync([]);
        await RunAsync(run, async http =>
        {
            var killed = run.Kill("silo-2") ?? throw new InvalidOperationException("silo-2.pid names no live silo.");
            var restarted = await run.WaitNewPidAsync("silo-2", killed, TimeSpan.FromSeconds(30))
                ?? throw new TimeoutException($"silo-2 (pid {killed}) was not restarted within 30 s.");
            Assert.Contains($"silo-2 (pid {killed}) exited with 137; restarting in 1 s", run.Output, StringComparison.Ordinal);
            // The new pid file is written just before run.sh says so.
            await WaitForAsync(() => run.Output.Contains($"silo-2 restarted (pid {restarted})", StringComparison.Ordinal),
                TimeSpan.FromSeconds(10), "run.sh to say it restarted silo-2");
            await run.WaitHealthyAsync(http, TimeSpan.FromSeconds(60));

            // The restarted silo runs the batch's chunks too (they go to silos at random), so its batch completing
            // needs the cluster whole again.
            var rows = 2_000;
            var token = Guid.NewGuid().ToString("N")[..12];
            var client = new RetryingClient(http, output.WriteLine);
            var submitted = await client.ImportAsync(Csv(rows, token), $"restart-{token}", TimeSpan.FromSeconds(90));
            Assert.True(submitted.BatchId is not null, $"The import was not accepted: {submitted.Error}");
            var (status, ended, last) = await client.WaitEndAsync(submitted.BatchId, TimeSpan.FromSeconds(120));
            Assert.True(ended, $"The batch did not end within 120 s; last: {last}");
            Assert.Equal("completed", status!.Value.GetProperty("status").GetString());
            Assert.Equal(rows, status.Value.GetProperty("succeeded").GetInt32());

            // Killed again soon after its start, it waits longer each time; a SIGTERM in that wait stops run.sh at once.
            var again = run.Kill("silo-2")!.Value;
            var third = await run.WaitNewPidAsync("silo-2", again, TimeSpan.FromSeconds(30))
                ?? throw new TimeoutException("silo-2 was not restarted a second time within 30 s.");
            run.Kill("silo-2");
            await WaitForAsync(() => RestartingIn(run.Output, third) is not null, TimeSpan.FromSeconds(10), $"run.sh to notice that pid {third} exited");
            Assert.True(RestartingIn(run.Output, third) > RestartingIn(run.Output, again),
                $"The delay must grow while silo-2 keeps dying soon after its start:\n{run.Output}");

            var stopping = Stopwatch.StartNew();
            var pids = new[] { run.LivePid("silo-1"), run.LivePid("gateway") };
            await run.StopAsync();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run.sh stopped {stopping.Elapsed.TotalSeconds:F1} s after SIGTERM in a restart delay"));
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(30), $"run.sh took {stopping.Elapsed} to stop during a restart delay.");
            Assert.DoesNotContain($"silo-2 restarted (pid", run.Output[run.Output.LastIndexOf($"pid {third})", StringComparison.Ordinal)..], StringComparison.Ordinal);
            Assert.All(pids, pid => Assert.False(pid is { } p && File.Exists($"/proc/{p}/stat"), $"pid {pid} still runs after run.sh stopped."));
        });
    }

    [Fact]
    public async Task Run_NoRestart_SiloKilled_StaysDownAndIsReported()
    {
        await using var run = await StartAsync(["--no-restart"]);
        await RunAsync(run, async http =>
        {
            var killed = run.Kill("silo-2") ?? throw new InvalidOperationException("silo-2.pid names no live silo.");
            await WaitForAsync(() => run.Output.Contains($"silo-2 (pid {killed}) exited with 137", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "run.sh to report the exit");
            await Task.Delay(TimeSpan.FromSeconds(5));

            Assert.Contains("--no-restart: not restarting it", run.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("restarted", run.Output, StringComparison.Ordinal);
            Assert.Null(run.LivePid("silo-2"));
            Assert.NotNull(run.LivePid("silo-1"));
            await run.WaitHealthyAsync(http, TimeSpan.FromSeconds(60));
        });
    }

    private static async Task<RunScript> StartAsync(string[] arguments)
    {
        var root = RunScript.RepositoryRoot();
        RunScript.RequireBuilt(root);
        await RunScript.RequirePortsFreeAsync(Ports.All(Silos));
        var state = Path.Combine(Path.GetTempPath(), $"orleans-batch-restart-{Guid.NewGuid():N}");
        return RunScript.Start(root, state, Ports, Silos, arguments);
    }

    /// <summary>run.sh wrote the dev and admin keys (mode 0600); the dev key is needed and works, the admin key reads tenants.</summary>
    private static async Task DevKeysAsync(RunScript run, HttpClient http)
    {
        foreach (var name in new[] { "dev-api-key", "admin-api-key" })
        {
            var file = Path.Combine(run.State, name);
            Assert.True(File.Exists(file), $"{file} is missing");
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }

        Assert.Contains("dev-api-key", run.Output, StringComparison.Ordinal);
        using var anonymous = new HttpClient { BaseAddress = run.Ports.Url };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/users?limit=1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/users?limit=1")).StatusCode);
        using var admin = new HttpClient { BaseAddress = run.Ports.Url };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "Bearer", (await File.ReadAllTextAsync(Path.Combine(run.State, "admin-api-key"))).Trim());
        Assert.Contains("\"dev\"", await admin.GetStringAsync("/admin/tenants"), StringComparison.Ordinal);
    }

    /// <summary>Runs <paramref name="body"/> against a healthy run; on failure adds run.sh's output and logs, and keeps its state.</summary>
    private async Task RunAsync(RunScript run, Func<HttpClient, Task> body)
    {
        var passed = false;
        try
        {
            using var http = run.Client(TimeSpan.FromSeconds(60));
            await run.WaitHealthyAsync(http, TimeSpan.FromSeconds(120));
            // Healthy means one silo answers; a silo still joining when the only active one is killed fails to join.
            // A silo opens its gateway port once it is active.
            await WaitForAsync(() => Enumerable.Range(1, Silos).All(i => RunScript.ListensAsync(Ports.GatewayBase + i).GetAwaiter().GetResult()),
                TimeSpan.FromSeconds(120), "gateway port of every silo");
            // run.sh restarts processes only once its own start has ended; a silo killed before that stays dead.
            await WaitForAsync(() => run.Output.Contains("Orleans.Batch is running", StringComparison.Ordinal),
                TimeSpan.FromSeconds(120), "run.sh to end its start");
            await DevKeysAsync(run, http);
            await body(http);
            passed = true;
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{e.Message}\n\n{run.Diagnostics()}", e);
        }
        finally
        {
            await run.StopAsync();
            if (passed)
            {
                Directory.Delete(run.State, recursive: true);
            }
            else
            {
                output.WriteLine($"state and logs kept in {run.State}");
            }
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"No {what} within {timeout.TotalSeconds} s.");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>The delay run.sh announced when the process <paramref name="pid"/> exited, or null if it has not yet.</summary>
    private static int? RestartingIn(string runOutput, int pid)
    {
        var match = Regex.Match(runOutput, $@"\(pid {pid}\) exited with \d+; restarting in (\d+) s");
        return match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    private static byte[] Csv(int rows, string token)
    {
        var csv = new StringBuilder("email,name\n");
        for (var i = 1; i <= rows; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"restart{i}-{token}@example.com,Restarted User {i}\n");
        }

        return Encoding.UTF8.GetBytes(csv.ToString());
    }
}
