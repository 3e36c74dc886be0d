using Orleans.Batch.Grains.Database;

namespace Orleans.Batch.Grains.Resources;

/// <summary>A routed operation: an answer known without the database, or the handler call to run.</summary>
public sealed record RoutedOperation(
    ResourceResponse? Immediate,
    Func<DbSession, CancellationToken, Task<ResourceResponse>>? Run,
    bool Mutates)
{
    public static RoutedOperation Answer(ResourceResponse response) => new(response, null, false);

    public static RoutedOperation Read(Func<DbSession, CancellationToken, Task<ResourceResponse>> run) => new(null, run, false);

    public static RoutedOperation Write(Func<DbSession, CancellationToken, Task<ResourceResponse>> run) => new(null, run, true);
}
