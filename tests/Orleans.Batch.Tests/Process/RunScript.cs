using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Orleans.Batch.Testing;

/// <summary>The ports one <c>./run.sh</c> listens on; keep them below 32768 so no outgoing connection can hold them.</summary>
public sealed record RunPorts(int Postgres, int Redis, int SiloBase, int GatewayBase, int Http)
{
    public Uri Url => new($"http://127.0.0.1:{Http.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Every port a run with <paramref name="silos"/> silos listens on.</summary>
    public IEnumerable<int> All(int silos) =>
        new[] { Postgres, Redis, Http }.Concat(Enumerable.Range(1, silos).SelectMany(i => new[] { SiloBase + i, GatewayBase + i }));
}

/// <summary>
/// <c>./run.sh</c> as a child process, with its output kept: the process tests and the chaos run start the service
/// exactly as a user does. Shared by both projects (linked source), so it uses no test framework.
/// </summary>
public sealed class RunScript : IAsyncDisposable
{
    private readonly System.Diagnostics.Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _gate = new();
    private bool _stopped;

    private RunScript(System.Diagnostics.Process process, string root, string state, RunPorts ports)
    {
        _process = process;
        Root = root;
        State = state;
        Ports = ports;
    }

    public string Root { get; }

    /// <summary>The run's state directory (<c>BATCH_RUN_STATE</c>): pid files, logs, data.</summary>
    public string State { get; }

    public RunPorts Ports { get; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything run.sh has printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The folder above the running assembly that holds Orleans.Batch.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Orleans.Batch.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} holds Orleans.Batch.sln; run from the repository (./test.sh builds it first).");
    }

    /// <summary>Fails unless the Release build run.sh starts (with <c>BATCH_RUN_SKIP_BUILD=1</c>) and bash are there.</summary>
    public static void RequireBuilt(string root)
    {
        foreach (var file in new[] { "Silo/bin/Release/net10.0/Orleans.Batch.Silo.dll", "Gateway/bin/Release/net10.0/Orleans.Batch.Gateway.dll", "run.sh" })
        {
            if (!File.Exists(Path.Combine(root, file)))
            {
                throw new InvalidOperationException($"{file} is missing under {root}; this runs the Release build through ./run.sh. Build the solution first (./test.sh does).");
            }
        }

        if (!File.Exists("/bin/bash"))
        {
            throw new InvalidOperationException("This needs bash to run ./run.sh; run it on Linux.");
        }
    }

    /// <summary>Fails when something already listens on one of the ports: the caller would talk to it (a run.sh left behind?).</summary>
    public static async Task RequirePortsFreeAsync(IEnumerable<int> ports)
    {
        foreach (var port in ports)
        {
            if (await ListensAsync(port))
            {
                throw new InvalidOperationException($"Port {port} on 127.0.0.1 is already in use; ./run.sh is to be started on it. Stop whatever listens there (a run.sh left by an earlier run?) first.");
            }
        }
    }

    /// <summary>Whether something on 127.0.0.1 accepts connections on <paramref name="port"/>.</summary>
    public static async Task<bool> ListensAsync(int port)
    {
        using var probe = new TcpClient();
        try
        {
            await probe.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
            return true;
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Starts <c>./run.sh --silos N --urls URL ARGS</c> on <paramref name="ports"/> with state in <paramref name="state"/>,
    /// skipping the build; only <paramref name="environment"/> (and none of the caller's own service settings) reaches it.
    /// </summary>
    public static RunScript Start(
        string root, string state, RunPorts ports, int silos, IEnumerable<string>? arguments = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("/bin/bash")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "./run.sh", "--silos", silos.ToString(CultureInfo.InvariantCulture), "--urls", ports.Url.ToString().TrimEnd('/') }
            .Concat(arguments ?? []))
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("Batch__", StringComparison.Ordinal)
            || k.StartsWith("Orleans__", StringComparison.Ordinal) || k.StartsWith("ConnectionStrings__", StringComparison.Ordinal)
            || k.StartsWith("Database__", StringComparison.Ordinal) || k.StartsWith("BATCH_", StringComparison.Ordinal)
            || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("DOTNET_ENVIRONMENT", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["BATCH_RUN_STATE"] = state;
        start.Environment["BATCH_PG_PORT"] = ports.Postgres.ToString(CultureInfo.InvariantCulture);
        start.Environment["BATCH_REDIS_PORT"] = ports.Redis.ToString(CultureInfo.InvariantCulture);
        start.Environment["BATCH_SILO_PORT_BASE"] = ports.SiloBase.ToString(CultureInfo.InvariantCulture);
        start.Environment["BATCH_GATEWAY_PORT_BASE"] = ports.GatewayBase.ToString(CultureInfo.InvariantCulture);
        start.Environment["BATCH_RUN_SKIP_BUILD"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = new System.Diagnostics.Process { StartInfo = start };
        var run = new RunScript(process, root, state, ports);
        process.OutputDataReceived += (_, e) => run.Append(e.Data);
        process.ErrorDataReceived += (_, e) => run.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return run;
    }

    /// <summary>The writer key of tenant dev that run.sh writes before it starts the service.</summary>
    public string KeyFile => Path.Combine(State, "dev-api-key");

    /// <summary>A client of the run's gateway that sends the key of <see cref="KeyFile"/> once run.sh has written it.</summary>
    public HttpClient Client(TimeSpan timeout) =>
        new(new DevKeyHandler(KeyFile)) { BaseAddress = Ports.Url, Timeout = timeout };

    private sealed class DevKeyHandler(string keyFile) : DelegatingHandler(new HttpClientHandler())
    {
        private string? _key;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (_key is null && File.Exists(keyFile))
            {
                _key = File.ReadAllText(keyFile).Trim();
            }

            if (_key is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _key);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>Polls <c>/health</c> until it answers 200; fails early if run.sh exits.</summary>
    public async Task WaitHealthyAsync(HttpClient http, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        var last = "no answer";
        while (clock.Elapsed < timeout)
        {
            if (HasExited)
            {
                throw new InvalidOperationException($"./run.sh exited with {ExitCode} before the gateway became healthy.");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(Ports.Url, "/health"));
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

        throw new TimeoutException($"{Ports.Url}health did not answer 200 within {timeout.TotalSeconds} s; last: {last}");
    }

    /// <summary>The pid in <c>NAME.pid</c> when that process runs the service's <paramref name="name"/> (silo-N, gateway), else null.</summary>
    public int? LivePid(string name)
    {
        var file = Path.Combine(State, $"{name}.pid");
        try
        {
            if (!int.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                return null;
            }

            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            var state = File.ReadAllText($"/proc/{pid}/stat").Split(' ');
            var expected = name.StartsWith("silo-", StringComparison.Ordinal) ? "Orleans.Batch.Silo" : "Orleans.Batch.Gateway";
            return commandLine.Contains(expected, StringComparison.Ordinal) && state.Length > 2 && state[2] != "Z" ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>SIGKILL to the process named in <c>NAME.pid</c>; returns its pid once it is gone, or null if none ran.</summary>
    public int? Kill(string name)
    {
        if (LivePid(name) is not { } pid)
        {
            return null;
        }

        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            process.Kill();
            if (!process.WaitForExit(10_000))
            {
                throw new InvalidOperationException($"{name} (pid {pid}) did not die within 10 s of SIGKILL.");
            }
        }
        catch (ArgumentException)
        {
            // It exited between the check and the kill.
        }

        return pid;
    }

    /// <summary>Waits until <c>NAME.pid</c> names a live process other than <paramref name="old"/>; returns it.</summary>
    public async Task<int?> WaitNewPidAsync(string name, int old, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (LivePid(name) is { } pid && pid != old)
            {
                return pid;
            }

            await Task.Delay(200);
        }

        return null;
    }

    /// <summary>run.sh's own output and the tail of every log it wrote.</summary>
    public string Diagnostics()
    {
        var text = new StringBuilder("----- ./run.sh output -----\n").Append(Output);
        var logs = Path.Combine(State, "logs");
        if (Directory.Exists(logs))
        {
            foreach (var log in Directory.GetFiles(logs, "*.log").Order(StringComparer.Ordinal))
            {
                try
                {
                    var lines = ReadShared(log).Split('\n');
                    text.Append(CultureInfo.InvariantCulture, $"----- {log} (last 40 lines) -----\n").AppendJoin('\n', lines.TakeLast(40)).Append('\n');
                }
                catch (IOException e)
                {
                    text.Append(CultureInfo.InvariantCulture, $"----- {log}: {e.Message}\n");
                }
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
            throw new InvalidOperationException($"./run.sh did not stop within 90 s of SIGTERM; it was killed and may have left processes behind (pid files in {State}).\n{Diagnostics()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process.Dispose();
    }

    /// <summary>
    /// Runs <paramref name="script"/> in bash in <paramref name="root"/> after sourcing scripts/lib.sh, with
    /// <paramref name="arguments"/> as $1, $2, …; fails unless it exits 0 (when <paramref name="check"/>) within 120 s.
    /// </summary>
    public static async Task LibAsync(string root, string script, IEnumerable<string> arguments, bool check = true, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo("/bin/bash")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-c", $"set -euo pipefail; source scripts/lib.sh; {script}", "lib" }.Concat(arguments))
        {
            start.ArgumentList.Add(arg);
        }

        using var bash = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("Could not start bash.");
        var stdout = bash.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = bash.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        await bash.WaitForExitAsync(timeout.Token);
        if (check && bash.ExitCode != 0)
        {
            throw new InvalidOperationException($"lib.sh '{script}' exited with {bash.ExitCode}:\n{await stdout}\n{await stderr}");
        }
    }

    /// <summary>A file another process may still be writing.</summary>
    public static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
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
