namespace Orleans.Batch.Grains.Interfaces.Operations;

/// <summary>What one operation answered: the status a single-resource request would get.</summary>
/// <param name="Id">The operation's id.</param>
/// <param name="Status">HTTP status code.</param>
/// <param name="Body">Raw JSON: the resource on success, RFC 9457 problem details on failure, or null (204).</param>
/// <param name="Location">The created resource's path for a 201, else null.</param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.OperationResult")]
public sealed record OperationResult(
    [property: Id(0)] string Id,
    [property: Id(1)] int Status,
    [property: Id(2)] string? Body,
    [property: Id(3)] string? Location)
{
    public bool Succeeded => Status is >= 200 and < 300;
}
