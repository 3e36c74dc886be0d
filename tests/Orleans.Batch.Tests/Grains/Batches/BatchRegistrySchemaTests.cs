using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Grains.Batches;

/// <summary>
/// deploy/sql/25-batch-registry.sql over a database of the previous version, which has batches and no registry: they
/// belong to the default tenant, and are kept a whole retention from the upgrade. The test has a database of its own.
/// </summary>
public sealed class BatchRegistrySchemaTests : IAsyncLifetime
{
    private ScratchDatabase _scratch = null!;

    private NpgsqlDataSource Source => _scratch.Source;

    public async Task InitializeAsync()
    {
        _scratch = await ScratchDatabase.CreateAsync("registry");
    }

    public async Task DisposeAsync() => await _scratch.DisposeAsync();

    [Fact]
    public async Task Apply_OverBatchesOfThePreviousVersion_RegistersThemForTheDefaultTenant()
    {
        await ExecuteAsync(await File.ReadAllTextAsync(SchemaScripts.PathOf("20-batches.sql")));
        // Two batches of the previous version, one of two pages.
        await ExecuteAsync("""
            INSERT INTO batch_item_pages (batch_id, first_seq, item_count, op_ids, methods, paths, bodies)
            VALUES ('old-1', 0, 1000, '{a}', '{POST}', '{/users}', '{x}'), ('old-1', 1000, 1, '{b}', '{POST}', '{/users}', '{x}'),
                   ('old-2', 0, 1, '{c}', '{POST}', '{/users}', '{x}')
            """);

        var registry = await File.ReadAllTextAsync(SchemaScripts.PathOf("25-batch-registry.sql"));
        await ExecuteAsync(registry);
        await ExecuteAsync(registry);

        Assert.Equal(["old-1|default|finished|expiry:false", "old-2|default|finished|expiry:false"], await RowsAsync());
        // The janitor gives them the default tenant's retention from the upgrade.
        var gate = new DatabaseGate(Options.Create(new DatabaseOptions { MaxConcurrency = 2 }));
        await new BatchRegistry(Source, gate).SetExpiriesAsync("default", TimeSpan.FromDays(7), CancellationToken.None);
        Assert.Equal(["old-1|default|finished|expiry:true", "old-2|default|finished|expiry:true"], await RowsAsync());
        await using var command = Source.CreateCommand("SELECT count(*) FROM batch_registry WHERE expires_at - finished_at = interval '7 days'");
        Assert.Equal(2L, await command.ExecuteScalarAsync());
    }

    private async Task<List<string>> RowsAsync()
    {
        await using var command = Source.CreateCommand(
            "SELECT batch_id || '|' || tenant_id || '|' || status || '|expiry:' || (expires_at IS NOT NULL)::text FROM batch_registry ORDER BY batch_id");
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = Source.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
