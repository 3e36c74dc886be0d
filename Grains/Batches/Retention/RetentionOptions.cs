using Orleans.Batch.Grains.Hosting;

namespace Orleans.Batch.Grains.Batches.Retention;

/// <summary>
/// How each silo's janitor deletes finished batches past their retention. Bound from the <c>Retention</c> section. How long
/// a batch is kept is a tenant's quota (<c>Tenancy:Quotas:Retention</c>, default 7 days, overridden per tenant): the one
/// place it is set.
/// </summary>
public sealed class RetentionOptions : ISelfValidating
{
    public const string Section = "Retention";

    /// <summary>How often each silo looks for expired batches; one silo at a time sweeps (default 1 min).</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Batches deleted per slice; a sweep goes on slice after slice while they are full (default 100).</summary>
    public int SliceSize { get; set; } = 100;

    IEnumerable<string> ISelfValidating.Problems() => Validate();

    internal IEnumerable<string> Validate()
    {
        if (SweepInterval < TimeSpan.FromSeconds(1) || SweepInterval > TimeSpan.FromDays(1))
        {
            yield return $"{Section}:SweepInterval must be from 1 s to 1 day; got {SweepInterval}.";
        }

        if (SliceSize is < 1 or > 10_000)
        {
            yield return $"{Section}:SliceSize must be from 1 to 10,000; got {SliceSize}.";
        }
    }
}
