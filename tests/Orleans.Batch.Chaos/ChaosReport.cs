using System.Globalization;
using System.Text;
using System.Text.Json;
using Orleans.Batch.Testing;

namespace Orleans.Batch.Chaos;

/// <summary>What became of one import: whether it was accepted, and the status its batch ended with.</summary>
public sealed record ImportOutcome(string Name, int Rows, SubmitResult Submitted, JsonElement? Status, bool Ended, string Last)
{
    /// <summary>Why this import breaks the promise (accepted batch holds every row and completes), or null if it kept it.</summary>
    public string? Problem()
    {
        if (Submitted.BatchId is null)
        {
            return $"never accepted: {Submitted.Error}";
        }

        if (Status is not { } status)
        {
            return $"no status answered; last: {Last}";
        }

        if (!Ended)
        {
            return $"did not end in time: {status.GetProperty("status").GetString()}, total {status.GetProperty("total").GetInt32()}, completed {status.GetProperty("completed").GetInt32()}";
        }

        var state = status.GetProperty("status").GetString();
        var total = status.GetProperty("total").GetInt32();
        var failed = status.GetProperty("failed").GetInt32();
        var reason = status.TryGetProperty("reason", out var r) && r.ValueKind == JsonValueKind.String ? $" ({r.GetString()})" : "";
        return state != "completed" ? $"ended {state}{reason}, total {total}"
            : total != Rows ? $"completed with total {total} of {Rows} rows sent"
            : failed != 0 ? $"completed with {failed} failed items"
            : null;
    }
}

/// <summary>The chaos run's verdict: every import completed with all its rows, and the users table holds each row once.</summary>
public sealed record ChaosReport(
    string Token, IReadOnlyList<ImportOutcome> Imports, IReadOnlyDictionary<string, int> Stored, int ServerErrors,
    int FailedCalls, int Restarts, int Faults, string State)
{
    /// <summary>Row <paramref name="row"/> of import <paramref name="name"/>: unique to the run, found again by its prefix.</summary>
    public static string Email(string token, string name, int row) =>
        string.Create(CultureInfo.InvariantCulture, $"chaos-{token}-{name}-{row}@example.com");

    public int RowsSent => Imports.Sum(i => i.Rows);

    /// <summary>Sent rows with no user, in import order.</summary>
    public IReadOnlyList<string> Missing => Expected().Where(email => !Stored.ContainsKey(email)).ToList();

    /// <summary>Users stored more than once, or stored under the run's prefix without having been sent.</summary>
    public IReadOnlyList<string> Extra
    {
        get
        {
            var expected = Expected().ToHashSet(StringComparer.Ordinal);
            return Stored.Where(e => e.Value > 1 || !expected.Contains(e.Key)).Select(e => $"{e.Key} ×{e.Value}").ToList();
        }
    }

    public bool Passed => Imports.All(i => i.Problem() is null) && Missing.Count == 0 && Extra.Count == 0;

    public string Summary(TimeSpan took)
    {
        var text = new StringBuilder("\n===== chaos summary (run ").Append(Token).Append(") =====\n");
        foreach (var import in Imports.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            var problem = import.Problem();
            text.Append(CultureInfo.InvariantCulture,
                $"  import {import.Name,-4} {import.Rows,7:N0} rows  batch {import.Submitted.BatchId ?? "-",-32}  attempts {import.Submitted.Attempts,2}  {(problem is null ? "ok" : "LOST: " + problem)}\n");
        }

        var missing = Missing;
        var extra = Extra;
        text.Append(CultureInfo.InvariantCulture, $"  rows sent      {RowsSent:N0}\n")
            .Append(CultureInfo.InvariantCulture, $"  rows stored    {Stored.Values.Sum():N0} ({Stored.Count:N0} distinct)\n")
            .Append(CultureInfo.InvariantCulture, $"  missing        {missing.Count:N0}{Sample(missing)}\n")
            .Append(CultureInfo.InvariantCulture, $"  extra or dup.  {extra.Count:N0}{Sample(extra)}\n")
            .Append(CultureInfo.InvariantCulture, $"  batches        {Imports.Count(i => i.Problem() is null)} of {Imports.Count} completed with every row\n")
            .Append(CultureInfo.InvariantCulture, $"  5xx seen       {ServerErrors}; calls without an answer {FailedCalls}\n")
            .Append(CultureInfo.InvariantCulture, $"  faults         {Faults}; processes restarted by run.sh {Restarts}\n")
            .Append(CultureInfo.InvariantCulture, $"  time           {took.TotalSeconds:F0} s\n")
            .Append(CultureInfo.InvariantCulture, $"  logs           {Path.Combine(State, "logs")}\n")
            .Append(Passed ? "PASSED: nothing lost\n" : "FAILED: rows lost or batches not completed\n");
        return text.ToString();
    }

    private IEnumerable<string> Expected() =>
        Imports.SelectMany(i => Enumerable.Range(1, i.Rows).Select(row => Email(Token, i.Name, row)));

    private static string Sample(IReadOnlyList<string> items) => items.Count == 0 ? "" : $" (e.g. {string.Join(", ", items.Take(3))})";
}
