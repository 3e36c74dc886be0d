using Orleans.Batch.Grains.Database;

namespace Orleans.Batch.Grains.Resources;

/// <summary>A routed operation: an answer known without the database, or the handler call to run.</summary>
/// <param name="Creates">For a create, the handler and the body, so consecutive creates can run as one statement.</param>
/// <param name="Deletes">For a delete, the handler and the id, so consecutive deletes can run as one statement.</param>
/// <param name="Updates">For a PUT or PATCH, the handler and the update, so consecutive updates can run as one statement.</param>
public sealed record RoutedOperation(
    ResourceResponse? Immediate,
    Func<DbSession, CancellationToken, Task<ResourceResponse>>? Run,
    bool Mutates,
    (IResourceHandler Handler, System.Text.Json.JsonElement Body)? Creates = null,
    (IResourceHandler Handler, long Id)? Deletes = null,
    (IResourceHandler Handler, ItemUpdate Update)? Updates = null)
{
    public static RoutedOperation Answer(ResourceResponse response) => new(response, null, false);

    public static RoutedOperation Read(Func<DbSession, CancellationToken, Task<ResourceResponse>> run) => new(null, run, false);

    public static RoutedOperation Write(
        Func<DbSession, CancellationToken, Task<ResourceResponse>> run,
        (IResourceHandler Handler, System.Text.Json.JsonElement Body)? creates = null,
        (IResourceHandler Handler, long Id)? deletes = null,
        (IResourceHandler Handler, ItemUpdate Update)? updates = null) => new(null, run, true, creates, deletes, updates);
}
