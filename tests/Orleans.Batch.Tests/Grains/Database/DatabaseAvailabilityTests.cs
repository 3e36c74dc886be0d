using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Batch.Tests.Infrastructure;
using Orleans.Runtime;

namespace Orleans.Batch.Tests.Grains.Database;

public sealed class DatabaseAvailabilityTests
{
    [Theory]
    [InlineData("57P01")] // terminated by a shutdown
    [InlineData("57P03")] // starting up
    [InlineData("08006")] // connection failure
    [InlineData("53300")] // too many connections
    public void IsUnavailable_ServerErrorOfALostOrRefusedConnection_IsTrue(string sqlState) =>
        Assert.True(DatabaseAvailability.IsUnavailable(Postgres(sqlState)));

    [Theory]
    [InlineData("23505")] // unique violation
    [InlineData("23P01")] // exclusion violation
    [InlineData("22021")] // invalid byte sequence
    [InlineData("40001")] // serialization failure
    public void IsUnavailable_ServerErrorAboutTheStatement_IsFalse(string sqlState) =>
        Assert.False(DatabaseAvailability.IsUnavailable(Postgres(sqlState)));

    [Fact]
    public void IsUnavailable_ConnectionErrorsAndWhatWrapsThem_AreTrue()
    {
        var refused = new NpgsqlException("Failed to connect", new SocketException((int)SocketError.ConnectionRefused));

        Assert.True(DatabaseAvailability.IsUnavailable(refused));
        Assert.True(DatabaseAvailability.IsUnavailable(new OrleansException("Error from storage provider", refused)));
        Assert.True(DatabaseAvailability.IsUnavailable(new OrleansException("wrapped", Postgres("57P01"))));
        Assert.True(DatabaseAvailability.IsUnavailable(new DatabaseUnavailableException("away")));
    }

    [Fact]
    public void IsUnavailable_OtherFailures_AreFalse()
    {
        Assert.False(DatabaseAvailability.IsUnavailable(new InvalidOperationException("bug")));
        Assert.False(DatabaseAvailability.IsUnavailable(new TimeoutException("a silo did not answer")));
        Assert.False(DatabaseAvailability.IsUnavailable(new OrleansException("wrapped", Postgres("23505"))));
    }

    [Theory]
    [InlineData(0, 250)]
    [InlineData(1, 500)]
    [InlineData(3, 2000)]
    [InlineData(4, 4000)]
    [InlineData(5, 5000)]
    [InlineData(60, 5000)]
    [InlineData(int.MaxValue, 5000)]
    public void ProbeBackoff_DoublesFromTheFirstUpToTheMax(int attempt, int expectedMs) =>
        Assert.Equal(
            TimeSpan.FromMilliseconds(expectedMs),
            DatabaseAvailability.ProbeBackoff(attempt, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5)));

    [Fact]
    public async Task WaitAsync_DatabaseAway_EveryWaiterCarriesOnOnceItIsBack()
    {
        await using var proxy = new PostgresProxy(TestEnvironment.Postgres);
        await using var dataSource = NpgsqlDataSource.Create(proxy.ConnectionString);
        var options = Options.Create(new DatabaseOptions
        {
            ConnectionString = proxy.ConnectionString,
            FirstProbeInterval = TimeSpan.FromMilliseconds(20),
            MaxProbeInterval = TimeSpan.FromMilliseconds(200),
        });
        var availability = new DatabaseAvailability(dataSource, options, NullLogger<DatabaseAvailability>.Instance);
        Assert.True(await availability.ProbeAsync());

        await proxy.CutAsync();
        Assert.False(await availability.ProbeAsync());
        var waiters = Enumerable.Range(0, 3).Select(_ => availability.WaitAsync()).ToList();
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.All(waiters, w => Assert.False(w.IsCompleted));
        Assert.NotNull(availability.UnavailableSince);

        await proxy.RestoreAsync();
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Null(availability.UnavailableSince);
        Assert.True(await availability.ProbeAsync());
    }

    private static PostgresException Postgres(string sqlState) => new("message", "FATAL", "FATAL", sqlState);
}
