using System.Diagnostics;
using System.Globalization;
using Orleans.Batch.Chaos;

// tests/chaos.sh builds the solution and runs this: ./run.sh --silos 3 on ports of its own, faults injected into it,
// and a count of what arrived. Exit 0: nothing lost; 1: something lost or not completed; 2: it could not run.
var options = ChaosOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine(ChaosOptions.Usage);
    return 2;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

var clock = Stopwatch.StartNew();
try
{
    var run = new ChaosRun(options, clock);
    var report = await run.RunAsync(stop.Token);
    Console.WriteLine(report.Summary(clock.Elapsed));
    return report.Passed ? 0 : 1;
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("chaos: interrupted");
    return 2;
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
{
    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"chaos: could not run after {clock.Elapsed.TotalSeconds:F0} s: {e.Message}"));
    return 2;
}
