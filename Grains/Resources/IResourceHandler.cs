using System.Text.Json;

namespace Orleans.Batch.Grains.Resources;

/// <summary>The operations of one resource collection, e.g. <c>/users</c>.</summary>
public interface IResourceHandler
{
    /// <summary>The collection's path segment, e.g. <c>users</c>.</summary>
    string Collection { get; }

    Task<ResourceResponse> ListAsync(IReadOnlyDictionary<string, string> query, CancellationToken cancellationToken);

    Task<ResourceResponse> CreateAsync(JsonElement body, CancellationToken cancellationToken);

    Task<ResourceResponse> GetAsync(long id, CancellationToken cancellationToken);

    Task<ResourceResponse> UpdateAsync(long id, JsonElement body, bool partial, CancellationToken cancellationToken);

    Task<ResourceResponse> DeleteAsync(long id, CancellationToken cancellationToken);
}
