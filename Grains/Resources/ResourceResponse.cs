namespace Orleans.Batch.Grains.Resources;

/// <summary>What a resource handler answered: an HTTP status, a raw JSON body and, for a 201, the new resource's path.</summary>
public sealed record ResourceResponse(int Status, string? Body, string? Location = null);
