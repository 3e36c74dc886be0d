namespace Orleans.Batch.Grains.Batches;

public static class BatchStorage
{
    /// <summary>The grain storage provider that holds batch state.</summary>
    public const string ProviderName = "batches";
}
