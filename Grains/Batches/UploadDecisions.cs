using System.Globalization;

namespace Orleans.Batch.Grains.Batches;

/// <summary>What a batch sealed before all its items were stored decides about its upload.</summary>
public static class UploadDecisions
{
    /// <summary>
    /// Whether an uploader last heard from <paramref name="silentFor"/> ago may still be sending: a second upload of the
    /// same request must then wait, as two would interleave. Past <paramref name="uploadTimeout"/> the first is taken as dead.
    /// </summary>
    public static bool StillUploading(TimeSpan silentFor, TimeSpan uploadTimeout) => silentFor < uploadTimeout;

    /// <summary>The status's reason for a batch whose upload stopped after <paramref name="stored"/> of <paramref name="total"/> items.</summary>
    public static string StoppedReason(int stored, int total, string why) => string.Create(CultureInfo.InvariantCulture,
        $"The upload stopped after {stored} of {total} items ({why}); the batch runs only the items it holds. Send the same request again with the same Idempotency-Key to store and run the rest.");
}
