using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Runtime;
using Orleans.Storage;

namespace Orleans.Batch.Grains.Database;

/// <summary>
/// Grain storage in PostgreSQL that says so when the database is away: a read, write or clear that fails for that reason
/// throws <see cref="DatabaseUnavailableException"/>, which Orleans hands to the caller as it is (also when it fails a
/// grain's activation), where it would otherwise wrap Npgsql's exception in a message the caller cannot tell apart. A
/// read is tried once more on a fresh connection first: after the database came back, the pooled one may be broken.
/// </summary>
internal sealed class DatabaseAwareGrainStorage(IGrainStorage inner, DatabaseAvailability availability) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        RunAsync(() => inner.ReadStateAsync(stateName, grainId, grainState, cancellationToken), "read", grainId, retry: true);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        RunAsync(() => inner.WriteStateAsync(stateName, grainId, grainState, cancellationToken), "written", grainId);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        RunAsync(() => inner.ClearStateAsync(stateName, grainId, grainState, cancellationToken), "cleared", grainId);

    private async Task RunAsync(Func<Task> operation, string what, GrainId grainId, bool retry = false)
    {
        try
        {
            await operation();
        }
        catch (Exception e) when (e is not DatabaseUnavailableException && DatabaseAvailability.IsUnavailable(e))
        {
            availability.ForgetConnections();
            if (retry)
            {
                await RunAsync(operation, what, grainId);
                return;
            }

            // Without Npgsql's exception inside: a gateway has no Npgsql to read it with (the provider has logged it).
            throw new DatabaseUnavailableException($"The state of {grainId} could not be {what}: the database could not be reached.");
        }
    }
}
