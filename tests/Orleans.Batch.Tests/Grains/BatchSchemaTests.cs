using Npgsql;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Grains;

/// <summary>deploy/sql/20-batches.sql as ./test.sh applied it to the test database.</summary>
public sealed class BatchSchemaTests
{
    [Theory]
    [InlineData("batch_item_pages", 8)]
    [InlineData("batch_result_runs", 6)]
    public async Task ArrayColumns_CollectNoStatistics(string table, int arrays)
    {
        // ANALYZE hashes every element of a sampled array; these tables' arrays hold up to 1,000 elements a row.
        const string sql = """
            SELECT a.attname, coalesce(a.attstattarget, -1) AS target
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND t.typcategory = 'A'
            ORDER BY a.attnum
            """;
        await using var source = NpgsqlDataSource.Create(TestEnvironment.Postgres);
        await using var command = source.CreateCommand(sql);
        command.Parameters.AddWithValue(table);
        var columns = new List<(string Name, int Target)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                columns.Add((reader.GetString(0), reader.GetInt32(1)));
            }
        }

        Assert.Equal(arrays, columns.Count);
        Assert.All(columns, c => Assert.True(c.Target == 0, $"{table}.{c.Name} has statistics target {c.Target}, not 0."));
    }
}
