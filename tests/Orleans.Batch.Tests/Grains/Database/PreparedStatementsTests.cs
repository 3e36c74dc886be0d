using Npgsql;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Grains.Database;

/// <summary>
/// The Npgsql behaviour behind "Received unexpected backend message DataRow": a statement whose preparing run fails
/// binding a parameter is left unusable on its connection, with or without a reset on close, until its prepared
/// statements are dropped. On one connection of a pool of one, as the silos' data source configures it.
/// </summary>
public sealed class PreparedStatementsTests
{
    private const string Sql = "SELECT @p::text FROM generate_series(1, 2)";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BindFailureOnThePreparingRun_LeavesTheStatementUnusable_WithOrWithoutResetOnClose(bool noResetOnClose)
    {
        await using var source = DataSource(noResetOnClose);
        Assert.Equal("x", await RunAsync(source, "x"));
        await Assert.ThrowsAsync<PostgresException>(() => RunAsync(source, "nul\0"));

        var broken = await Assert.ThrowsAnyAsync<Exception>(() => RunAsync(source, "y"));

        Assert.Contains("unexpected backend message", broken.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Forget_AfterABindFailure_TheStatementRunsAgain()
    {
        await using var source = DataSource(noResetOnClose: true);
        Assert.Equal("x", await RunAsync(source, "x"));
        await using (var connection = await source.OpenConnectionAsync())
        {
            var failure = await Assert.ThrowsAsync<PostgresException>(() => RunAsync(connection, "nul\0"));
            Assert.True(PreparedStatements.MayBeBroken(failure));
            PreparedStatements.Forget(connection);
        }

        Assert.Equal("y", await RunAsync(source, "y"));
        Assert.Equal("z", await RunAsync(source, "z"));
    }

    [Fact]
    public void MayBeBroken_OnlyDataExceptions()
    {
        Assert.True(PreparedStatements.MayBeBroken(new PostgresException("bad byte", "ERROR", "ERROR", "22021")));
        Assert.False(PreparedStatements.MayBeBroken(new PostgresException("taken", "ERROR", "ERROR", "23505")));
        Assert.False(PreparedStatements.MayBeBroken(new InvalidOperationException("22021")));
    }

    private static NpgsqlDataSource DataSource(bool noResetOnClose)
    {
        var effective = new DatabaseOptions { ConnectionString = TestEnvironment.Postgres }.EffectiveConnectionString();
        return NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(effective) { MaxPoolSize = 1, NoResetOnClose = noResetOnClose }.ConnectionString);
    }

    private static async Task<string?> RunAsync(NpgsqlDataSource source, string value)
    {
        await using var connection = await source.OpenConnectionAsync();
        return await RunAsync(connection, value);
    }

    private static async Task<string?> RunAsync(NpgsqlConnection connection, string value)
    {
        await using var command = new NpgsqlCommand(Sql, connection);
        command.Parameters.AddWithValue("p", value);
        return (string?)await command.ExecuteScalarAsync();
    }
}
