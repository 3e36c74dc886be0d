using System.Text.Json;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Tests.Grains.Resources;

/// <summary>
/// <see cref="FieldReader.Flat"/>: a flat object of plain strings is read without a parser, exactly as the parsed body
/// reads; anything else is left to the parser.
/// </summary>
public sealed class FlatFieldReaderTests
{
    [Theory]
    [InlineData("""{"email":"ann@example.com","name":"Ann"}""")]
    [InlineData("""{}""")]
    [InlineData("""{"email":"ann@example.com","name":"Ann","extra":"x"}""")]
    [InlineData("""{"Email":"ann@example.com","NAME":"Ann"}""")]
    [InlineData("""{"email":"old@example.com","email":"ann@example.com","name":"Ann"}""")]
    [InlineData("""{"email":" ann@example.com ","name":"Ann "}""")]
    [InlineData("""{"email":"","name":"Ann"}""")]
    [InlineData("""{"email":"not-an-email","name":"Zoë {x:y},[z]"}""")]
    [InlineData("""{"":"","price":"5"}""")]
    public void Flat_ReadsAsTheParsedBodyReads(string body)
    {
        var flat = FieldReader.Flat(body, partial: false);
        using var document = JsonDocument.Parse(body);
        var parsed = new FieldReader(document.RootElement, partial: false);

        Assert.NotNull(flat);
        Assert.Equal(Read(parsed), Read(flat));
        Assert.Equal(Values(new Orleans.Batch.Grains.Resources.Users.UserHandler(), body), Values(new Orleans.Batch.Grains.Resources.Users.UserHandler(), body, flat: false));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("""{ "email":"ann@example.com"}""")]
    [InlineData("""{"email": "ann@example.com"}""")]
    [InlineData("""{"email":"ann\u0040example.com"}""")]
    [InlineData("""{"email":"ann@example.com",}""")]
    [InlineData("""{"email":"ann@example.com""name":"Ann"}""")]
    [InlineData("""{"email"}""")]
    [InlineData("""{"email":}""")]
    [InlineData("""{:}""")]
    [InlineData("""{"price":5}""")]
    [InlineData("""{"name":null}""")]
    [InlineData("""{"name":"Ann"} """)]
    [InlineData("""{"name":"😀"}""")]
    [InlineData("{\"name\":\"line\nbreak\"}")]
    [InlineData("""["email","name"]""")]
    public void Flat_AnythingElse_IsLeftToTheParser(string? body)
    {
        Assert.Null(FieldReader.Flat(body, partial: false));
    }

    [Fact]
    public void Flat_InPartialMode_LeavesMissingFieldsOut()
    {
        var flat = FieldReader.Flat("""{"name":"Ann"}""", partial: true)!;

        Assert.Null(flat.String("email", 254));
        Assert.Equal("Ann", flat.String("name", 200));
        Assert.True(flat.IsValid);
    }

    private static (string? Email, string? Name, string? Extra, long? Price, bool Verbatim, string Errors) Read(FieldReader reader)
    {
        var read = (reader.String("email", 254), reader.String("name", 200), reader.OptionalString("extra", 10));
        var price = reader.Int64("price", 0);
        return (read.Item1, read.Item2, read.Item3, price, reader.Verbatim,
            string.Join(";", reader.Errors.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}:{string.Join(",", e.Value)}")));
    }

    private static string?[]? Values(IResourceHandler handler, string body, bool flat = true)
    {
        using var document = JsonDocument.Parse(body);
        return handler.StagedValues(flat ? FieldReader.Flat(body, partial: false)! : new FieldReader(document.RootElement, partial: false));
    }
}
