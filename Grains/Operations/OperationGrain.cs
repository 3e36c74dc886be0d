using Microsoft.Extensions.Logging;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Diagnostics;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;
using Orleans.Batch.Grains.Resources;
using Orleans.Concurrency;

namespace Orleans.Batch.Grains.Operations;

/// <summary>
/// Runs one operation through the <see cref="OperationExecutor"/>. Stateless and reentrant: one activation per silo serves every
/// concurrent call, and the silo's database gate, not the grain, bounds the work in flight. It acts for the tenant its call
/// carries, and refuses a call that carries none.
/// </summary>
[StatelessWorker, Reentrant]
public sealed partial class OperationGrain(OperationExecutor executor, BatchMetrics metrics, ILogger<OperationGrain> logger)
    : Grain, IOperationGrain
{
    public async Task<OperationResult> ExecuteAsync(OperationRequest request, CancellationToken cancellationToken = default)
    {
        var tenant = TenantContext.Required;
        ResourceResponse response;
        using (metrics.StartOperation())
        {
            try
            {
                response = await executor.ExecuteAsync(tenant, request.Method, request.Path, request.Body, request.IdempotencyKey, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception e) when (DatabaseAvailability.IsUnavailable(e))
            {
                // Not the operation's answer: the caller answers 503 database-unavailable (see DatabaseExceptionFilter).
                LogDatabaseUnavailable(request.BatchId, request.Id, e);
                throw;
            }
            catch (Exception e)
            {
                LogOperationFailed(request.BatchId, request.Id, request.Method, request.Path, e);
                response = Problems.Internal("The operation failed unexpectedly; see the service logs.");
            }
        }

        metrics.OperationCompleted(response.Status);
        return new OperationResult(request.Id, response.Status, response.Body, response.Location);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Database unavailable for operation {OperationId} of batch {BatchId}")]
    private partial void LogDatabaseUnavailable(string? batchId, string operationId, Exception exception);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Error, Message = "Operation {OperationId} ({Method} {Path}) of batch {BatchId} failed")]
    private partial void LogOperationFailed(string? batchId, string operationId, string method, string path, Exception exception);
}
