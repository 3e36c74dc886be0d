using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Idempotency;

/// <summary>How long what an operation did is remembered under its key. Bound from the <c>Idempotency</c> section.</summary>
public sealed class IdempotencyOptions : ISelfValidating
{
    public const string Section = "Idempotency";

    /// <summary>How long a stored key answers with its stored result (default 24 h).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often each silo deletes expired keys (default 10 min).</summary>
    public TimeSpan CleanupInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Longest accepted key (default 255 characters).</summary>
    public int MaxKeyLength { get; set; } = 255;

    IEnumerable<string> ISelfValidating.Problems() => Validate();

    internal IEnumerable<string> Validate()
    {
        if (Retention < TimeSpan.FromMinutes(1))
        {
            yield return $"Idempotency:Retention must be at least 1 minute; got {Retention}.";
        }

        if (CleanupInterval < TimeSpan.FromSeconds(1))
        {
            yield return $"Idempotency:CleanupInterval must be at least 1 second; got {CleanupInterval}.";
        }

        if (MaxKeyLength is < 1 or > 1000)
        {
            yield return $"Idempotency:MaxKeyLength must be from 1 to 1000; got {MaxKeyLength}.";
        }
    }
}
