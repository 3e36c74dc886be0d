using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Batches;

/// <summary>How a silo runs batches. Bound from the <c>Batch</c> section.</summary>
public sealed class BatchOptions : ISelfValidating
{
    public const string Section = "Batch";

    /// <summary>
    /// Units of one batch in flight at once (an operation, or a chunk of <see cref="ChunkSize"/>) when the request names
    /// no concurrency (default 16). Large chunks also wait for one of their silo's
    /// <see cref="Database.DatabaseOptions.MaxLargeStatements"/>.
    /// </summary>
    public int DefaultConcurrency { get; set; } = 16;

    /// <summary>The most a request's <c>concurrency</c> may ask for; larger values are clamped (default 64).</summary>
    public int MaxConcurrency { get; set; } = 64;

    /// <summary>How long one <c>WaitAsync</c> call may block, kept below Orleans' response timeout (default 10 s).</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Pending items read from the database at a time (default 1,000).</summary>
    public int PageSize { get; set; } = 1000;

    /// <summary>
    /// Consecutive creates, updates or deletes of one resource sent as one chunk, run as one set-based statement on a silo picked at
    /// random; 1 runs every item on its own (default 5,000, an import's slice: a slice of staged creates is one statement).
    /// The batch's concurrency counts chunks in flight.
    /// </summary>
    public int ChunkSize { get; set; } = 5000;

    /// <summary>Finished items whose results are written in one statement, with a checkpoint (default 500).</summary>
    public int FlushSize { get; set; } = 500;

    /// <summary>How often a running batch checkpoints even when few items finished (default 2 s).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A running batch whose heartbeat is older than this is run again from its checkpoint (default 60 s).</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often the persistent reminder wakes a batch to check it is running (default 1 min).</summary>
    public TimeSpan ResumeCheckPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Resumes without progress after which a batch ends failed; retry carries it on (default 5).</summary>
    public int MaxResumeAttempts { get; set; } = 5;

    /// <summary>
    /// A batch sealed before all its items were stored stops waiting for the rest when none arrive for this long,
    /// and ends failed with the items it has (default 2 min).
    /// </summary>
    public TimeSpan UploadTimeout { get; set; } = TimeSpan.FromMinutes(2);

    public int ClampConcurrency(int? requested) => Math.Clamp(requested ?? DefaultConcurrency, 1, MaxConcurrency);

    IEnumerable<string> ISelfValidating.Problems() => Validate();

    internal IEnumerable<string> Validate()
    {
        if (MaxConcurrency is < 1 or > 1024)
        {
            yield return $"Batch:MaxConcurrency must be from 1 to 1024; got {MaxConcurrency}.";
        }

        if (DefaultConcurrency < 1 || DefaultConcurrency > MaxConcurrency)
        {
            yield return $"Batch:DefaultConcurrency must be from 1 to Batch:MaxConcurrency ({MaxConcurrency}); got {DefaultConcurrency}.";
        }

        if (ChunkSize is < 1 or > 10_000)
        {
            yield return $"Batch:ChunkSize must be from 1 to 10,000; got {ChunkSize}.";
        }

        if (PageSize is < 1 or > 100_000 || FlushSize is < 1 or > 100_000)
        {
            yield return $"Batch:PageSize and Batch:FlushSize must be from 1 to 100,000; got {PageSize} and {FlushSize}.";
        }

        if (HeartbeatInterval <= TimeSpan.Zero || HeartbeatTimeout <= HeartbeatInterval)
        {
            yield return $"Batch:HeartbeatTimeout ({HeartbeatTimeout}) must exceed Batch:HeartbeatInterval ({HeartbeatInterval}), which must be above 0.";
        }

        if (ResumeCheckPeriod < TimeSpan.FromSeconds(1) || MaxResumeAttempts < 1)
        {
            yield return $"Batch:ResumeCheckPeriod must be at least 1 s and Batch:MaxResumeAttempts at least 1; got {ResumeCheckPeriod} and {MaxResumeAttempts}.";
        }

        if (UploadTimeout < TimeSpan.FromSeconds(1))
        {
            yield return $"Batch:UploadTimeout must be at least 1 s; got {UploadTimeout}.";
        }

        if (MaxWait <= TimeSpan.Zero || MaxWait > TimeSpan.FromSeconds(25))
        {
            yield return $"Batch:MaxWait must be above 0 and at most 25 s; got {MaxWait}.";
        }
    }
}
