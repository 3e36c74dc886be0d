using System.Diagnostics.Metrics;

namespace Orleans.Batch.Grains.Diagnostics;

/// <summary>The service's own instruments, on the meter <see cref="MeterName"/>.</summary>
public sealed class BatchMetrics
{
    public const string MeterName = "Orleans.Batch";
    public const string OperationsInFlight = "orleans_batch.operations.in_flight";
    public const string OperationsCompleted = "orleans_batch.operations.completed";

    private readonly UpDownCounter<long> _inFlight;
    private readonly Counter<long> _completed;

    public BatchMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _inFlight = meter.CreateUpDownCounter<long>(OperationsInFlight, "{operation}", "Operations executing on this silo now.");
        _completed = meter.CreateCounter<long>(OperationsCompleted, "{operation}", "Operations finished, by HTTP status.");
    }

    /// <summary>Counts one operation as in flight until the returned scope is disposed.</summary>
    public InFlightScope StartOperation() => StartOperations(1);

    /// <summary>Counts <paramref name="count"/> operations as in flight until the returned scope is disposed.</summary>
    public InFlightScope StartOperations(int count)
    {
        _inFlight.Add(count);
        return new InFlightScope(_inFlight, count);
    }

    public void OperationCompleted(int status) => OperationCompleted(status, 1);

    public void OperationCompleted(int status, int count) => _completed.Add(count, new KeyValuePair<string, object?>("http.response.status_code", status));

    public readonly struct InFlightScope(UpDownCounter<long> counter, int count) : IDisposable
    {
        public void Dispose() => counter.Add(-count);
    }
}
