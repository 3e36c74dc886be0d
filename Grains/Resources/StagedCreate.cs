namespace Orleans.Batch.Grains.Resources;

/// <summary>
/// How the database creates a collection's rows from staged JSON bodies by itself: <paramref name="Columns"/> of
/// <paramref name="Table"/> take <paramref name="Values"/>, SQL expressions over a body as <c>jsonb</c> named <c>j</c>.
/// Only bodies the handler's <see cref="IResourceHandler.StagedValues"/> accepts run this way: valid, and holding each
/// field exactly as validated, so the expressions store what validation saw, the same values it returns for the columns.
/// </summary>
public sealed record StagedCreate(string Table, string Columns, string Values)
{
    /// <summary>How many columns a staged create fills.</summary>
    public int Arity { get; } = Columns.Split(',').Length;

    /// <summary>The identity column every staged table has: its ids are taken before its rows are written.</summary>
    public const string Identity = "id";
}
