namespace Orleans.Batch.Gateway.Hosting;

/// <summary>Limits the gateway enforces on requests. Bound from the <c>Batch</c> section.</summary>
public sealed class BatchApiOptions : IValidatedOptions
{
    public const string Section = "Batch";

    /// <summary>Most operations one batch may hold (default 1,000); more is a 413.</summary>
    public int MaxOperations { get; set; } = 1000;

    /// <summary>Largest request body in bytes, batch or single resource (default 10 MiB); more is a 413.</summary>
    public long MaxRequestBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Longest accepted operation id (default 200 characters).</summary>
    public int MaxOperationIdLength { get; set; } = 200;

    /// <summary>In auto mode, batches with more operations than this run asynchronously (default 100).</summary>
    public int SyncThreshold { get; set; } = 100;

    /// <summary>How long a sync batch is waited for before it is answered 202 (auto) or 408 (sync) and carries on (default 30 s).</summary>
    public TimeSpan SyncTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest <c>GET /batch/{id}/status?wait=</c> in seconds: how long a status request may wait for the batch to end (default 60).</summary>
    public int MaxStatusWaitSeconds { get; set; } = 60;

    /// <summary>Longest accepted idempotency key, per operation or in the Idempotency-Key header (default 255).</summary>
    public int MaxIdempotencyKeyLength { get; set; } = 255;

    /// <summary>CSV rows sent to the batch in one call while an import uploads (default 5,000).</summary>
    public int ImportSliceSize { get; set; } = 5000;

    /// <summary>Largest CSV upload in bytes (default 1 GiB); more is a 413.</summary>
    public long MaxImportBytes { get; set; } = 1L << 30;

    /// <summary>Most data rows in one CSV import (default 5,000,000); more is a 413.</summary>
    public int MaxImportRows { get; set; } = 5_000_000;

    /// <summary>Default page size of <c>GET /batch/{id}/results</c> (default 100).</summary>
    public int DefaultResultsPageSize { get; set; } = 100;

    /// <summary>Largest page of <c>GET /batch/{id}/results</c> (default 1,000).</summary>
    public int MaxResultsPageSize { get; set; } = 1000;

    /// <summary>
    /// The <c>Retry-After</c> (seconds) of a 503 answered because no silo or the database could be reached (default 5): how
    /// soon a client should try again.
    /// </summary>
    public int RetryAfterSeconds { get; set; } = 5;

    public IEnumerable<string> Validate()
    {
        if (MaxOperations is < 1 or > 1_000_000)
        {
            yield return $"Batch:MaxOperations must be from 1 to 1,000,000; got {MaxOperations}.";
        }

        if (MaxRequestBytes is < 1024 or > 2L * 1024 * 1024 * 1024)
        {
            yield return $"Batch:MaxRequestBytes must be from 1 KiB to 2 GiB; got {MaxRequestBytes}.";
        }

        if (MaxOperationIdLength < 1)
        {
            yield return "Batch:MaxOperationIdLength must be at least 1.";
        }

        if (SyncThreshold < 0 || SyncTimeout <= TimeSpan.Zero)
        {
            yield return $"Batch:SyncThreshold must be at least 0 and Batch:SyncTimeout above 0; got {SyncThreshold} and {SyncTimeout}.";
        }

        if (MaxStatusWaitSeconds is < 0 or > 3600)
        {
            yield return $"Batch:MaxStatusWaitSeconds must be from 0 to 3,600; got {MaxStatusWaitSeconds}.";
        }

        if (MaxIdempotencyKeyLength is < 1 or > 1000 || ImportSliceSize is < 1 or > 100_000)
        {
            yield return "Batch:MaxIdempotencyKeyLength must be from 1 to 1,000 and Batch:ImportSliceSize from 1 to 100,000.";
        }

        if (RetryAfterSeconds is < 1 or > 3600)
        {
            yield return $"Batch:RetryAfterSeconds must be from 1 to 3,600; got {RetryAfterSeconds}.";
        }

        if (MaxResultsPageSize < 1 || DefaultResultsPageSize < 1 || DefaultResultsPageSize > MaxResultsPageSize)
        {
            yield return "Batch:DefaultResultsPageSize must be from 1 to Batch:MaxResultsPageSize.";
        }
    }
}
