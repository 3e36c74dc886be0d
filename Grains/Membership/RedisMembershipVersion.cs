using Microsoft.Extensions.Options;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Orleans.Batch.Grains.Membership;

/// <summary>
/// Raises the version row of the Redis membership table (the hash field <c>Version</c> that Orleans's table compares in
/// every conditional write) to a floor, creating it when the hash is gone. Orleans has no call for this: its table only
/// ever moves the version up by one.
/// </summary>
public sealed class RedisMembershipVersion(IOptions<RedisClusteringOptions> redis, IOptions<ClusterOptions> cluster) : IAsyncDisposable
{
    // Atomic, so silos raising it at once leave the highest floor; a write conditioned on the old version then fails and
    // Orleans reads the table again.
    private const string RaiseScript = """
        local current = tonumber(redis.call('HGET', KEYS[1], 'Version') or '')
        if current == nil or current < tonumber(ARGV[1]) then
          redis.call('HSET', KEYS[1], 'Version', ARGV[1])
          return 1
        end
        return 0
        """;

    private readonly RedisKey _key = redis.Value.CreateRedisKey(cluster.Value);
    private IConnectionMultiplexer? _connection;
    private bool _shared;

    /// <summary>Sets the version row to <paramref name="floor"/> unless it is already that high; callers serialize calls.</summary>
    public async Task RaiseAsync(int floor)
    {
        if (_connection is null)
        {
            (_connection, _shared) = await redis.Value.CreateMultiplexer(redis.Value);
        }

        await _connection.GetDatabase().ScriptEvaluateAsync(
            RaiseScript, [_key], [floor.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is { } connection && !_shared)
        {
            await connection.DisposeAsync();
        }
    }
}
