using Orleans.Batch.Gateway.Http;

namespace Orleans.Batch.Tests.Gateway.Http;

/// <summary>Which exceptions that reach the gateway mean a silo lost its database (503), and which are bugs (500).</summary>
public sealed class DatabaseFailuresTests
{
    [Theory]
    [InlineData("Npgsql.PostgresException", "57P01: terminating connection due to administrator command", true)]
    [InlineData("Npgsql.PostgresException", "08006: connection failure", true)]
    [InlineData("Npgsql.PostgresException", "53300: sorry, too many clients already", true)]
    [InlineData("Npgsql.NpgsqlException", "Exception while reading from stream", true)]
    [InlineData("Npgsql.PostgresException", "42P01: relation \"nowhere\" does not exist", false)]
    public void LostConnection_NpgsqlType_ClassifiedBySqlState(string type, string message, bool expected) =>
        Assert.Equal(expected, DatabaseFailures.LostConnection(type, message));

    [Fact]
    public void LostConnection_NoNpgsqlExceptionInTheChain_IsFalse() =>
        Assert.False(DatabaseFailures.LostConnection(new OrleansException("57P01: looks like it", new TimeoutException("slow"))));
}
