using Npgsql;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>An empty database of one test class's own on the test PostgreSQL, dropped with everything in it.</summary>
internal sealed class ScratchDatabase : IAsyncDisposable
{
    private readonly string _name;

    private ScratchDatabase(string name, NpgsqlDataSource source) => (_name, Source) = (name, source);

    public NpgsqlDataSource Source { get; }

    /// <summary>Creates a database named <paramref name="prefix"/> and a unique suffix.</summary>
    public static async Task<ScratchDatabase> CreateAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}";
        await using (var admin = NpgsqlDataSource.Create(TestEnvironment.Postgres))
        await using (var create = admin.CreateCommand($"CREATE DATABASE {name}"))
        {
            await create.ExecuteNonQueryAsync();
        }

        return new ScratchDatabase(name, NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(TestEnvironment.Postgres) { Database = name }.ConnectionString));
    }

    public async ValueTask DisposeAsync()
    {
        await Source.DisposeAsync();
        await using var admin = NpgsqlDataSource.Create(TestEnvironment.Postgres);
        await using var drop = admin.CreateCommand($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)");
        await drop.ExecuteNonQueryAsync();
    }
}
