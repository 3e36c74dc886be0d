using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Scheduling;

namespace Orleans.Batch.Tests.Grains.Scheduling;

public sealed class TenantSlotsTests
{
    [Fact]
    public async Task Acquire_WithoutTenant_IsRefusedAtOnce_NotRetried()
    {
        TenantContext.Clear();
        // No grain factory: a call that reached the scheduler would fail differently (and be retried until stopped).
        var slots = new TenantSlots(null!, Options.Create(new SchedulingOptions()), NullLogger<TenantSlots>.Instance);
        await Assert.ThrowsAsync<TenantRequiredException>(() => slots.AcquireAsync("batch", () => false));
        await Assert.ThrowsAsync<TenantRequiredException>(() => slots.ReleaseAsync("batch"));
    }
}
