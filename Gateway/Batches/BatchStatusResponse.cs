using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Gateway.Batches;

public sealed record BatchStatusResponse(
    string BatchId,
    string Status,
    int Total,
    int Completed,
    int Succeeded,
    int Failed,
    int Cancelled,
    double Progress,
    int Concurrency,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? HeartbeatAt,
    int Stored,
    string? Reason,
    string? WaitingFor = null,
    DateTimeOffset? WaitingSince = null,
    DateTimeOffset? ExpiresAt = null)
{
    public static BatchStatusResponse From(BatchProgress p) => new(
        p.BatchId, ResultJson.StatusName(p.Status), p.Total, p.Completed, p.Succeeded, p.Failed, p.Cancelled,
        Math.Round(p.Progress, 4), p.Concurrency, p.CreatedAt, p.UpdatedAt, p.HeartbeatAt, p.Stored, p.FailureReason, p.WaitingFor, p.WaitingSince, p.ExpiresAt);
}
