namespace Orleans.Batch.Grains.Fairness;

/// <summary>
/// Who gets the next of the cluster's <see cref="Capacity"/> slots (a slot runs one chunk: one operation, or a chunk that
/// runs as one statement). Among tenants with a waiting request and fewer slots than their cap, the one holding the
/// fewest slots for its weight goes first, so shares follow the weights while tenants compete and an idle tenant's share
/// goes to the others. Within a tenant, the holder (a batch) with the fewest slots goes first, so a small batch is not
/// served behind a large one's queue. A holder that is not heard from for a lease's length loses its slots.
/// Not thread-safe: its grain calls it from one thread.
/// </summary>
public sealed class FairShare(int capacity, int maxWaitingPerTenant)
{
    private readonly Dictionary<string, TenantLane> _tenants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HolderLane> _holders = new(StringComparer.Ordinal);
    private readonly Dictionary<long, HolderLane> _waiting = [];
    private long _nextWaiter;
    private long _grants;

    public int Capacity { get; } = capacity;

    /// <summary>Slots held across all tenants.</summary>
    public int InFlight { get; private set; }

    public int InFlightOf(string tenant) => _tenants.TryGetValue(tenant, out var lane) ? lane.InFlight : 0;

    public int WaitingOf(string tenant) => _tenants.TryGetValue(tenant, out var lane) ? lane.Waiting : 0;

    /// <summary>Holders known (holding slots or waiting for one).</summary>
    public int Holders => _holders.Count;

    /// <summary>A tenant's weight and the most slots it may hold at once (its quotas).</summary>
    public void SetQuotas(string tenant, int weight, int maxInFlight)
    {
        var lane = Tenant(tenant);
        lane.Weight = Math.Max(1, weight);
        lane.Cap = Math.Max(1, maxInFlight);
    }

    /// <summary>Queues a request for a slot of <paramref name="holder"/>; null when its tenant's queue is full.</summary>
    public long? Enqueue(string tenant, string holder, DateTimeOffset now)
    {
        var lane = Holder(tenant, holder, now);
        if (lane.Tenant.Waiting >= maxWaitingPerTenant)
        {
            return null;
        }

        var waiter = ++_nextWaiter;
        lane.Queue.Enqueue(waiter);
        lane.Waiting++;
        lane.Tenant.Waiting++;
        _waiting[waiter] = lane;
        return waiter;
    }

    /// <summary>Takes a waiting request out of its queue; false when it is not waiting (it was granted, or is unknown).</summary>
    public bool Cancel(long waiter)
    {
        if (!_waiting.Remove(waiter, out var lane))
        {
            return false;
        }

        lane.Waiting--;
        lane.Tenant.Waiting--;
        Prune(lane);
        return true;
    }

    /// <summary>Hands out free slots to waiting requests, best first, and returns those granted.</summary>
    public List<long> Grant(DateTimeOffset now)
    {
        var granted = new List<long>();
        while (InFlight < Capacity && Next() is { } tenant)
        {
            var holder = NextHolder(tenant);
            var waiter = Head(holder)!.Value;
            holder.Queue.Dequeue();
            _waiting.Remove(waiter);
            holder.Waiting--;
            tenant.Waiting--;
            holder.InFlight++;
            tenant.InFlight++;
            InFlight++;
            holder.SeenAt = now;
            tenant.LastServed = ++_grants;
            granted.Add(waiter);
        }

        return granted;
    }

    /// <summary>A holder gives one slot back.</summary>
    public void Release(string holder, DateTimeOffset now)
    {
        if (_holders.TryGetValue(holder, out var lane) && lane.InFlight > 0)
        {
            lane.SeenAt = now;
            Take(lane, 1);
        }
    }

    /// <summary>
    /// A holder says it is alive and holds <paramref name="held"/> slots: slots reclaimed from it, or forgotten when the
    /// scheduler moved, count again. Never lowered: a grant the holder has not yet heard of counts already. A release
    /// that went missing is made good when the holder, idle, expires.
    /// </summary>
    public void Renew(string tenant, string holder, int held, DateTimeOffset now)
    {
        var lane = Holder(tenant, holder, now);
        var delta = Math.Max(0, held - lane.InFlight);
        lane.InFlight += delta;
        lane.Tenant.InFlight += delta;
        InFlight += delta;
        Prune(lane);
    }

    /// <summary>Reclaims the slots of holders not heard from since <paramref name="now"/> minus <paramref name="timeout"/>.</summary>
    public List<(string Holder, string Tenant, int Slots)> Expire(DateTimeOffset now, TimeSpan timeout)
    {
        var expired = new List<(string, string, int)>();
        foreach (var lane in _holders.Values.Where(h => h.InFlight > 0 && h.SeenAt < now - timeout).ToList())
        {
            expired.Add((lane.Id, lane.Tenant.Id, lane.InFlight));
            Take(lane, lane.InFlight);
        }

        return expired;
    }

    /// <summary>The tenant that goes next: fewest slots for its weight, then the one served longest ago.</summary>
    private TenantLane? Next()
    {
        TenantLane? best = null;
        foreach (var lane in _tenants.Values)
        {
            if (lane.Waiting > 0 && lane.InFlight < lane.Cap && (best is null || Before(lane, best)))
            {
                best = lane;
            }
        }

        return best;
    }

    private static bool Before(TenantLane a, TenantLane b)
    {
        var (left, right) = ((long)a.InFlight * b.Weight, (long)b.InFlight * a.Weight);
        return left < right || left == right && a.LastServed < b.LastServed;
    }

    /// <summary>The tenant's holder that goes next: fewest slots, then the one waiting longest.</summary>
    private HolderLane NextHolder(TenantLane tenant)
    {
        HolderLane? best = null;
        foreach (var holder in tenant.Holders)
        {
            if (holder.Waiting > 0 && (best is null || holder.InFlight < best.InFlight || holder.InFlight == best.InFlight && Head(holder) < Head(best)))
            {
                best = holder;
            }
        }

        return best!;
    }

    /// <summary>The holder's oldest request still waiting; cancelled ones are dropped from the queue's front here.</summary>
    private long? Head(HolderLane holder)
    {
        while (holder.Queue.TryPeek(out var waiter))
        {
            if (_waiting.ContainsKey(waiter))
            {
                return waiter;
            }

            holder.Queue.Dequeue();
        }

        return null;
    }

    private void Take(HolderLane lane, int slots)
    {
        lane.InFlight -= slots;
        lane.Tenant.InFlight -= slots;
        InFlight -= slots;
        Prune(lane);
    }

    private TenantLane Tenant(string tenant)
    {
        if (!_tenants.TryGetValue(tenant, out var lane))
        {
            _tenants[tenant] = lane = new TenantLane(tenant);
        }

        return lane;
    }

    private HolderLane Holder(string tenant, string holder, DateTimeOffset now)
    {
        if (!_holders.TryGetValue(holder, out var lane))
        {
            var owner = Tenant(tenant);
            _holders[holder] = lane = new HolderLane(holder, owner);
            owner.Holders.Add(lane);
        }

        lane.SeenAt = now;
        return lane;
    }

    /// <summary>A holder with no slot and no waiting request is forgotten; its tenant keeps its quotas.</summary>
    private void Prune(HolderLane lane)
    {
        if (lane.InFlight == 0 && lane.Waiting == 0)
        {
            lane.Queue.Clear();
            _holders.Remove(lane.Id);
            lane.Tenant.Holders.Remove(lane);
        }
    }

    private sealed class TenantLane(string id)
    {
        public string Id { get; } = id;

        public int Weight { get; set; } = 1;

        public int Cap { get; set; } = int.MaxValue;

        public int InFlight { get; set; }

        public int Waiting { get; set; }

        public long LastServed { get; set; }

        public List<HolderLane> Holders { get; } = [];
    }

    private sealed class HolderLane(string id, TenantLane tenant)
    {
        public string Id { get; } = id;

        public TenantLane Tenant { get; } = tenant;

        public int InFlight { get; set; }

        public int Waiting { get; set; }

        public Queue<long> Queue { get; } = new();

        public DateTimeOffset SeenAt { get; set; }
    }
}
