namespace Orleans.Batch.Grains.Fairness;

/// <summary>Each tenant's weight as this silo knows it now; answered without waiting, so a gate can ask on every entry.</summary>
public interface ITenantWeights
{
    /// <summary>The tenant's weight (at least 1); 1 while it is not known yet.</summary>
    int WeightOf(string tenant);
}
