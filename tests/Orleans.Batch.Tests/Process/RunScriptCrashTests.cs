using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Npgsql;
using Orleans.Batch.Testing;
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
    private const int Silos = 2;
    // Below the ephemeral range (32768 and up), so no outgoing connection of the test run can be holding them.
    private static readonly RunPorts Ports = new(Postgres: 25512, Redis: 26459, SiloBase: 12110, GatewayBase: 31000, Http: 18080);

    [Fact]
    public async Task Import_SiloRunningBatchKilledWithSigkill_CompletesWithEveryRowCreatedOnce()
    {
        var root = RunScript.RepositoryRoot();
        RunScript.RequireBuilt(root);
        await RunScript.RequirePortsFreeAsync(Ports.All(Silos));
        var state = Path.Combine(Path.GetTempPath(), $"orleans-batch-crash-{Guid.NewGuid():N}");
        var clock = Stopwatch.StartNew();
        // No restarts: the batch must be resumed by the silo that survives, not by its own silo coming back.
        await using var run = RunScript.Start(root, state, Ports, Silos, ["--no-restart"], new Dictionary<string, string>
        {
            ["Batch__ResumeCheckPeriod"] = "00:00:05",
            // Small chunks, one at a time: the import must still be early in its run when its silo is killed.
            ["Batch__ChunkSize"] = "50",
        });
        var passed = false;
        try
        {
            using var http = run.Client(TimeSpan.FromSeconds(10));
            await run.WaitHealthyAsync(http, TimeSpan.FromSeconds(120));
            var healthy = clock.Elapsed;

            var token = Guid.NewGuid().ToString("N")[..12];
            var emails = Enumerable.Range(1, Rows).Select(i => $"import{i}-{token}@example.com").ToList();
            // The upload gets more time than a status call: on a loaded machine 60,000 rows can take over 10 s.
            using var upload = run.Client(TimeSpan.FromSeconds(120));
            var batchId = await ImportAsync(upload, emails);
            var imported = clock.Elapsed;

            var siloName = await SiloRunningAsync(state, batchId, TimeSpan.FromSeconds(15));
            var samples = new List<(TimeSpan At, JsonElement Status)>();
            var beforeKill = await PollAsync(http, batchId, samples, clock, s => Completed(s) >= 1000, TimeSpan.FromSeconds(60), "progress before the kill");
            Assert.True(
                beforeKill.GetProperty("status").GetString() == "processing" && Completed(beforeKill) < Rows / 2,
                $"The batch must still be early in its run when its silo is killed, to test the resume; it was {beforeKill}.");

            var killed = run.Kill(siloName) ?? throw new InvalidOperationException($"{siloName}.pid names no live silo.");
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
                .Where(log => RunScript.ReadShared(log).Contains($"Batch {batchId} started", StringComparison.Ordinal))
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
        .SelectMany(log => RunScript.ReadShared(log).Split('\n')
            .Where(line => line.Contains($"Batch {batchId} resumed", StringComparison.Ordinal))
            .Select(line => $"{Path.GetFileNameWithoutExtension(log)}: {line.Trim()}")));

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
        await using var dataSource = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={Ports.Postgres};Username=postgres;Database=orleans_batch;Pooling=false");
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
}
