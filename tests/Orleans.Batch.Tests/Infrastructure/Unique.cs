namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>Keys no other test uses, so no test depends on another's data.</summary>
public static class Unique
{
    public static string Token() => Guid.NewGuid().ToString("N")[..12];

    public static string Email(string prefix = "user") => $"{prefix}-{Token()}@example.com";

    public static string Sku() => $"SKU-{Token()}";
}
