using System.Threading.RateLimiting;
using Orleans.Batch.Gateway.Quotas;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Tests.Gateway.Quotas;

public sealed class TenantRateLimitsTests
{
    [Theory]
    [InlineData(200, 400, 1, 200, 400, 200, 1000)]
    [InlineData(200, 400, 4, 50, 100, 50, 1000)]
    [InlineData(0.5, 1, 1, 0.5, 1, 1, 2000)]
    [InlineData(2.5, 5, 2, 1.25, 3, 2, 1600)]
    public void Bucket_IsTheGatewaysShare_WithWholeTokensAtExactlyTheRate(
        double rate, int burst, int gateways, double bucketRate, int bucketBurst, int tokens, int periodMs)
    {
        var bucket = TenantRateLimits.Bucket.Of("t", Quotas(rate, burst), gateways);
        var options = bucket.Options();

        Assert.Equal((bucketRate, bucketBurst), (bucket.Rate, bucket.Burst));
        Assert.Equal((bucketBurst, tokens, 0), (options.TokenLimit, options.TokensPerPeriod, options.QueueLimit));
        Assert.Equal(TimeSpan.FromMilliseconds(periodMs), options.ReplenishmentPeriod);
    }

    [Fact]
    public void Bucket_OverTheBurst_IsRefusedWithARetryAfter()
    {
        using var limiter = new TokenBucketRateLimiter(TenantRateLimits.Bucket.Of("t", Quotas(1, 2), 1).Options());

        Assert.True(limiter.AttemptAcquire().IsAcquired);
        Assert.True(limiter.AttemptAcquire().IsAcquired);
        using var refused = limiter.AttemptAcquire();

        Assert.False(refused.IsAcquired);
        Assert.True(refused.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.InRange(retryAfter, TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void Options_Defaults_AreValid_AndEveryProblemIsReported()
    {
        Assert.Empty(new TenantRateLimitOptions().Validate());
        Assert.Equal(
            ["RateLimiting:Gateways must be from 1 to 1000; got 0.", "RateLimiting:QuotaRefresh must be from 100 ms to 10 min; got 00:00:00."],
            new TenantRateLimitOptions { Gateways = 0, QuotaRefresh = TimeSpan.Zero }.Validate());
    }

    private static TenantQuotas Quotas(double rate, int burst) =>
        new(rate, burst, 20, 64, 1000, 1, TimeSpan.FromDays(7), TimeSpan.FromHours(1));
}
