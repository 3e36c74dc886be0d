using System.Globalization;

namespace Orleans.Batch.Bench.Chunks;

/// <summary>What <c>bench/chunks.sh</c> runs; every option has the default the service uses for an import.</summary>
internal sealed record ChunkBenchOptions(string Postgres, int Rows, int ChunkSize, int Concurrency, int Rounds)
{
    public static ChunkBenchOptions Parse(string[] args)
    {
        var options = new ChunkBenchOptions("Host=127.0.0.1;Port=55432;Username=postgres;Database=orleans_batch;Maximum Pool Size=50", 100_000, 500, 16, 12);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            options = args[i] switch
            {
                "--postgres" => options with { Postgres = args[i + 1] },
                "--rows" => options with { Rows = Number(args[i], args[i + 1]) },
                "--chunk-size" => options with { ChunkSize = Number(args[i], args[i + 1]) },
                "--concurrency" => options with { Concurrency = Number(args[i], args[i + 1]) },
                "--rounds" => options with { Rounds = Number(args[i], args[i + 1]) },
                _ => throw new ArgumentException($"Unknown option {args[i]}; see bench/chunks.sh."),
            };
        }

        return args.Length % 2 == 0 ? options : throw new ArgumentException($"Option {args[^1]} needs a value.");
    }

    private static int Number(string option, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0
            ? number
            : throw new ArgumentException($"{option} takes a whole number of at least 1, not '{value}'.");
}
