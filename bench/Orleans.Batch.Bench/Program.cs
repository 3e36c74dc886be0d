using Orleans.Batch.Bench;

if (args is ["chunks", .. var rest])
{
    await ChunkPath.RunAsync(BenchOptions.Parse(rest));
    return;
}

if (args is ["fairness", .. var fairnessArgs])
{
    var fairness = FairnessOptions.Parse(fairnessArgs);
    var figures = await new Fairness(fairness).RunAsync();
    Console.WriteLine(figures);
    if (fairness.Markdown is { } file)
    {
        await File.WriteAllTextAsync(file, figures);
        Console.WriteLine($"written to {file}");
    }

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
