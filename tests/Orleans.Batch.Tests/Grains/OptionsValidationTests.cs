using Npgsql;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Database;

namespace Orleans.Batch.Tests.Grains;

public sealed class OptionsValidationTests
{
    private const string Postgres = "Host=127.0.0.1;Username=postgres;Database=orleans_batch";

    [Fact]
    public void Database_Defaults_AreValidWithDefaultPoolSizeOf100()
    {
        var options = new DatabaseOptions { ConnectionString = Postgres };

        Assert.Empty(options.Validate());
        Assert.Equal(16, options.MaxConcurrency);
        Assert.Equal(4, options.ReservedConnections);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Database_MissingConnectionString_IsTheOnlyError(string connectionString)
    {
        var options = new DatabaseOptions { ConnectionString = connectionString, MaxConcurrency = 0, ReservedConnections = 0 };

        Assert.Equal(["ConnectionStrings:Postgres is required."], options.Validate());
    }

    [Theory]
    [InlineData("not a connection string")]
    [InlineData("Host=localhost;Bogus Keyword=1")]
    [InlineData("Host=localhost;Maximum Pool Size=lots")]
    [InlineData("Host=localhost;Maximum Pool Size=-1")]
    [InlineData("Host=localhost;Port=http")]
    public void Database_InvalidConnectionString_IsTheOnlyError(string connectionString)
    {
        var options = new DatabaseOptions { ConnectionString = connectionString, MaxConcurrency = 0 };

        Assert.Equal(["ConnectionStrings:Postgres is not a valid Npgsql connection string."], options.Validate());
    }

    [Fact]
    public void Database_ConcurrencyPlusReservedEqualToPoolSize_IsValid()
    {
        var options = new DatabaseOptions
        {
            ConnectionString = Postgres + ";Maximum Pool Size=20",
            MaxConcurrency = 16,
            ReservedConnections = 4,
        };

        Assert.Empty(options.Validate());
    }

    [Fact]
    public void Database_ConcurrencyPlusReservedAbovePoolSize_IsAnError()
    {
        var options = new DatabaseOptions
        {
            ConnectionString = Postgres + ";Maximum Pool Size=19",
            MaxConcurrency = 16,
            ReservedConnections = 4,
        };

        Assert.Equal(
            ["Database:MaxConcurrency (16) plus Database:ReservedConnections (4) must not exceed the connection pool size (19)."],
            options.Validate());
    }

    [Fact]
    public void Database_DefaultsAboveDefaultPoolSize_IsAnError()
    {
        var options = new DatabaseOptions { ConnectionString = Postgres, MaxConcurrency = 97 };

        Assert.Equal(
            ["Database:MaxConcurrency (97) plus Database:ReservedConnections (4) must not exceed the connection pool size (100)."],
            options.Validate());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(257)]
    public void Database_MaxAutoPrepareOutOfRange_IsAnError(int value)
    {
        var options = new DatabaseOptions { ConnectionString = Postgres, MaxAutoPrepare = value };

        Assert.Equal([$"Database:MaxAutoPrepare must be between 0 and 256, got {value}."], options.Validate());
    }

    [Fact]
    public void Database_NoAutoPrepareInConnectionString_UsesTheOption()
    {
        var options = new DatabaseOptions { ConnectionString = Postgres, MaxAutoPrepare = 12 };

        var effective = new NpgsqlConnectionStringBuilder(options.EffectiveConnectionString());

        Assert.Equal(12, effective.MaxAutoPrepare);
        Assert.Equal(2, effective.AutoPrepareMinUsages);
        Assert.Equal(new NpgsqlConnectionStringBuilder(Postgres).Host, effective.Host);
    }

    [Theory]
    [InlineData("Max Auto Prepare=0")]
    [InlineData("MaxAutoPrepare=0")]
    public void Database_AutoPrepareInConnectionString_Wins(string setting)
    {
        var options = new DatabaseOptions { ConnectionString = Postgres + ";" + setting, MaxAutoPrepare = 12 };

        Assert.Equal(0, new NpgsqlConnectionStringBuilder(options.EffectiveConnectionString()).MaxAutoPrepare);
    }

    [Fact]
    public void Database_NoResetInConnectionString_SkipsTheReset()
    {
        var options = new DatabaseOptions { ConnectionString = Postgres };

        Assert.True(new NpgsqlConnectionStringBuilder(options.EffectiveConnectionString()).NoResetOnClose);
    }

    [Theory]
    [InlineData("No Reset On Close=false")]
    [InlineData("NoResetOnClose=false")]
    public void Database_ResetInConnectionString_Wins(string setting)
    {
        var options = new DatabaseOptions { ConnectionString = Postgres + ";" + setting };

        Assert.False(new NpgsqlConnectionStringBuilder(options.EffectiveConnectionString()).NoResetOnClose);
    }

    [Fact]
    public void Database_MaxConcurrencyBelowOne_IsAnError()
    {
        var options = new DatabaseOptions { ConnectionString = Postgres, MaxConcurrency = 0 };

        Assert.Equal(["Database:MaxConcurrency must be at least 1."], options.Validate());
    }

    [Fact]
    public void Database_ReservedConnectionsBelowOne_IsAnError()
    {
        var options = new DatabaseOptions { ConnectionString = Postgres, ReservedConnections = 0 };

        Assert.Equal(["Database:ReservedConnections must be at least 1."], options.Validate());
    }

    [Fact]
    public void Database_SeveralProblems_AreAllReported()
    {
        var options = new DatabaseOptions
        {
            ConnectionString = Postgres + ";Maximum Pool Size=5",
            MaxConcurrency = 10,
            ReservedConnections = -1,
        };

        var errors = options.Validate().ToList();

        Assert.Equal(2, errors.Count);
        Assert.Contains("Database:ReservedConnections must be at least 1.", errors);
        Assert.Contains(errors, e => e.Contains("pool size (5)", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Database_MaxLargeStatementsBelowOne_IsAnError(int value)
    {
        var options = new DatabaseOptions { ConnectionString = Postgres, MaxLargeStatements = value };

        Assert.Equal([$"Database:MaxLargeStatements must be at least 1; got {value}."], options.Validate());
    }

    [Fact]
    public void Database_MaxLargeStatements_DefaultsToTheCores()
    {
        var options = new DatabaseOptions { ConnectionString = Postgres };

        Assert.Equal(Environment.ProcessorCount, options.MaxLargeStatements);
        Assert.Empty(options.Validate());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(100_001)]
    public void Database_LargeStatementRowsOutOfRange_IsAnError(int value)
    {
        var options = new DatabaseOptions { ConnectionString = Postgres, LargeStatementRows = value };

        Assert.Equal([$"Database:LargeStatementRows must be from 0 to 100000; got {value}."], options.Validate());
    }

    [Fact]
    public void Batch_Defaults_AreValid()
    {
        var options = new BatchOptions();

        Assert.Empty(options.Validate());
        Assert.Equal(16, options.DefaultConcurrency);
        Assert.Equal(5000, options.ChunkSize);
        Assert.Equal(64, options.MaxConcurrency);
        Assert.Equal(TimeSpan.FromSeconds(10), options.MaxWait);
    }

    [Theory]
    [InlineData(null, 16)]
    [InlineData(1, 1)]
    [InlineData(8, 8)]
    [InlineData(64, 64)]
    [InlineData(65, 64)]
    [InlineData(int.MaxValue, 64)]
    [InlineData(0, 1)]
    [InlineData(-5, 1)]
    [InlineData(int.MinValue, 1)]
    public void Batch_ClampConcurrency_StaysWithinOneAndMax(int? requested, int expected)
    {
        var options = new BatchOptions();

        Assert.Equal(expected, options.ClampConcurrency(requested));
    }

    [Fact]
    public void Batch_ClampConcurrency_NullUsesConfiguredDefault()
    {
        var options = new BatchOptions { DefaultConcurrency = 3, MaxConcurrency = 5 };

        Assert.Equal(3, options.ClampConcurrency(null));
        Assert.Equal(5, options.ClampConcurrency(6));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1024)]
    public void Batch_MaxConcurrencyAtBounds_IsValid(int max)
    {
        var options = new BatchOptions { MaxConcurrency = max, DefaultConcurrency = 1 };

        Assert.Empty(options.Validate());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1025)]
    public void Batch_MaxConcurrencyOutOfBounds_IsAnError(int max)
    {
        var options = new BatchOptions { MaxConcurrency = max, DefaultConcurrency = 1 };

        var errors = options.Validate().ToList();

        Assert.Contains($"Batch:MaxConcurrency must be from 1 to 1024; got {max}.", errors);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65)]
    public void Batch_DefaultConcurrencyOutOfBounds_IsAnError(int value)
    {
        var options = new BatchOptions { DefaultConcurrency = value };

        Assert.Equal([$"Batch:DefaultConcurrency must be from 1 to Batch:MaxConcurrency (64); got {value}."], options.Validate());
    }

    [Fact]
    public void Batch_DefaultConcurrencyEqualToMax_IsValid()
    {
        var options = new BatchOptions { DefaultConcurrency = 64 };

        Assert.Empty(options.Validate());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1000)]
    [InlineData(25_001)]
    public void Batch_MaxWaitOutOfBounds_IsAnError(int milliseconds)
    {
        var options = new BatchOptions { MaxWait = TimeSpan.FromMilliseconds(milliseconds) };

        var error = Assert.Single(options.Validate());
        Assert.StartsWith("Batch:MaxWait must be above 0 and at most 25 s", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(25_000)]
    public void Batch_MaxWaitAtBounds_IsValid(int milliseconds)
    {
        var options = new BatchOptions { MaxWait = TimeSpan.FromMilliseconds(milliseconds) };

        Assert.Empty(options.Validate());
    }

    [Fact]
    public void Batch_EveryProblem_IsReported()
    {
        var options = new BatchOptions { MaxConcurrency = 0, DefaultConcurrency = 0, MaxWait = TimeSpan.Zero };

        Assert.Equal(3, options.Validate().Count());
    }

    [Fact]
    public void BatchApi_Defaults_AreValid()
    {
        var options = new BatchApiOptions();

        Assert.Empty(options.Validate());
        Assert.Equal(1000, options.MaxOperations);
        Assert.Equal(10 * 1024 * 1024, options.MaxRequestBytes);
        Assert.Equal(200, options.MaxOperationIdLength);
        Assert.Equal(100, options.DefaultResultsPageSize);
        Assert.Equal(1000, options.MaxResultsPageSize);
        Assert.Equal(60, options.MaxStatusWaitSeconds);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3600)]
    public void BatchApi_MaxStatusWaitSecondsAtBounds_IsValid(int value)
    {
        Assert.Empty(new BatchApiOptions { MaxStatusWaitSeconds = value }.Validate());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(3601)]
    public void BatchApi_MaxStatusWaitSecondsOutOfBounds_IsAnError(int value)
    {
        var options = new BatchApiOptions { MaxStatusWaitSeconds = value };

        Assert.Equal([$"Batch:MaxStatusWaitSeconds must be from 0 to 3,600; got {value}."], options.Validate());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(1_000_000)]
    public void BatchApi_MaxOperationsAtBounds_IsValid(int value)
    {
        Assert.Empty(new BatchApiOptions { MaxOperations = value }.Validate());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(1_000_001)]
    public void BatchApi_MaxOperationsOutOfBounds_IsAnError(int value)
    {
        var options = new BatchApiOptions { MaxOperations = value };

        Assert.Equal([$"Batch:MaxOperations must be from 1 to 1,000,000; got {value}."], options.Validate());
    }

    [Theory]
    [InlineData(1024L)]
    [InlineData(2L * 1024 * 1024 * 1024)]
    public void BatchApi_MaxRequestBytesAtBounds_IsValid(long value)
    {
        Assert.Empty(new BatchApiOptions { MaxRequestBytes = value }.Validate());
    }

    [Theory]
    [InlineData(1023L)]
    [InlineData(0L)]
    [InlineData(2L * 1024 * 1024 * 1024 + 1)]
    public void BatchApi_MaxRequestBytesOutOfBounds_IsAnError(long value)
    {
        var options = new BatchApiOptions { MaxRequestBytes = value };

        Assert.Equal([$"Batch:MaxRequestBytes must be from 1 KiB to 2 GiB; got {value}."], options.Validate());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void BatchApi_MaxOperationIdLengthBelowOne_IsAnError(int value)
    {
        var options = new BatchApiOptions { MaxOperationIdLength = value };

        Assert.Equal(["Batch:MaxOperationIdLength must be at least 1."], options.Validate());
    }

    [Theory]
    [InlineData(0, 1000)]
    [InlineData(-1, 1000)]
    [InlineData(1001, 1000)]
    [InlineData(1, 0)]
    [InlineData(0, 0)]
    public void BatchApi_ResultsPageSizesInconsistent_IsAnError(int defaultSize, int maxSize)
    {
        var options = new BatchApiOptions { DefaultResultsPageSize = defaultSize, MaxResultsPageSize = maxSize };

        Assert.Equal(["Batch:DefaultResultsPageSize must be from 1 to Batch:MaxResultsPageSize."], options.Validate());
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1000, 1000)]
    [InlineData(1, 5000)]
    public void BatchApi_ResultsPageSizesConsistent_IsValid(int defaultSize, int maxSize)
    {
        Assert.Empty(new BatchApiOptions { DefaultResultsPageSize = defaultSize, MaxResultsPageSize = maxSize }.Validate());
    }

    [Fact]
    public void BatchApi_EveryProblem_IsReported()
    {
        var options = new BatchApiOptions { MaxOperations = 0, MaxRequestBytes = 0, MaxOperationIdLength = 0, MaxResultsPageSize = 0 };

        Assert.Equal(4, options.Validate().Count());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3601)]
    public void BatchApi_RetryAfterSecondsOutOfBounds_IsAnError(int value)
    {
        var options = new BatchApiOptions { RetryAfterSeconds = value };

        Assert.Equal([$"Batch:RetryAfterSeconds must be from 1 to 3,600; got {value}."], options.Validate());
    }

    [Fact]
    public void Database_ProbeIntervals_DefaultToAQuarterSecondUpToFive()
    {
        var options = new DatabaseOptions { ConnectionString = Postgres };

        Assert.Equal((TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5)), (options.FirstProbeInterval, options.MaxProbeInterval));
        Assert.Equal(5, new BatchApiOptions().RetryAfterSeconds);
    }

    [Theory]
    [InlineData(0, 5000)]
    [InlineData(2000, 1000)]
    [InlineData(250, 61_000)]
    public void Database_ProbeIntervalsInconsistent_IsAnError(int firstMs, int maxMs)
    {
        var options = new DatabaseOptions
        {
            ConnectionString = Postgres,
            FirstProbeInterval = TimeSpan.FromMilliseconds(firstMs),
            MaxProbeInterval = TimeSpan.FromMilliseconds(maxMs),
        };

        Assert.Equal(
            [$"Database:FirstProbeInterval must be above 0 and at most Database:MaxProbeInterval, itself at most 1 min; got {options.FirstProbeInterval} and {options.MaxProbeInterval}."],
            options.Validate());
    }
}
