using System.Text;

namespace Orleans.Batch.Bench;

/// <summary>Users CSV files of a given size, with emails no earlier run has used.</summary>
internal static class Csv
{
    public static string Write(int rows, string tag)
    {
        var path = Path.Combine(Path.GetTempPath(), $"orleans-batch-bench-{tag}-{rows}.csv");
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        writer.Write("email,name\n");
        for (var i = 1; i <= rows; i++)
        {
            writer.Write($"{tag}-{i}@bench.example.com,Bench User {i}\n");
        }

        return path;
    }

    public static string Tag(string what) => $"{what}{DateTime.UtcNow:MMddHHmmss}";
}
