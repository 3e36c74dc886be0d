using System.Text.Json;
using Orleans.Batch.Grains.Database;

namespace Orleans.Batch.Grains.Resources;

/// <summary>
/// The operations of one resource collection, e.g. <c>/users</c>, run on the caller's session over the rows of the
/// session's tenant only: another tenant's row answers as one that does not exist.
/// </summary>
public interface IResourceHandler
{
    /// <summary>The collection's path segment, e.g. <c>users</c>.</summary>
    string Collection { get; }

    Task<ResourceResponse> ListAsync(DbSession session, IReadOnlyDictionary<string, string> query, CancellationToken cancellationToken);

    Task<ResourceResponse> CreateAsync(DbSession session, JsonElement body, CancellationToken cancellationToken);

    /// <summary>
    /// Creates many in one set-based statement, answering each body exactly as <see cref="CreateAsync"/> would
    /// (201, 400, or 409 for a unique conflict, with the database or an earlier body of the same call);
    /// null when this resource has no set-based create.
    /// </summary>
    Task<IReadOnlyList<ResourceResponse>?> CreateManyAsync(DbSession session, IReadOnlyList<JsonElement> bodies, CancellationToken cancellationToken);

    /// <summary>
    /// Updates many in one set-based statement, answering each exactly as <see cref="UpdateAsync"/> would when run in
    /// the given order (200, 400, 404, or 409 for a unique conflict, with the database or an earlier update of the
    /// same call); null when only running them one by one answers that way (the same id twice, a unique value
    /// moving between rows of the call), or when this resource has no set-based update.
    /// </summary>
    Task<IReadOnlyList<ResourceResponse>?> UpdateManyAsync(DbSession session, IReadOnlyList<ItemUpdate> updates, CancellationToken cancellationToken);

    /// <summary>Deletes many in one statement, answering each id as <see cref="DeleteAsync"/> would (204, or 404 when absent).</summary>
    Task<IReadOnlyList<ResourceResponse>> DeleteManyAsync(DbSession session, IReadOnlyList<long> ids, CancellationToken cancellationToken);

    /// <summary>How the database runs this collection's creates from staged bodies by itself, or null when it does not.</summary>
    StagedCreate? Staged { get; }

    /// <summary>
    /// The values of <see cref="StagedCreate.Columns"/>, in order, that a create of the body <paramref name="fields"/> reads
    /// stores, when it can run as <see cref="Staged"/> (it is valid, and its fields need no trimming); else null.
    /// </summary>
    string?[]? StagedValues(FieldReader fields);

    /// <summary>What a create of the body <paramref name="fields"/> reads answered when the database gave its row <paramref name="id"/> at <paramref name="createdAt"/>.</summary>
    ResourceResponse RenderCreated(FieldReader fields, long id, DateTime createdAt);

    Task<ResourceResponse> GetAsync(DbSession session, long id, CancellationToken cancellationToken);

    Task<ResourceResponse> UpdateAsync(DbSession session, long id, JsonElement body, bool partial, CancellationToken cancellationToken);

    Task<ResourceResponse> DeleteAsync(DbSession session, long id, CancellationToken cancellationToken);
}

/// <summary>A PUT (<paramref name="Partial"/> false) or PATCH (true) of the item <paramref name="Id"/> with <paramref name="Body"/>.</summary>
public sealed record ItemUpdate(long Id, JsonElement Body, bool Partial);
