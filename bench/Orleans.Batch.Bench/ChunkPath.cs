using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Idempotency;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Operations;
using Orleans.Batch.Grains.Resources;
using Orleans.Batch.Grains.Tenancy;

namespace Orleans.Batch.Bench;

/// <summary>
/// The chunk path of an import on its own, in this process: a batch's user creates encoded as the batch hands them to a
/// silo, decoded, and run by the executor with their result runs, as the chunk grains run them, against the running
/// service's PostgreSQL. No gateway, no staging, no Orleans messaging: what is left is the cost of running the items.
/// The chunk grain's encoding of its answer is left out.
/// </summary>
internal static class ChunkPath
{
    public static async Task RunAsync(BenchOptions options)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Postgres"] = options.Postgres,
                ["Database:MaxConcurrency"] = options.DatabaseConcurrency.ToString(CultureInfo.InvariantCulture),
            })
            .Build();
        await using var services = new ServiceCollection()
            .AddLogging()
            .AddBatchDatabase(configuration)
            .AddResources()
            .AddIdempotency(configuration)
            // No cluster to ask for tenants' quotas: its creates carry no idempotency keys, which would need them.
            .AddSingleton(new TenantQuotaCache((_, _) => Task.FromResult<TenantQuotas?>(null), TimeProvider.System))
            .BuildServiceProvider();
        var executor = services.GetRequiredService<OperationExecutor>();
        var dataSource = services.GetRequiredService<NpgsqlDataSource>();

        Console.WriteLine($"{options.ImportRows:N0} user creates a round, chunks of {options.ChunkSize}, {options.ChunkConcurrency} at once, {options.DatabaseConcurrency} in the database at once; the first rounds warm up the JIT.");
        Console.WriteLine("| round | rows/s | this process, CPU-s | PostgreSQL, CPU-s |");
        Console.WriteLine("|---|---|---|---|");
        for (var round = 1; round <= options.Rounds; round++)
        {
            var batchId = $"chunks-{Guid.NewGuid():N}";
            var items = Items(batchId, options.ImportRows);
            var process = Process.GetCurrentProcess();
            var (cpu, postgres, clock) = (process.TotalProcessorTime, PostgresCpu.Read(), Stopwatch.StartNew());
            var next = 0;
            await Task.WhenAll(Enumerable.Range(0, options.ChunkConcurrency).Select(_ => WorkAsync()));
            clock.Stop();
            process.Refresh();
            var used = (process.TotalProcessorTime - cpu).TotalSeconds;
            var database = PostgresCpu.Read() - postgres;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {round} | {options.ImportRows / clock.Elapsed.TotalSeconds:N0} | {used:F2} | {(database is { } d ? d.ToString("F2", CultureInfo.InvariantCulture) : "not on this machine")} |"));
            await using var cleanup = dataSource.CreateCommand("DELETE FROM batch_result_runs WHERE batch_id = $1");
            cleanup.Parameters.AddWithValue(batchId);
            await cleanup.ExecuteNonQueryAsync();

            async Task WorkAsync()
            {
                while (Interlocked.Add(ref next, options.ChunkSize) - options.ChunkSize is var first && first < items.Count)
                {
                    var count = Math.Min(options.ChunkSize, items.Count - first);
                    var operations = BatchItemSlice.Of(items.GetRange(first, count)).DecodeOperations();
                    var ledger = new ItemLedger(batchId, Enumerable.Range(first, count).ToList()) { Resent = false };
                    var answers = await executor.ExecuteManyAsync(TenantContext.Default, operations, ledger, CancellationToken.None);
                    if (answers.Responses.FirstOrDefault(r => r.Status != 201) is { } failed)
                    {
                        throw new InvalidOperationException($"A create answered {failed.Status}: {failed.Body}");
                    }
                }
            }
        }
    }

    private static List<BatchItem> Items(string batchId, int rows)
    {
        var tag = batchId[^12..];
        var items = new List<BatchItem>(rows);
        for (var i = 1; i <= rows; i++)
        {
            var (email, name) = ($"{tag}-{i}@chunks.example.com", $"Chunk User {i}");
            var body = $$"""{"email":"{{email}}","name":"{{name}}"}""";
            items.Add(new BatchItem(new OperationRequest($"row-{i}", "POST", "/users", body, null, batchId), [email, name]));
        }

        return items;
    }
}
