namespace Orleans.Batch.Grains.Fairness;

/// <summary>
/// Lets at most <see cref="Capacity"/> callers of one silo through at once and, while some wait, lets the next in by
/// <see cref="FairShare"/>: the tenant using the fewest places for its weight first, and within a tenant the holder (a
/// batch) using the fewest. A first-come queue would put a small batch behind every waiting chunk of another tenant's
/// large import. Small work passes at once, yet makes its tenant active: while several tenants are active (seen within
/// <see cref="ActiveWindow"/>), none holds more than its weight's part of the places, so one tenant's large statements
/// leave room for another's small ones instead of filling every core between them. Thread-safe.
/// </summary>
public sealed class FairGate
{
    /// <summary>The lane of calls that act for no tenant (the operator, the runtime).</summary>
    public const string NoTenant = "";

    /// <summary>How long a tenant counts as active at the gate after it last entered.</summary>
    public static readonly TimeSpan ActiveWindow = TimeSpan.FromSeconds(1);

    private static readonly DateTimeOffset Never = DateTimeOffset.UnixEpoch;

    private readonly object _lock = new();
    private readonly FairShare _share;
    private readonly Dictionary<long, TaskCompletionSource> _waiters = [];
    private readonly Func<string, int> _weightOf;
    private readonly TimeProvider _time;

    /// <summary>Tenants seen recently: their weight and when they last entered.</summary>
    private readonly Dictionary<string, (int Weight, long SeenAt)> _active = new(StringComparer.Ordinal);

    /// <summary>When idle tenants were last looked for.</summary>
    private long _sweptAt;

    public FairGate(int capacity, Func<string, int>? weightOf = null, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _share = new FairShare(capacity, int.MaxValue);
        _weightOf = weightOf ?? (_ => 1);
        _time = time ?? TimeProvider.System;
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>Callers inside now.</summary>
    public int InUse
    {
        get
        {
            lock (_lock)
            {
                return _share.InFlight;
            }
        }
    }

    /// <summary>Callers waiting now, all tenants together.</summary>
    public int Waiting
    {
        get
        {
            lock (_lock)
            {
                return _waiters.Count;
            }
        }
    }

    /// <summary>
    /// Waits for a place for <paramref name="holder"/> of <paramref name="tenant"/>; dispose the pass to give it back.
    /// Cancelled while waiting, it leaves the queue; let in just as it was cancelled, it is let in. Small work takes no
    /// place and passes at once; it only counts its tenant as active.
    /// </summary>
    public ValueTask<Pass> EnterAsync(string tenant, string holder, CancellationToken cancellationToken, bool small = false)
    {
        var weight = tenant.Length == 0 ? 1 : _weightOf(tenant);
        if (small)
        {
            lock (_lock)
            {
                Seen(tenant, weight);
            }

            return ValueTask.FromResult(default(Pass));
        }

        var key = string.Concat(tenant, "/", holder);
        TaskCompletionSource? waiting = null;
        long waiter;
        List<TaskCompletionSource> wake;
        lock (_lock)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Seen(tenant, weight);
            waiter = _share.Enqueue(tenant, key, Never)!.Value;
            var granted = _share.Grant(Never);
            if (!granted.Remove(waiter))
            {
                waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters[waiter] = waiting;
            }

            wake = Woken(granted);
        }

        Wake(wake);
        return waiting is null ? ValueTask.FromResult(new Pass(this, key)) : WaitAsync(waiting, waiter, key, cancellationToken);
    }

    private async ValueTask<Pass> WaitAsync(TaskCompletionSource waiting, long waiter, string key, CancellationToken cancellationToken)
    {
        using (cancellationToken.UnsafeRegister(_ => Cancel(waiter, waiting), null))
        {
            await waiting.Task.ConfigureAwait(false);
        }

        return new Pass(this, key);
    }

    private void Cancel(long waiter, TaskCompletionSource waiting)
    {
        lock (_lock)
        {
            if (!_share.Cancel(waiter))
            {
                return;
            }

            _waiters.Remove(waiter);
        }

        waiting.TrySetCanceled();
    }

    /// <summary>
    /// Notes the tenant active; every active tenant's cap is then its weight's part of the places (at least one).
    /// The caller holds the lock.
    /// </summary>
    private void Seen(string tenant, int weight)
    {
        // The runtime's own statements (no tenant) take their turn but make no tenant give up places.
        var now = _time.GetTimestamp();
        var changed = false;
        if (tenant.Length > 0)
        {
            changed = !_active.TryGetValue(tenant, out var known) || known.Weight != weight;
            _active[tenant] = (weight, now);
        }

        Share(now, changed);
    }

    /// <summary>
    /// Forgets tenants idle beyond the window (looked for every quarter window: this runs on every statement) and, when
    /// the active tenants or their weights changed, sets their caps. The caller holds the lock.
    /// </summary>
    private void Share(long now, bool changed)
    {
        if (_time.GetElapsedTime(_sweptAt, now) >= ActiveWindow / 4)
        {
            _sweptAt = now;
            foreach (var (id, (_, seenAt)) in _active)
            {
                if (_time.GetElapsedTime(seenAt, now) > ActiveWindow && _share.InFlightOf(id) == 0 && _share.WaitingOf(id) == 0)
                {
                    changed |= _active.Remove(id);
                }
            }
        }

        if (!changed)
        {
            return;
        }

        var total = _active.Values.Sum(tenant => (long)tenant.Weight);
        foreach (var (id, (weight, _)) in _active)
        {
            _share.SetQuotas(id, weight, (int)Math.Max(1, Capacity * weight / total));
        }
    }

    private void Leave(string key)
    {
        List<TaskCompletionSource> wake;
        lock (_lock)
        {
            _share.Release(key, Never);
            Share(_time.GetTimestamp(), changed: false);
            wake = Woken(_share.Grant(Never));
        }

        Wake(wake);
    }

    /// <summary>Takes the granted waiters' completions out under the lock; they are completed outside it.</summary>
    private List<TaskCompletionSource> Woken(List<long> granted)
    {
        var wake = new List<TaskCompletionSource>(granted.Count);
        foreach (var waiter in granted)
        {
            if (_waiters.Remove(waiter, out var waiting))
            {
                wake.Add(waiting);
            }
        }

        return wake;
    }

    private static void Wake(List<TaskCompletionSource> wake) => wake.ForEach(waiting => waiting.TrySetResult());

    /// <summary>A place taken in the gate; disposing it (once) gives the place back.</summary>
    public readonly struct Pass(FairGate gate, string key) : IDisposable
    {
        public void Dispose() => gate?.Leave(key);
    }
}
