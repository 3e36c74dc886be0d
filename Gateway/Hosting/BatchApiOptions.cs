namespace Orleans.Batch.Gateway.Hosting;

/// <summary>Limits the gateway enforces on requests. Bound from the <c>Batch</c> section.</summary>
public sealed class BatchApiOptions
{
    public const string Section = "Batch";

    /// <summary>Most operations one batch may hold (default 1,000); more is a 413.</summary>
    public int MaxOperations { get; set; } = 1000;

    /// <summary>Largest request body in bytes, batch or single resource (default 10 MiB); more is a 413.</summary>
    public long MaxRequestBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Longest accepted operation id (default 200 characters).</summary>
    public int MaxOperationIdLength { get; set; } = 200;

    /// <summary>Default page size of <c>GET /batch/{id}/results</c> (default 100).</summary>
    public int DefaultResultsPageSize { get; set; } = 100;

    /// <summary>Largest page of <c>GET /batch/{id}/results</c> (default 1,000).</summary>
    public int MaxResultsPageSize { get; set; } = 1000;

    internal IEnumerable<string> Validate()
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

        if (MaxResultsPageSize < 1 || DefaultResultsPageSize < 1 || DefaultResultsPageSize > MaxResultsPageSize)
        {
            yield return "Batch:DefaultResultsPageSize must be from 1 to Batch:MaxResultsPageSize.";
        }
    }
}
