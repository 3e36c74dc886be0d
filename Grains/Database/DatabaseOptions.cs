using System.Data.Common;
using Npgsql;
using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Database;

/// <summary>How a silo reaches PostgreSQL. Bound from <c>ConnectionStrings:Postgres</c> and the <c>Database</c> section.</summary>
public sealed class DatabaseOptions : ISelfValidating
{
    public const string Section = "Database";

    /// <summary>Npgsql connection string; its <c>Maximum Pool Size</c> (default 100) bounds the pool.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>
    /// Most resource statements one silo runs at once (default 16). Must stay below the pool size, so grain
    /// storage and health checks always find a free connection however many batches run.
    /// </summary>
    public int MaxConcurrency { get; set; } = 16;

    /// <summary>
    /// Most large statements one silo runs at once (default: its cores): chunks of staged creates and slices of items
    /// stored, of more than <see cref="LargeStatementRows"/> rows; more than <see cref="MaxConcurrency"/> counts as that.
    /// Each is CPU work on both sides and inserts hundreds of rows into the same indexes: more of them than cores only
    /// makes backends wait on each other's index pages and leaves no core for small work.
    /// </summary>
    public int MaxLargeStatements { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// A statement of more rows than this (default 1,000) is large and waits for one of <see cref="MaxLargeStatements"/>;
    /// a smaller one (a sync batch's) passes at once, as it would only wait behind an import's.
    /// </summary>
    public int LargeStatementRows { get; set; } = 1000;

    /// <summary>
    /// Whether a chunk of staged creates waits for its commit to reach the disk (default false). When it does not, its
    /// rows and results are durable with the next commit that waits (the batch's next checkpoint, or any other), and
    /// within three times PostgreSQL's <c>wal_writer_delay</c> in any case: a database crash in between loses the chunk's
    /// rows and results together, and the batch runs those items again. Results a batch serves while it runs are flushed first.
    /// </summary>
    public bool SynchronousStagedCommits { get; set; }

    /// <summary>Connections kept free for grain storage and health checks (default 4).</summary>
    public int ReservedConnections { get; set; } = 4;

    /// <summary>
    /// Statements each connection keeps prepared, used when the connection string sets no <c>Max Auto Prepare</c>
    /// (default 64; 0 turns it off). A chunk runs the same few statements hundreds of times, so PostgreSQL then
    /// parses and plans each of them once per connection instead of once per chunk.
    /// </summary>
    public int MaxAutoPrepare { get; set; } = 64;

    /// <summary>
    /// How long work that lost the database waits before the first probe of it (default 250 ms); each further probe waits
    /// twice as long, up to <see cref="MaxProbeInterval"/>.
    /// </summary>
    public TimeSpan FirstProbeInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest wait between two probes of a database that is away (default 5 s): work carries on at most this long after it is back.</summary>
    public TimeSpan MaxProbeInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The connection string with the defaults this class documents applied, and, unless it says otherwise, <c>No Reset
    /// On Close</c>: the service leaves no session state on a connection (its locks are transaction-scoped), and the
    /// reset Npgsql sends otherwise, seven statements each time a connection is taken from the pool, cost PostgreSQL
    /// more statements than a chunk's own. The reset keeps prepared statements, so it would not mend the one state a
    /// failed statement was seen to leave behind; <see cref="PreparedStatements"/> does.
    /// </summary>
    public string EffectiveConnectionString()
    {
        var given = new DbConnectionStringBuilder { ConnectionString = ConnectionString };
        var builder = new NpgsqlConnectionStringBuilder(ConnectionString);
        bool Sets(string keyword) => given.ContainsKey(keyword) || given.ContainsKey(keyword.Replace(" ", "", StringComparison.Ordinal));
        if (!Sets("Max Auto Prepare"))
        {
            builder.MaxAutoPrepare = MaxAutoPrepare;
            builder.AutoPrepareMinUsages = 2;
        }

        if (!Sets("No Reset On Close"))
        {
            builder.NoResetOnClose = true;
        }

        return builder.ConnectionString;
    }

    private int? TryGetPoolSize()
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(ConnectionString).MaxPoolSize;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    IEnumerable<string> ISelfValidating.Problems() => Validate();

    internal IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return "ConnectionStrings:Postgres is required.";
            yield break;
        }

        if (TryGetPoolSize() is not { } poolSize)
        {
            yield return "ConnectionStrings:Postgres is not a valid Npgsql connection string.";
            yield break;
        }

        if (MaxConcurrency < 1)
        {
            yield return "Database:MaxConcurrency must be at least 1.";
        }

        if (LargeStatementRows is < 0 or > 100_000)
        {
            yield return $"Database:LargeStatementRows must be from 0 to 100000; got {LargeStatementRows}.";
        }

        if (MaxLargeStatements < 1)
        {
            yield return $"Database:MaxLargeStatements must be at least 1; got {MaxLargeStatements}.";
        }

        if (MaxAutoPrepare is < 0 or > 256)
        {
            yield return $"Database:MaxAutoPrepare must be between 0 and 256, got {MaxAutoPrepare}.";
        }

        if (ReservedConnections < 1)
        {
            yield return "Database:ReservedConnections must be at least 1.";
        }

        if (FirstProbeInterval <= TimeSpan.Zero || MaxProbeInterval < FirstProbeInterval || MaxProbeInterval > TimeSpan.FromMinutes(1))
        {
            yield return $"Database:FirstProbeInterval must be above 0 and at most Database:MaxProbeInterval, itself at most 1 min; got {FirstProbeInterval} and {MaxProbeInterval}.";
        }

        if (MaxConcurrency + ReservedConnections > poolSize)
        {
            yield return $"Database:MaxConcurrency ({MaxConcurrency}) plus Database:ReservedConnections ({ReservedConnections}) must not exceed the connection pool size ({poolSize}).";
        }
    }
}
