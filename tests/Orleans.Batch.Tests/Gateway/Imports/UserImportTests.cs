using System.Text.Json;
using Orleans.Batch.Gateway.Imports;

namespace Orleans.Batch.Tests.Gateway.Imports;

public sealed class UserImportTests
{
    [Theory]
    [InlineData("ann@example.com", "Ann")]
    [InlineData("ann@example.com", "")]
    [InlineData("zoë@exämple.com", "Zoë 🙂 <b>&'+</b>")]
    [InlineData("a\"b@example.com", "back\\slash")]
    [InlineData("tab@example.com", "line\nbreak\tand\u0001control")]
    [InlineData("sep@example.com", "line\u2028separator")]
    public void Body_AnyFields_IsAJsonObjectOfExactlyThem(string email, string name)
    {
        var body = UserImport.Body(email, name);

        using var document = JsonDocument.Parse(body);
        var properties = document.RootElement.EnumerateObject().ToList();
        Assert.Equal(["email", "name"], properties.Select(p => p.Name));
        Assert.Equal(email, properties[0].Value.GetString());
        Assert.Equal(name, properties[1].Value.GetString());
    }

    [Fact]
    public void ToItem_Row_IsACreateOfItsFields_WithoutASecondCopyOfThem()
    {
        var item = UserImport.ToItem("b-1", 7, new CsvRecord(8, ["ann@example.com", "Ann"]));

        Assert.Equal(("row-7", "POST", "/users", "b-1"), (item.Operation.Id, item.Operation.Method, item.Operation.Path, item.Operation.BatchId));
        Assert.Equal("""{"email":"ann@example.com","name":"Ann"}""", item.Operation.Body);
        // Its input is its body's fields (the slice names them), so it carries no copy of its own.
        Assert.Null(item.Source);
        Assert.Null(item.Rejected);
    }

    [Fact]
    public void ToItem_WrongFieldCount_IsRejectedWith400()
    {
        var item = UserImport.ToItem("b-1", 3, new CsvRecord(4, ["only-one"]));

        Assert.Null(item.Operation.Body);
        Assert.Equal(400, item.Rejected?.Status);
        Assert.Contains("Line 4 has 1 fields", item.Rejected!.Body, StringComparison.Ordinal);
    }
}
