using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Gateway.Quotas;

/// <summary>
/// Each tenant's requests per second with a burst: a token bucket per tenant (<see cref="PartitionedRateLimiter"/>)
/// sized from its quotas and this gateway's share of them (<see cref="TenantRateLimitOptions.Gateways"/>). A request
/// over it is answered 429 with <c>Retry-After</c> and never reaches the cluster. <c>/health</c> and calls that act for
/// no tenant (the operator's) are not limited.
/// </summary>
internal sealed class TenantRateLimits(TenantQuotaCache quotas, IOptions<TenantRateLimitOptions> options) : IDisposable
{
    // A bucket is keyed by its size as well: changed quotas start a new bucket, and the old one is dropped once idle.
    private readonly PartitionedRateLimiter<Bucket> _limiter = PartitionedRateLimiter.Create<Bucket, Bucket>(
        bucket => RateLimitPartition.GetTokenBucketLimiter(bucket, b => b.Options()));

    public static Task InvokeAsync(HttpContext http, RequestDelegate next) =>
        http.RequestServices.GetRequiredService<TenantRateLimits>().LimitAsync(http, next);

    private async Task LimitAsync(HttpContext http, RequestDelegate next)
    {
        if (http.Request.Path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
            || TenantContext.Current is not { } tenant
            || await quotas.GetAsync(tenant) is not { } quota)
        {
            await next(http);
            return;
        }

        var bucket = Bucket.Of(tenant, quota, options.Value.Gateways);
        using (var lease = _limiter.AttemptAcquire(bucket))
        {
            if (!lease.IsAcquired)
            {
                var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1 / bucket.Rate);
                var seconds = (int)Math.Clamp(Math.Ceiling(wait.TotalSeconds), 1, 3600);
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await ProblemResponses.WriteAsync(http, ApiProblems.RateLimited(tenant, seconds, bucket.Rate, bucket.Burst));
                return;
            }
        }

        await next(http);
    }

    public void Dispose() => _limiter.Dispose();

    /// <summary>A tenant's bucket on this gateway: its share of the tenant's rate and burst.</summary>
    internal readonly record struct Bucket(string Tenant, double Rate, int Burst)
    {
        public static Bucket Of(string tenant, TenantQuotas quotas, int gateways) =>
            new(tenant, quotas.RequestsPerSecond / gateways, Math.Max(1, (int)Math.Ceiling((double)quotas.Burst / gateways)));

        /// <summary>Whole tokens per period, the period chosen so they come at exactly <see cref="Rate"/>.</summary>
        public TokenBucketRateLimiterOptions Options()
        {
            var tokens = Math.Max(1, (int)Math.Ceiling(Rate));
            return new TokenBucketRateLimiterOptions
            {
                TokenLimit = Burst,
                TokensPerPeriod = tokens,
                ReplenishmentPeriod = TimeSpan.FromSeconds(tokens / Rate),
                QueueLimit = 0,
                AutoReplenishment = true,
            };
        }
    }
}
