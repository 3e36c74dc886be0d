namespace Orleans.Batch.Grains.Resources.Orders;

public sealed record Order(long Id, long UserId, long ProductId, int Quantity, string Status, DateTime CreatedAt);

public sealed record OrderFields(long? UserId, long? ProductId, int? Quantity, string? Status);
