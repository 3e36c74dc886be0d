using Orleans.Batch.Bench;

if (args is ["chunks", .. var rest])
{
    await ChunkPath.RunAsync(BenchOptions.Parse(rest));
    return;
}

var options = BenchOptions.Parse(args);
var bench = new Benchmarks(options);
var report = await bench.RunAllAsync();
Console.WriteLine(report);
if (options.Markdown is { } path)
{
    await File.WriteAllTextAsync(path, report);
    Console.WriteLine($"written to {path}");
}
