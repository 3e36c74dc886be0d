using System.Globalization;
using Orleans.Batch.Testing;

namespace Orleans.Batch.Chaos;

/// <summary>The chaos run's command line: where its run.sh keeps state and which ports it uses.</summary>
public sealed record ChaosOptions(string State, int PortBase)
{
    public const string Usage = """
        Usage: tests/chaos.sh [--port-base N] [--state DIR]

          --port-base N  run.sh's ports are N+32 (PostgreSQL), N+79 (Redis), N+80 (HTTP), N+111.. (silos),
                         N+201.. (silo gateways); default 24000, so 24032, 24079, 24080, 24111-24113, 24201-24203
          --state DIR    run.sh's state dir (BATCH_RUN_STATE); default .run/chaos
        """;

    /// <summary>PostgreSQL, Redis, HTTP, silo and silo-gateway ports, all below the ephemeral range (32768 and up).</summary>
    public RunPorts Ports => new(Postgres: PortBase + 32, Redis: PortBase + 79, SiloBase: PortBase + 110, GatewayBase: PortBase + 200, Http: PortBase + 80);

    /// <summary>The options, or null when the command line is wrong.</summary>
    public static ChaosOptions? Parse(string[] args)
    {
        var state = Path.Combine(RunScript.RepositoryRoot(), ".run", "chaos");
        var portBase = 24000;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--port-base" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                    && value is >= 1024 and <= 32_000:
                    portBase = value;
                    i++;
                    break;
                case "--state" when i + 1 < args.Length:
                    state = Path.GetFullPath(args[++i]);
                    break;
                default:
                    return null;
            }
        }

        return new ChaosOptions(state, portBase);
    }
}
