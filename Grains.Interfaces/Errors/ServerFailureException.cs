namespace Orleans.Batch.Grains.Interfaces.Errors;

/// <summary>
/// A grain call failed for a reason of the server's own (a bug, a statement PostgreSQL refused): what the gateway sees
/// instead of the original exception, which stays in the silo's log under <see cref="Reference"/>. Its message says
/// nothing of the original, so it can be shown to a client; the caller answers 500.
/// </summary>
[GenerateSerializer, Alias("Orleans.Batch.ServerFailureException")]
public sealed class ServerFailureException : Exception
{
    public ServerFailureException()
    {
    }

    public ServerFailureException(string reference)
        : base($"The server failed to handle the request; the service logs hold the cause under reference {reference}.") =>
        Reference = reference;

    public ServerFailureException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The id the silo logged the original exception with, for an operator to find it.</summary>
    [Id(0)]
    public string? Reference { get; init; }
}
