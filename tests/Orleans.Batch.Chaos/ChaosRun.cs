using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Npgsql;
using Orleans.Batch.Testing;

namespace Orleans.Batch.Chaos;

/// <summary>
/// The issue's fault sequence against its own <c>./run.sh --silos 3</c>: (a) concurrent imports under a storm of silo
/// SIGKILLs, (b) a PostgreSQL stop during a large import, (c) a Redis restart with its data gone, then a silo kill, then
/// an import. Every import goes through <see cref="RetryingClient"/>; every wait is bounded, so a stuck batch is reported
/// as such instead of hanging the run.
/// </summary>
public sealed class ChaosRun(ChaosOptions options, Stopwatch clock)
{
    private const int Silos = 3;
    private const int StormImports = 10;
    private const int StormRows = 20_000;
    private const int OutageRows = 100_000;
    private const int AfterRedisRows = 20_000;
    private static readonly TimeSpan KillEvery = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan StormLength = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PostgresOutage = TimeSpan.FromSeconds(20);
    /// <summary>How long an import may take to be accepted, and then to end, in each phase.</summary>
    private static readonly TimeSpan SubmitTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan EndTimeout = TimeSpan.FromMinutes(3);

    private readonly string _token = Guid.NewGuid().ToString("N")[..10];
    private readonly List<ImportOutcome> _imports = [];
    private readonly List<string> _events = [];
    private readonly Lock _gate = new();

    public async Task<ChaosReport> RunAsync(CancellationToken cancellationToken)
    {
        var root = RunScript.RepositoryRoot();
        RunScript.RequireBuilt(root);
        await RunScript.RequirePortsFreeAsync(options.Ports.All(Silos));
        Log($"run {_token}: ./run.sh --silos {Silos} on {options.Ports.Url}, state {options.State}");
        await using var run = RunScript.Start(root, options.State, options.Ports, Silos);
        using var http = run.Client(TimeSpan.FromSeconds(60));
        var client = new RetryingClient(http, Log);
        try
        {
            await run.WaitHealthyAsync(http, TimeSpan.FromSeconds(180));
            Log("healthy");

            await StormAsync(run, client, cancellationToken);
            await HealthyAgainAsync(run, http, "after the kill storm");
            await PostgresOutageAsync(run, client, cancellationToken);
            await HealthyAgainAsync(run, http, "after the PostgreSQL outage");
            await RedisRestartAsync(run, client, cancellationToken);

            var stored = await StoredEmailsAsync(cancellationToken);
            var restarts = run.Output.Split('\n').Count(line => line.Contains(" restarted (pid", StringComparison.Ordinal));
            return new ChaosReport(_token, [.. _imports], stored, client.ServerErrors, client.FailedCalls, restarts, _events.Count, options.State);
        }
        finally
        {
            Log("stopping ./run.sh");
            await run.StopAsync();
            await File.WriteAllTextAsync(Path.Combine(options.State, "logs", "chaos-run.log"), run.Output, CancellationToken.None);
        }
    }

    /// <summary>(a) Imports at once, each retried with its key, while a random silo is SIGKILLed every 4 s for 30 s.</summary>
    private async Task StormAsync(RunScript run, RetryingClient client, CancellationToken cancellationToken)
    {
        Log($"(a) {StormImports} imports of {StormRows:N0} rows; SIGKILL of a silo every {KillEvery.TotalSeconds} s for {StormLength.TotalSeconds} s");
        var imports = Enumerable.Range(1, StormImports)
            .Select(n => ImportAsync(client, $"a{n}", StormRows, cancellationToken))
            .ToList();
        var kills = 0;
        var storm = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        while (storm.Elapsed < StormLength)
        {
            var alive = Enumerable.Range(1, Silos).Select(i => $"silo-{i}").Where(name => run.LivePid(name) is not null).ToList();
            var victim = alive.Count > 0 ? alive[Random.Shared.Next(alive.Count)] : null;
            if (victim is not null && run.Kill(victim) is { } pid)
            {
                kills++;
                Event($"SIGKILL {victim} (pid {pid})");
            }
            else
            {
                Log("no silo running to kill (all are being restarted)");
            }

            await Task.Delay(KillEvery, cancellationToken);
        }

        Log($"(a) storm over: {kills} silos killed; waiting for the imports to end");
        await Task.WhenAll(imports);
    }

    /// <summary>(b) A 100,000-row import with PostgreSQL stopped for 20 s while it is sent and run.</summary>
    private async Task PostgresOutageAsync(RunScript run, RetryingClient client, CancellationToken cancellationToken)
    {
        Log($"(b) an import of {OutageRows:N0} rows; PostgreSQL stopped for {PostgresOutage.TotalSeconds} s during it");
        var import = ImportAsync(client, "b", OutageRows, cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        await LibAsync(run, "stop_postgres \"$1\"", cancellationToken);
        Event("PostgreSQL stopped (pg_ctl stop -m fast)");
        await Task.Delay(PostgresOutage, cancellationToken);
        await LibAsync(run, "start_postgres \"$1\" \"$2\"", cancellationToken);
        Event("PostgreSQL started again on the same data dir");
        await import;
    }

    /// <summary>(c) Redis restarted with its data gone, then a silo killed, then an import.</summary>
    private async Task RedisRestartAsync(RunScript run, RetryingClient client, CancellationToken cancellationToken)
    {
        Log("(c) Redis restarted with its data deleted, then a silo killed, then an import");
        await LibAsync(run, "stop_redis \"$1\"; find \"$1/redis\" -mindepth 1 -delete; start_redis \"$1\" \"$3\"", cancellationToken);
        Event("Redis restarted empty");
        await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
        var silo = $"silo-{Random.Shared.Next(1, Silos + 1)}";
        if (run.Kill(silo) is { } pid)
        {
            Event($"SIGKILL {silo} (pid {pid})");
        }

        await ImportAsync(client, "c", AfterRedisRows, cancellationToken);
    }

    /// <summary>Sends one import with its own key until accepted, waits for its batch to end, and keeps what became of it.</summary>
    private async Task ImportAsync(RetryingClient client, string name, int rows, CancellationToken cancellationToken)
    {
        await Task.Yield();
        var csv = Csv(name, rows);
        var key = $"chaos-{_token}-{name}";
        var submitted = await client.ImportAsync(csv, key, SubmitTimeout, cancellationToken: cancellationToken);
        ImportOutcome outcome;
        if (submitted.BatchId is null)
        {
            Log($"import {name}: NOT accepted after {submitted.Attempts} attempts: {submitted.Error}");
            outcome = new ImportOutcome(name, rows, submitted, null, false, submitted.Error ?? "not accepted");
        }
        else
        {
            Log(string.Create(CultureInfo.InvariantCulture,
                $"import {name}: 202 batch {submitted.BatchId} after {submitted.Attempts} attempt(s), {submitted.Took.TotalSeconds:F1} s"));
            var (status, ended, last) = await client.WaitEndAsync(submitted.BatchId, EndTimeout, cancellationToken);
            outcome = new ImportOutcome(name, rows, submitted, status, ended, last);
            Log($"import {name}: {(ended ? "ended" : $"did NOT end within {EndTimeout.TotalMinutes} min")}: {Describe(status)}");
        }

        lock (_gate)
        {
            _imports.Add(outcome);
        }
    }

    private async Task HealthyAgainAsync(RunScript run, HttpClient http, string when)
    {
        var waited = Stopwatch.StartNew();
        try
        {
            await run.WaitHealthyAsync(http, TimeSpan.FromSeconds(120));
            Log(string.Create(CultureInfo.InvariantCulture, $"healthy {when} ({waited.Elapsed.TotalSeconds:F0} s)"));
        }
        catch (TimeoutException e)
        {
            Log($"NOT healthy {when}: {e.Message}; carrying on");
        }
    }

    /// <summary>Runs <paramref name="script"/> in bash after sourcing scripts/lib.sh: $1 the state dir, $2 PostgreSQL's port, $3 Redis's.</summary>
    private static Task LibAsync(RunScript run, string script, CancellationToken cancellationToken) =>
        RunScript.LibAsync(run.Root, script, [run.State, run.Ports.Postgres.ToString(CultureInfo.InvariantCulture), run.Ports.Redis.ToString(CultureInfo.InvariantCulture)],
            cancellationToken: cancellationToken);

    private async Task<Dictionary<string, int>> StoredEmailsAsync(CancellationToken cancellationToken)
    {
        await using var dataSource = NpgsqlDataSource.Create(
            $"Host=127.0.0.1;Port={options.Ports.Postgres.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database=orleans_batch;Pooling=false;Timeout=30;Command Timeout=120");
        await using var command = dataSource.CreateCommand("SELECT lower(email), count(*)::int FROM users WHERE lower(email) LIKE @prefix GROUP BY lower(email)");
        command.Parameters.AddWithValue("prefix", $"chaos-{_token}-%");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var stored = new Dictionary<string, int>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            stored.Add(reader.GetString(0), reader.GetInt32(1));
        }

        return stored;
    }

    /// <summary>The rows of import <paramref name="name"/>; <see cref="ChaosReport"/> derives the same emails to count them.</summary>
    private byte[] Csv(string name, int rows)
    {
        var csv = new StringBuilder("email,name\n", rows * 48);
        for (var row = 1; row <= rows; row++)
        {
            csv.Append(ChaosReport.Email(_token, name, row)).Append(",Chaos User ").Append(row.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return Encoding.UTF8.GetBytes(csv.ToString());
    }

    private void Event(string what)
    {
        lock (_gate)
        {
            _events.Add(what);
        }

        Log(what);
    }

    private void Log(string line)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"[{clock.Elapsed.TotalSeconds,6:F1}s] {line}");
        lock (_gate)
        {
            Console.WriteLine(text);
        }
    }

    private static string Describe(JsonElement? status) => status is not { } s
        ? "no status"
        : string.Create(CultureInfo.InvariantCulture,
            $"{s.GetProperty("status").GetString()}, total {s.GetProperty("total").GetInt32()}, succeeded {s.GetProperty("succeeded").GetInt32()}, failed {s.GetProperty("failed").GetInt32()}{(s.TryGetProperty("reason", out var reason) && reason.ValueKind == JsonValueKind.String ? $", reason: {reason.GetString()}" : "")}");
}
