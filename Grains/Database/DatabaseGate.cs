using Microsoft.Extensions.Options;

namespace Orleans.Batch.Grains.Database;

/// <summary>Bounds the resource statements one silo runs at once below the connection pool size.</summary>
public sealed class DatabaseGate(IOptions<DatabaseOptions> options) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrency, options.Value.MaxConcurrency);

    public int Capacity { get; } = options.Value.MaxConcurrency;

    public int InUse => Capacity - _slots.CurrentCount;

    public async ValueTask<Slot> EnterAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Slot(_slots);
    }

    public void Dispose() => _slots.Dispose();

    public readonly struct Slot(SemaphoreSlim slots) : IDisposable
    {
        public void Dispose() => slots.Release();
    }
}
