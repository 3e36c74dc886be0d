namespace Orleans.Batch.Grains.Batches;

/// <summary>How a silo runs batches. Bound from the <c>Batch</c> section.</summary>
public sealed class BatchOptions
{
    public const string Section = "Batch";

    /// <summary>Operations of one batch in flight at once when the request names no concurrency (default 16).</summary>
    public int DefaultConcurrency { get; set; } = 16;

    /// <summary>The most a request's <c>concurrency</c> may ask for; larger values are clamped (default 64).</summary>
    public int MaxConcurrency { get; set; } = 64;

    /// <summary>How long one <c>WaitAsync</c> call may block, kept below Orleans' response timeout (default 10 s).</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(10);

    public int ClampConcurrency(int? requested) => Math.Clamp(requested ?? DefaultConcurrency, 1, MaxConcurrency);

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

        if (MaxWait <= TimeSpan.Zero || MaxWait > TimeSpan.FromSeconds(25))
        {
            yield return $"Batch:MaxWait must be above 0 and at most 25 s; got {MaxWait}.";
        }
    }
}
