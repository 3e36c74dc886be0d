namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>The schema scripts the service applies on every start (deploy/sql), found from the test's output up to the checkout.</summary>
public static class SchemaScripts
{
    public static string PathOf(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var script = Path.Combine(dir.FullName, "deploy", "sql", name);
            if (File.Exists(script))
            {
                return script;
            }
        }

        throw new FileNotFoundException($"deploy/sql/{name} was not found above " + AppContext.BaseDirectory);
    }
}
