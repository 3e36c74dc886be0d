using System.Globalization;
using System.Runtime.Versioning;
using Npgsql;
using Orleans.Batch.Testing;

namespace Orleans.Batch.Tests.Process;

/// <summary>
/// scripts/lib.sh's PostgreSQL start and stop, as ./run.sh and ./test.sh use them. PostgreSQL runs as user postgres,
/// which cannot reach a state directory under a 0700 home (a clone in /root): the data then lives elsewhere, and
/// stays there across restarts.
/// </summary>
public sealed class PostgresHomeTests
{
    // Below the ephemeral range (32768 and up), beside the other process tests' ports.
    private const int Port = 25912;
    private const string ExternalRoot = "/var/lib/orleans-batch/";

    [Fact]
    [SupportedOSPlatform("linux")]
    public async Task StartPostgres_StateUnderA0700Directory_KeepsDataOutsideAcrossRestartsAndStops()
    {
        var home = Path.Combine(Path.GetTempPath(), $"orleans-batch-home-{Guid.NewGuid():N}");
        Directory.CreateDirectory(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var state = Path.Combine(home, "clone", ".run");
        string? external = null;
        try
        {
            await LibAsync(state, "start_postgres \"$1\" \"$2\"");
            external = File.ReadAllText(Path.Combine(state, "postgres.home")).Trim();
            Assert.StartsWith(ExternalRoot, external, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(external, "data", "PG_VERSION")), $"No data directory in {external}.");
            Assert.Contains("ready to accept connections", RunScript.ReadShared(Path.Combine(state, "logs", "postgres.log")), StringComparison.Ordinal);
            await ExecuteAsync("CREATE TABLE kept (value int); INSERT INTO kept VALUES (42)");

            await LibAsync(state, "stop_postgres \"$1\"");
            Assert.False(await RunScript.ListensAsync(Port), "PostgreSQL still listens after stop_postgres.");

            await LibAsync(state, "start_postgres \"$1\" \"$2\"");
            Assert.Equal(external, File.ReadAllText(Path.Combine(state, "postgres.home")).Trim());
            Assert.Equal(42, await ExecuteAsync("SELECT value FROM kept"));

            // What ./run.sh and ./test.sh do first: stop whatever an earlier run left in the state dir.
            await LibAsync(state, "stop_leftovers \"$1\"");
            Assert.False(await RunScript.ListensAsync(Port), "PostgreSQL still listens after stop_leftovers.");
            Assert.False(File.Exists(Path.Combine(external, "data", "postmaster.pid")), "The server left its pid file: it did not stop cleanly.");
        }
        finally
        {
            await LibAsync(state, "stop_postgres \"$1\"", check: false);
            Directory.Delete(home, recursive: true);
            if (external is not null && external.StartsWith(ExternalRoot, StringComparison.Ordinal))
            {
                Directory.Delete(external, recursive: true);
            }
        }
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public async Task StartPostgres_StateInTheRepository_KeepsDataInTheStateDirAcrossRestarts()
    {
        // Inside the repository, as ./run.sh's .run/ is: lib.sh opens the folders on the way for user postgres, up to the
        // repository; a clone under a 0700 home stays out of its reach, and its data lives outside, as above.
        var state = Path.Combine(RunScript.RepositoryRoot(), ".run", $"home-test-{Guid.NewGuid():N}");
        var reachable = AncestorsTraversable(RunScript.RepositoryRoot());
        string? external = null;
        try
        {
            await LibAsync(state, "start_postgres \"$1\" \"$2\"");
            if (reachable)
            {
                Assert.False(File.Exists(Path.Combine(state, "postgres.home")), "A reachable state dir keeps its data in place.");
                Assert.True(File.Exists(Path.Combine(state, "postgres", "data", "PG_VERSION")));
            }
            else
            {
                external = File.ReadAllText(Path.Combine(state, "postgres.home")).Trim();
                Assert.StartsWith(ExternalRoot, external, StringComparison.Ordinal);
                Assert.True(File.Exists(Path.Combine(external, "data", "PG_VERSION")), $"No data directory in {external}.");
            }

            await ExecuteAsync("CREATE TABLE kept (value int); INSERT INTO kept VALUES (7)");
            await LibAsync(state, "stop_postgres \"$1\"; start_postgres \"$1\" \"$2\"");
            Assert.Equal(7, await ExecuteAsync("SELECT value FROM kept"));
            await LibAsync(state, "stop_leftovers \"$1\"");
            Assert.False(await RunScript.ListensAsync(Port), "PostgreSQL still listens after stop_leftovers.");
        }
        finally
        {
            await LibAsync(state, "stop_postgres \"$1\"", check: false);
            Directory.Delete(state, recursive: true);
            if (external is not null && external.StartsWith(ExternalRoot, StringComparison.Ordinal))
            {
                Directory.Delete(external, recursive: true);
            }
        }
    }

    /// <summary>Whether every folder above <paramref name="directory"/> lets others through (as user postgres needs).</summary>
    [SupportedOSPlatform("linux")]
    private static bool AncestorsTraversable(string directory)
    {
        for (var parent = Directory.GetParent(directory); parent is not null; parent = parent.Parent)
        {
            if (!File.GetUnixFileMode(parent.FullName).HasFlag(UnixFileMode.OtherExecute))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Runs <paramref name="script"/> in bash after sourcing scripts/lib.sh, with $1 the state dir and $2 the port.</summary>
    private static Task LibAsync(string state, string script, bool check = true) =>
        RunScript.LibAsync(RunScript.RepositoryRoot(), script, [state, Port.ToString(CultureInfo.InvariantCulture)], check);

    private static async Task<int> ExecuteAsync(string sql)
    {
        await using var dataSource = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false");
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToInt32(await command.ExecuteScalarAsync() ?? 0, CultureInfo.InvariantCulture);
    }
}
