namespace Orleans.Batch.Grains.Interfaces.Operations;

/// <summary>Executes single operations against the resources; stateless, so any activation will do.</summary>
public interface IOperationGrain : IGrainWithIntegerKey
{
    Task<OperationResult> ExecuteAsync(OperationRequest request, CancellationToken cancellationToken = default);
}
