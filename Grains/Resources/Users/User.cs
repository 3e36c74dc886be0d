namespace Orleans.Batch.Grains.Resources.Users;

public sealed record User(long Id, string Email, string Name, DateTime CreatedAt);

public sealed record UserFields(string? Email, string? Name);
