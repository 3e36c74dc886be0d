namespace Orleans.Batch.Grains.Batches.Retention;

/// <summary>
/// A batch's side the retention janitor calls, inside the silo only (the gateway cannot reach it): it acts for the batch's
/// own tenant, set by the janitor.
/// </summary>
public interface IBatchRetention : IGrainWithStringKey
{
    /// <summary>
    /// Deletes the finished batch's items, results, state and reminder, and marks it deleted in the registry; false when it
    /// is active or busy (it is then registered as active again, or tried at the next sweep).
    /// </summary>
    Task<bool> ExpireAsync(CancellationToken cancellationToken = default);
}
