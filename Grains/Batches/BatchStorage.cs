namespace Orleans.Batch.Grains.Batches;

public static class BatchStorage
{
    /// <summary>The grain storage provider that holds batch state.</summary>
    public const string ProviderName = "batches";

    /// <summary>
    /// The ADO.NET provider under <see cref="ProviderName"/>, which reports a database it cannot reach as such
    /// (<see cref="Database.DatabaseAwareGrainStorage"/>). The provider's name is not part of what it stores.
    /// </summary>
    public const string AdoNetProviderName = "batches-adonet";
}
