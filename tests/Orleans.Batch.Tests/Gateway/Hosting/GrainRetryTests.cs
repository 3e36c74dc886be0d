using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace Orleans.Batch.Tests.Gateway.Hosting;

public sealed class GrainRetryTests
{
    [Fact]
    public async Task RunAsync_SiloFailuresThenAnAnswer_ReturnsTheAnswer()
    {
        var attempts = 0;

        var answer = await Retry(TimeSpan.FromSeconds(10)).RunAsync(() => ++attempts < 3 ? throw new SiloUnavailableException() : Task.FromResult(42), CancellationToken.None);

        Assert.Equal((42, 3), (answer, attempts));
    }

    [Fact]
    public async Task RunAsync_AFailureNotOfADeadSilo_IsNotSentAgain()
    {
        var attempts = 0;

        await Assert.ThrowsAsync<ArgumentException>(() => Retry(TimeSpan.FromSeconds(10)).RunAsync<int>(() => { attempts++; throw new ArgumentException("bad"); }, CancellationToken.None));

        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task RunAsync_DatabaseFailure_IsSentAgainOnlyWhereTheCallerSaysItIsSafe()
    {
        var plain = 0;
        var upload = 0;

        await Assert.ThrowsAsync<DatabaseUnavailableException>(() => Retry(TimeSpan.FromSeconds(10)).RunAsync<int>(
            () => { plain++; throw new DatabaseUnavailableException("down"); }, CancellationToken.None));
        var answer = await Retry(TimeSpan.FromSeconds(10)).RunAsync(
            () => ++upload < 2 ? throw new DatabaseUnavailableException("down") : Task.FromResult(7), ClusterFailures.SiloOrDatabase, CancellationToken.None);

        Assert.Equal((1, 7, 2), (plain, answer, upload));
    }

    [Fact]
    public async Task RunAsync_FailoverTimeUsedUp_ThrowsTheLastFailure_WithinTheTime()
    {
        var attempts = 0;
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAsync<ConnectionFailedException>(() => Retry(TimeSpan.FromMilliseconds(600)).RunAsync<int>(
            () => { attempts++; throw new ConnectionFailedException("gone"); }, CancellationToken.None));

        Assert.True(attempts >= 2, $"Sent {attempts} times within the failover time.");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"Gave up after {clock.Elapsed}, far past the failover time.");
    }

    [Fact]
    public async Task RunAsync_NoFailoverTime_SendsOnce()
    {
        var attempts = 0;

        await Assert.ThrowsAsync<SiloUnavailableException>(() => Retry(TimeSpan.Zero).RunAsync<int>(() => { attempts++; throw new SiloUnavailableException(); }, CancellationToken.None));

        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task RunAsync_RequestCancelled_StopsSending()
    {
        using var cancel = new CancellationTokenSource();
        var attempts = 0;

        await Assert.ThrowsAsync<SiloUnavailableException>(() => Retry(TimeSpan.FromSeconds(10)).RunAsync<int>(
            () => { attempts++; cancel.Cancel(); throw new SiloUnavailableException(); }, cancel.Token));

        Assert.Equal(1, attempts);
    }

    [Fact]
    public async Task RunAsync_AnAttemptNeverAnswered_IsCancelledAfterTheAttemptTimeout_AndSentAgain()
    {
        var attempts = 0;
        var clock = Stopwatch.StartNew();

        var answer = await Retry(TimeSpan.FromSeconds(10)).RunAsync(
            async attempt =>
            {
                if (++attempts == 1)
                {
                    await Task.Delay(Timeout.Infinite, attempt);
                }

                return 5;
            },
            ClusterFailures.SiloDied,
            CancellationToken.None);

        Assert.Equal((5, 2), (answer, attempts));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"The unanswered attempt was waited for {clock.Elapsed}.");
    }

    [Fact]
    public async Task RunAsync_AttemptsNeverAnswered_GiveUpAsATimeout_AfterTheFailoverTime()
    {
        await Assert.ThrowsAsync<TimeoutException>(() => Retry(TimeSpan.FromSeconds(1)).RunAsync<int>(
            async attempt => { await Task.Delay(Timeout.Infinite, attempt); return 0; }, ClusterFailures.SiloDied, CancellationToken.None));
    }

    [Theory]
    [InlineData(2, 10_000, 250)]
    [InlineData(3, 10_000, 500)]
    [InlineData(4, 10_000, 1000)]
    [InlineData(5, 10_000, 2000)]
    [InlineData(50, 10_000, 2000)]
    [InlineData(5, 300, 300)]
    public void DelayBefore_BacksOffUpToTwoSeconds_NeverPastTheTimeLeft(int attempt, int leftMs, int expectedMs)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), RetryPlan.DelayBefore(attempt, TimeSpan.FromMilliseconds(leftMs)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void DelayBefore_NoTimeLeft_GivesUp(int leftMs)
    {
        Assert.Null(RetryPlan.DelayBefore(2, TimeSpan.FromMilliseconds(leftMs)));
    }

    public static TheoryData<Exception, bool, bool> Failures => new()
    {
        { new SiloUnavailableException(), true, true },
        { new ConnectionFailedException("gone"), true, true },
        { new TimeoutException(), true, true },
        { new DatabaseUnavailableException("down"), false, true },
        { new InvalidOperationException("bug"), false, false },
        { new ArgumentOutOfRangeException("firstSeq"), false, false },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void ClusterFailures_TellADeadSiloAndALostDatabaseFromEverythingElse(Exception failure, bool siloDied, bool siloOrDatabase)
    {
        Assert.Equal((siloDied, siloOrDatabase), (ClusterFailures.SiloDied(failure), ClusterFailures.SiloOrDatabase(failure)));
    }

    [Theory]
    [InlineData(0, 10, true)]
    [InlineData(120, 10, true)]
    [InlineData(25, 1, true)]
    [InlineData(25, 60, true)]
    [InlineData(-1, 10, false)]
    [InlineData(121, 10, false)]
    [InlineData(25, 0, false)]
    [InlineData(25, 61, false)]
    public void FailoverAndAttemptTimeouts_WithinTheirBounds_AreValid(int failoverSeconds, int attemptSeconds, bool valid)
    {
        var options = new ClusterClientOptions { FailoverTimeout = TimeSpan.FromSeconds(failoverSeconds), AttemptTimeout = TimeSpan.FromSeconds(attemptSeconds) };

        Assert.Equal(valid, options.IsValid);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(600, true)]
    [InlineData(0, false)]
    [InlineData(601, false)]
    public void GatewayListRefreshPeriod_WithinItsBounds_IsValid(int seconds, bool valid) =>
        Assert.Equal(valid, new ClusterClientOptions { GatewayListRefreshPeriod = TimeSpan.FromSeconds(seconds) }.IsValid);

    private static GrainRetry Retry(TimeSpan failover) => new(
        Options.Create(new ClusterClientOptions { FailoverTimeout = failover, AttemptTimeout = TimeSpan.FromSeconds(1) }), NullLogger<GrainRetry>.Instance);
}
