using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Npgsql;
using Xunit.Abstractions;

namespace Orleans.Batch.Tests.Process;

/// <summary>
/// The service as <c>./run.sh --silos 2</c> starts it, in processes of its own with its own PostgreSQL and Redis:
/// a CSV import runs, the silo process running the batch is killed with SIGKILL, and the batch must still end with
/// every row created exactly once.
/// </summary>
public sealed class RunScriptCrashTests(ITestOutputHelper output)
{
    /// <summary>
    /// Enough rows that the run, one chunk at a time, is still early at its first count of progress (results stored
    /// with their effects are counted at most every 250 ms, and a quarter of a second runs about 12,000 of them).
    /// </summary>
    private const int Rows = 60_000;
    // Below the ephemeral range (32768 and up), so no outgoing connection of the test run can be holding them.
    private const int PgPort = 25512;
    private const int RedisPort = 26459;
    private const string Url = "http://127.0.0.1:18080";

    [Fact]
    public async Task Import_SiloRunningBatchKilledWithSigkill_CompletesWithEveryRowCreatedOnce()
    {
        var root = RepositoryRoot();
        RequireBuilt(root);
        await RequirePortsFreeAsync();
        var state = Path.Combine(Path.GetTempPath(), $"orleans-batch-crash-{Guid.NewGuid():N}");
        var clock = Stopwatch.StartNew();
        await using var run = RunScript.Start(root, state);
        var passed = false;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromSeconds(10) };
            await WaitHealthyAsync(http, run, TimeSpan.FromSeconds(120));
            var healthy = clock.Elapsed;

            var token = Guid.NewGuid().ToString("N")[..12];
            var emails = Enumerable.Range(1, Rows).Select(i => $"import{i}-{token}@example.com").ToList();
            var batchId = await ImportAsync(http, emails);
            var imported = clock.Elapsed;

            var siloName = await SiloRunningAsync(state, batchId, TimeSpan.FromSeconds(15));
            var samples = new List<(TimeSpan At, JsonElement Status)>();
            var beforeKill = await PollAsync(http, batchId, samples, clock, s => Completed(s) >= 1000, TimeSpan.FromSeconds(60), "progress before the kill");
            Assert.True(
                beforeKill.GetProperty("status").GetString() == "processing" && Completed(beforeKill) < Rows / 2,
                $"The batch must still be early in its run when its silo is killed, to test the resume; it was {beforeKill}.");

            var killed = KillSilo(state, siloName);
            var killedAt = clock.Elapsed;
            var completedAtKill = samples.Max(s => Completed(s.Status));

            var resumed = await PollAsync(http, batchId, samples, clock, s => Completed(s) > completedAtKill, TimeSpan.FromSeconds(120), "progress after the kill");
            var resumedAt = clock.Elapsed;
            var final = await PollAsync(http, batchId, samples, clock, s => s.GetProperty("status").GetString() is not "processing", TimeSpan.FromSeconds(180), "the end of the batch");
            var doneAt = clock.Elapsed;
            var firstAnswer = samples.First(s => s.At > killedAt).At;

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"healthy after {healthy.TotalSeconds:F1} s; {Rows} rows imported in {(imported - healthy).TotalSeconds:F1} s; batch {batchId} ran on {siloName}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"SIGKILL to {siloName} (pid {killed}) at {completedAtKill} completed; first status answer +{(firstAnswer - killedAt).TotalSeconds:F1} s, progress again +{(resumedAt - killedAt).TotalSeconds:F1} s ({Completed(resumed)}), ended +{(doneAt - killedAt).TotalSeconds:F1} s"));
            output.WriteLine($"resumed: {ResumeLogLines(state, batchId)}");

            Assert.Equal("completed", final.GetProperty("status").GetString());
            Assert.Equal(Rows, final.GetProperty("total").GetInt32());
            Assert.Equal(Rows, final.GetProperty("succeeded").GetInt32());
            Assert.Equal(0, final.GetProperty("failed").GetInt32());
            for (var i = 1; i < samples.Count; i++)
            {
                Assert.True(Completed(samples[i].Status) >= Completed(samples[i - 1].Status),
                    $"Progress went back: {samples[i - 1].Status} then {samples[i].Status}");
            }

            var stored = await StoredEmailsAsync(token);
            Assert.Equal(Rows, stored.Count);
            Assert.All(stored, e => Assert.True(e.Value == 1, $"{e.Key} is stored {e.Value} times"));
            Assert.Equal(emails.Order(StringComparer.Ordinal), stored.Keys.Order(StringComparer.Ordinal));
            passed = true;
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"{e.Message}\n\n{run.Diagnostics()}", e);
        }
        finally
        {
            var stopped = clock.Elapsed;
            await run.StopAsync();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run.sh stopped in {(clock.Elapsed - stopped).TotalSeconds:F1} s"));
            if (passed)
            {
                Directory.Delete(state, recursive: true);
            }
            else
            {
                output.WriteLine($"state and logs kept in {state}");
            }
        }
    }

    private static int Completed(JsonElement status) => status.GetProperty("completed").GetInt32();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Orleans.Batch.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} holds Orleans.Batch.sln; run the tests from the repository with ./test.sh.");
    }

    private static void RequireBuilt(string root)
    {
        foreach (var dll in new[] { "Silo/bin/Release/net10.0/Orleans.Batch.Silo.dll", "Gateway/bin/Release/net10.0/Orleans.Batch.Gateway.dll", "run.sh" })
        {
            if (!File.Exists(Path.Combine(root, dll)))
            {
                throw new InvalidOperationException($"{dll} is missing under {root}; this test runs the Release build through ./run.sh. Run it through ./test.sh, which builds the solution first.");
            }
        }

        if (!File.Exists("/bin/bash") || !File.Exists("/usr/bin/kill") && !File.Exists("/bin/kill"))
        {
            throw new InvalidOperationException("This test needs bash and kill to run ./run.sh; run it through ./test.sh on Linux.");
        }
    }

    /// <summary>Fails when something already listens on this test's ports, e.g. a run.sh left behind: the test would talk to it.</summary>
    private static async Task RequirePortsFreeAsync()
    {
        foreach (var port in new[] { PgPort, RedisPort, 18080, 12111, 12112, 31001, 31002 })
        {
            using var probe = new System.Net.Sockets.TcpClient();
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or TimeoutException)
            {
                continue;
            }

            throw new InvalidOperationException($"Port {port} on 127.0.0.1 is already in use; this test starts ./run.sh on it. Stop whatever listens there (a run.sh left by an earlier run?) first.");
        }
    }

    private static async Task WaitHealthyAsync(HttpClient http, RunScript run, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        var last = "no answer";
        while (deadline.Elapsed < timeout)
        {
            if (run.HasExited)
            {
                throw new InvalidOperationException($"./run.sh exited with {run.ExitCode} before the gateway became healthy.");
            }

            try
            {
                using var response = await http.GetAsync(new Uri("/health", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.Message;
            }

            await Task.Delay(1000);
        }

        throw new TimeoutException($"{Url}/health did not answer 200 within {timeout.TotalSeconds} s; last: {last}");
    }

    private static async Task<string> ImportAsync(HttpClient http, IReadOnlyList<string> emails)
    {
        var csv = new StringBuilder("email,name\n");
        for (var i = 0; i < emails.Count; i++)
        {
            csv.Append(emails[i]).Append(",Imported User ").Append(i.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        using var content = new StringContent(csv.ToString(), Encoding.UTF8, "text/csv");
        using var response = await http.PostAsync(new Uri("/batch/users/import?concurrency=1", UriKind.Relative), content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"The import answered {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("batchId").GetString()!;
    }

    /// <summary>The silo (<c>silo-N</c>) whose log says it started the batch.</summary>
    private static async Task<string> SiloRunningAsync(string state, string batchId, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var running = Directory.GetFiles(Path.Combine(state, "logs"), "silo-*.log")
                .Where(log => ReadShared(log).Contains($"Batch {batchId} started", StringComparison.Ordinal))
                .Select(log => Path.GetFileNameWithoutExtension(log))
                .ToList();
            if (running.Count > 0)
            {
                return Assert.Single(running);
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"No silo log says batch {batchId} started within {timeout.TotalSeconds} s.");
    }

    private static string ResumeLogLines(string state, string batchId) => string.Join("; ", Directory.GetFiles(Path.Combine(state, "logs"), "silo-*.log")
        .SelectMany(log => ReadShared(log).Split('\n')
            .Where(line => line.Contains($"Batch {batchId} resumed", StringComparison.Ordinal))
            .Select(line => $"{Path.GetFileNameWithoutExtension(log)}: {line.Trim()}")));

    /// <summary>SIGKILL to the silo process named in its pid file; returns the pid once it is gone.</summary>
    private static int KillSilo(string state, string siloName)
    {
        var pid = int.Parse(File.ReadAllText(Path.Combine(state, $"{siloName}.pid")).Trim(), CultureInfo.InvariantCulture);
        var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        Assert.True(commandLine.Contains("Orleans.Batch.Silo", StringComparison.Ordinal), $"pid {pid} of {siloName}.pid is not a silo: {commandLine}");
        using var silo = System.Diagnostics.Process.GetProcessById(pid);
        silo.Kill();
        Assert.True(silo.WaitForExit(10_000), $"{siloName} (pid {pid}) did not die after SIGKILL.");
        return pid;
    }

    /// <summary>Polls the batch's status every 250 ms until <paramref name="condition"/> holds, keeping every answer; failed calls are retried.</summary>
    private static async Task<JsonElement> PollAsync(
        HttpClient http, string batchId, List<(TimeSpan At, JsonElement Status)> samples, Stopwatch clock,
        Func<JsonElement, bool> condition, TimeSpan timeout, string what)
    {
        var deadline = clock.Elapsed + timeout;
        var last = "no answer";
        while (clock.Elapsed < deadline)
        {
            try
            {
                using var response = await http.GetAsync(new Uri($"/batch/{batchId}/status", UriKind.Relative));
                var text = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode != HttpStatusCode.NotFound, $"The batch was lost: {text}");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var status = JsonDocument.Parse(text).RootElement.Clone();
                    samples.Add((clock.Elapsed, status));
                    if (condition(status))
                    {
                        return status;
                    }
                }

                last = $"{(int)response.StatusCode} {text}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // The cluster has lost a silo; until membership declares it dead, calls may fail or time out.
                last = e.Message;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"No {what} within {timeout.TotalSeconds} s; last: {last}");
    }

    private static async Task<Dictionary<string, int>> StoredEmailsAsync(string token)
    {
        await using var dataSource = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={PgPort};Username=postgres;Database=orleans_batch;Pooling=false");
        await using var command = dataSource.CreateCommand("SELECT lower(email), count(*)::int FROM users WHERE lower(email) LIKE @pattern GROUP BY lower(email)");
        command.Parameters.AddWithValue("pattern", $"%-{token}@example.com");
        await using var reader = await command.ExecuteReaderAsync();
        var stored = new Dictionary<string, int>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            stored.Add(reader.GetString(0), reader.GetInt32(1));
        }

        return stored;
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary><c>./run.sh --silos 2</c> as a child process on the ports of this test, with its output kept.</summary>
    private sealed class RunScript : IAsyncDisposable
    {
        private readonly System.Diagnostics.Process _process;
        private readonly string _state;
        private readonly StringBuilder _output = new();
        private readonly Lock _gate = new();
        private bool _stopped;

        private RunScript(System.Diagnostics.Process process, string state)
        {
            _process = process;
            _state = state;
        }

        public bool HasExited => _process.HasExited;

        public int ExitCode => _process.ExitCode;

        public static RunScript Start(string root, string state)
        {
            var start = new ProcessStartInfo("/bin/bash")
            {
                WorkingDirectory = root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "./run.sh", "--silos", "2", "--urls", Url })
            {
                start.ArgumentList.Add(arg);
            }

            // Only this test's settings reach the service: nothing the test host happens to carry.
            foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("Batch__", StringComparison.Ordinal)
                || k.StartsWith("Orleans__", StringComparison.Ordinal) || k.StartsWith("ConnectionStrings__", StringComparison.Ordinal)
                || k.StartsWith("Database__", StringComparison.Ordinal) || k.StartsWith("BATCH_", StringComparison.Ordinal)
                || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("DOTNET_ENVIRONMENT", StringComparison.Ordinal)).ToList())
            {
                start.Environment.Remove(name);
            }

            start.Environment["BATCH_RUN_STATE"] = state;
            start.Environment["BATCH_PG_PORT"] = PgPort.ToString(CultureInfo.InvariantCulture);
            start.Environment["BATCH_REDIS_PORT"] = RedisPort.ToString(CultureInfo.InvariantCulture);
            start.Environment["BATCH_SILO_PORT_BASE"] = "12110";
            start.Environment["BATCH_GATEWAY_PORT_BASE"] = "31000";
            start.Environment["BATCH_RUN_SKIP_BUILD"] = "1";
            start.Environment["Batch__ResumeCheckPeriod"] = "00:00:05";

            // Small chunks, one at a time: the import must still be early in its run when its silo is killed.
            start.Environment["Batch__ChunkSize"] = "50";

            var process = new System.Diagnostics.Process { StartInfo = start };
            var run = new RunScript(process, state);
            process.OutputDataReceived += (_, e) => run.Append(e.Data);
            process.ErrorDataReceived += (_, e) => run.Append(e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return run;
        }

        /// <summary>run.sh's own output and the tail of every log it wrote.</summary>
        public string Diagnostics()
        {
            var text = new StringBuilder();
            lock (_gate)
            {
                text.Append("----- ./run.sh output -----\n").Append(_output);
            }

            var logs = Path.Combine(_state, "logs");
            if (Directory.Exists(logs))
            {
                foreach (var log in Directory.GetFiles(logs, "*.log").Order(StringComparer.Ordinal))
                {
                    var lines = ReadShared(log).Split('\n');
                    text.Append(CultureInfo.InvariantCulture, $"----- {log} (last 40 lines) -----\n").AppendJoin('\n', lines.TakeLast(40)).Append('\n');
                }
            }

            return text.ToString();
        }

        /// <summary>SIGTERM to run.sh, which stops what it started (silos, gateway, Redis, PostgreSQL); waits for it to exit.</summary>
        public async Task StopAsync()
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            if (!_process.HasExited)
            {
                using var kill = System.Diagnostics.Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])
                    ?? throw new InvalidOperationException("Could not run kill to stop ./run.sh.");
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                throw new InvalidOperationException($"./run.sh did not stop within 90 s of SIGTERM; it was killed and may have left processes behind (pid files in {_state}).\n{Diagnostics()}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_gate)
                {
                    _output.Append(line).Append('\n');
                }
            }
        }
    }
}
