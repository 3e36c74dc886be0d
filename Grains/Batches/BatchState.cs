using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Grains.Batches;

/// <summary>A batch as persisted in grain storage.</summary>
[GenerateSerializer, Alias("Orleans.Batch.BatchState")]
public sealed class BatchState
{
    [Id(0)] public BatchStatus Status { get; set; }

    [Id(1)] public int Total { get; set; }

    [Id(2)] public int Succeeded { get; set; }

    [Id(3)] public int Failed { get; set; }

    [Id(4)] public DateTimeOffset CreatedAt { get; set; }

    [Id(5)] public DateTimeOffset UpdatedAt { get; set; }

    [Id(6)] public int Concurrency { get; set; }

    /// <summary>Every result in request order, written once the batch ends.</summary>
    [Id(7)] public List<OperationResult> Results { get; set; } = [];

    /// <summary>Why the batch ended <see cref="BatchStatus.Failed"/>, else null.</summary>
    [Id(8)] public string? FailureReason { get; set; }
}
