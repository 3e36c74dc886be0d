namespace Orleans.Batch.Grains.Interfaces.Batches;

[GenerateSerializer, Alias("Orleans.Batch.BatchStatus")]
public enum BatchStatus
{
    Pending = 0,
    Processing = 1,
    Completed = 2,
    Failed = 3,
    Cancelled = 4,
}
