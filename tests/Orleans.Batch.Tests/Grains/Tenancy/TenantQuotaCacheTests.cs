using Microsoft.Extensions.Time.Testing;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Tenancy;

namespace Orleans.Batch.Tests.Grains.Tenancy;

public sealed class TenantQuotaCacheTests
{
    private static readonly TenantQuotas Quotas = new(10, 20, 3, 4, 100, 1, TimeSpan.FromDays(1), TimeSpan.FromHours(2));

    [Fact]
    public async Task Get_WithinMaxAge_ReadsEachTenantOnce()
    {
        var (cache, reads, _) = Cache(tenant => tenant == "known" ? Quotas : null);

        Assert.Equal(Quotas, await cache.GetAsync("known", CancellationToken.None));
        Assert.Equal(Quotas, await cache.GetAsync("known", CancellationToken.None));
        Assert.Null(await cache.GetAsync("unknown", CancellationToken.None));
        Assert.Null(await cache.GetAsync("unknown", CancellationToken.None));

        Assert.Equal(["known", "unknown"], reads);
    }

    [Fact]
    public async Task Get_AfterMaxAge_ReadsAgain()
    {
        var current = Quotas;
        var (cache, reads, time) = Cache(_ => current);
        await cache.GetAsync("t", CancellationToken.None);

        current = Quotas with { IdempotencyRetention = TimeSpan.FromMinutes(5) };
        time.Advance(TenantQuotaCache.MaxAge - TimeSpan.FromSeconds(1));
        Assert.Equal(Quotas, await cache.GetAsync("t", CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(current, await cache.GetAsync("t", CancellationToken.None));

        Assert.Equal(["t", "t"], reads);
    }

    [Fact]
    public async Task WeightOf_NotReadYet_AnswersOneAndReadsOnceInTheBackground()
    {
        var (cache, reads, _) = Cache(_ => Quotas with { Weight = 3 });

        Assert.Equal(1, cache.WeightOf("t"));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (cache.WeightOf("t") != 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(3, cache.WeightOf("t"));
        lock (reads)
        {
            Assert.Equal(["t"], reads);
        }
    }

    [Fact]
    public async Task Get_ReadFails_CachesNothing()
    {
        var fail = true;
        var (cache, reads, _) = Cache(_ => fail ? throw new TimeoutException("The tenant's grain did not answer.") : Quotas);

        await Assert.ThrowsAsync<TimeoutException>(() => cache.GetAsync("t", CancellationToken.None).AsTask());
        fail = false;

        Assert.Equal(Quotas, await cache.GetAsync("t", CancellationToken.None));
        Assert.Equal(["t", "t"], reads);
    }

    private static (TenantQuotaCache Cache, List<string> Reads, FakeTimeProvider Time) Cache(Func<string, TenantQuotas?> quotas)
    {
        var reads = new List<string>();
        var time = new FakeTimeProvider();
        var cache = new TenantQuotaCache(
            (tenant, _) =>
            {
                lock (reads)
                {
                    reads.Add(tenant);
                }

                return Task.FromResult(quotas(tenant));
            },
            time);
        return (cache, reads, time);
    }
}
