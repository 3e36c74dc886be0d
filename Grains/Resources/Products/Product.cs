namespace Orleans.Batch.Grains.Resources.Products;

public sealed record Product(long Id, string Sku, string Name, decimal Price);

public sealed record ProductFields(string? Sku, string? Name, decimal? Price);
