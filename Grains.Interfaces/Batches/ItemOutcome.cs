namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>Where one item of a batch stands; stored as a number, so never renumber.</summary>
[GenerateSerializer, Alias("Orleans.Batch.ItemOutcome")]
public enum ItemOutcome : short
{
    Pending = 0,
    Succeeded = 1,
    Failed = 2,
    Cancelled = 3,
}
