namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>The schema scripts the service applies on every start (deploy/sql), found from the test's output up to the checkout.</summary>
public static class SchemaScripts
{
    /// <summary>Every script, in the order ./run.sh and ./test.sh apply them (by name).</summary>
    public static IReadOnlyList<string> All()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var scripts = Path.Combine(dir.FullName, "deploy", "sql");
            if (Directory.Exists(scripts))
            {
                return [.. Directory.GetFiles(scripts, "*.sql").Order(StringComparer.Ordinal)];
            }
        }

        throw new DirectoryNotFoundException("deploy/sql was not found above " + AppContext.BaseDirectory);
    }
}
