using Npgsql;
using Orleans.Batch.Grains.Hosting;
using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Runtime;

namespace Orleans.Batch.Tests.Grains.Hosting;

/// <summary>Which exceptions leave a gateway-facing grain as they are; every other becomes a <see cref="ServerFailureException"/>.</summary>
public sealed class GatewayBoundaryFilterTests
{
    public static TheoryData<Exception> Contract => new()
    {
        new ArgumentOutOfRangeException("firstSeq"),
        new ArgumentException("an item's text"),
        new InvalidOperationException("not pending"),
        new OperationCanceledException(),
        new TimeoutException(),
        new DatabaseUnavailableException("gone"),
        new ServerFailureException("ref"),
        new SiloUnavailableException(),
    };

    public static TheoryData<Exception> NotContract => new()
    {
        new PostgresException("invalid byte sequence for encoding \"UTF8\": 0x00", "ERROR", "ERROR", "22021"),
        new NpgsqlException("lost"),
        new NullReferenceException(),
        new KeyNotFoundException(),
    };

    [Theory]
    [MemberData(nameof(Contract))]
    public void IsContract_TheGrainsOwnAndTheRuntimesExceptions_PassAsTheyAre(Exception exception) =>
        Assert.True(GatewayBoundaryFilter.IsContract(exception));

    [Theory]
    [MemberData(nameof(NotContract))]
    public void IsContract_AnythingElse_IsReplaced(Exception exception) => Assert.False(GatewayBoundaryFilter.IsContract(exception));
}
