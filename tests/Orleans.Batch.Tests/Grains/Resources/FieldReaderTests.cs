using System.Globalization;
using System.Text.Json;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Tests.Grains.Resources;

public sealed class FieldReaderTests
{
    private static FieldReader Reader(string json, bool partial = false)
    {
        using var document = JsonDocument.Parse(json);
        return new FieldReader(document.RootElement.Clone(), partial);
    }

    private static string[] ErrorsOf(FieldReader reader, string field)
    {
        Assert.True(reader.Errors.TryGetValue(field, out var messages), $"Expected errors for '{field}'.");
        return messages;
    }

    [Fact]
    public void String_Present_ReturnsValue()
    {
        var reader = Reader("""{"name":"Ann"}""");

        Assert.Equal("Ann", reader.String("name", 10));
        Assert.True(reader.IsValid);
        Assert.Empty(reader.Errors);
    }

    [Fact]
    public void String_TrimsSurroundingWhitespace()
    {
        var reader = Reader("""{"name":"  \tAnn Lee \n "}""");

        Assert.Equal("Ann Lee", reader.String("name", 10));
        Assert.True(reader.IsValid);
    }

    [Fact]
    public void String_FieldNameIsCaseInsensitive()
    {
        var reader = Reader("""{"EMAIL":"a@example.com"}""");

        Assert.Equal("a@example.com", reader.String("email", 100));
        Assert.True(reader.IsValid);
    }

    [Theory]
    [InlineData("""{"\u006eame":"Ann"}""")]
    [InlineData("""{"N\u0041ME":"Ann"}""")]
    public void String_FieldNameWithEscapes_IsFoundInAnyCase(string json)
    {
        Assert.Equal("Ann", Reader(json).String("name", 10));
    }

    [Fact]
    public void String_FieldNameBeyondAscii_IsNotAnAsciiName()
    {
        // The Kelvin sign is no 'K' to an ordinal comparison, in any case.
        var reader = Reader("""{"\u212Aey":"x"}""");

        Assert.Null(reader.String("key", 10));
        Assert.Equal(["Is required."], ErrorsOf(reader, "key"));
    }

    [Fact]
    public void String_NameRepeatedInOtherCase_TheLastWins()
    {
        Assert.Equal("Bo", Reader("""{"name":"Ann","NAME":"Bo"}""").String("name", 10));
    }

    [Fact]
    public void String_MissingWhenRequired_IsRequired()
    {
        var reader = Reader("{}");

        Assert.Null(reader.String("name", 10));
        Assert.False(reader.IsValid);
        Assert.Equal(["Is required."], ErrorsOf(reader, "name"));
    }

    [Fact]
    public void String_NullWhenRequired_IsRequired()
    {
        var reader = Reader("""{"name":null}""");

        Assert.Null(reader.String("name", 10));
        Assert.Equal(["Is required."], ErrorsOf(reader, "name"));
    }

    [Fact]
    public void String_MissingInPartialMode_IsNotAnError()
    {
        var reader = Reader("{}", partial: true);

        Assert.Null(reader.String("name", 10));
        Assert.True(reader.IsValid);
    }

    [Fact]
    public void String_NullInPartialMode_MustNotBeNull()
    {
        var reader = Reader("""{"name":null}""", partial: true);

        Assert.Null(reader.String("name", 10));
        Assert.Equal(["Must not be null; leave the field out to keep its value."], ErrorsOf(reader, "name"));
    }

    [Fact]
    public void String_PresentInPartialMode_IsStillValidated()
    {
        var reader = Reader("""{"name":"   "}""", partial: true);

        Assert.Null(reader.String("name", 10));
        Assert.Equal(["Must not be empty."], ErrorsOf(reader, "name"));
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"   \"")]
    [InlineData("\"\\t\\n\"")]
    public void String_EmptyOrWhitespace_MustNotBeEmpty(string value)
    {
        var reader = Reader($$"""{"name":{{value}}}""");

        Assert.Null(reader.String("name", 10));
        Assert.Equal(["Must not be empty."], ErrorsOf(reader, "name"));
    }

    [Theory]
    [InlineData("42")]
    [InlineData("true")]
    [InlineData("[]")]
    [InlineData("{}")]
    public void String_WrongType_MustBeAString(string value)
    {
        var reader = Reader($$"""{"name":{{value}}}""");

        Assert.Null(reader.String("name", 10));
        Assert.Equal(["Must be a string."], ErrorsOf(reader, "name"));
    }

    [Fact]
    public void String_ExactlyMaxLength_IsAccepted()
    {
        var reader = Reader("""{"name":"abcde"}""");

        Assert.Equal("abcde", reader.String("name", 5));
        Assert.True(reader.IsValid);
    }

    [Fact]
    public void String_OneOverMaxLength_ReportsLength()
    {
        var reader = Reader("""{"name":"abcdef"}""");

        Assert.Null(reader.String("name", 5));
        Assert.Equal(["Must be at most 5 characters; got 6."], ErrorsOf(reader, "name"));
    }

    [Fact]
    public void String_MaxLengthCountsTrimmedText()
    {
        var reader = Reader("""{"name":"   abcde   "}""");

        Assert.Equal("abcde", reader.String("name", 5));
        Assert.True(reader.IsValid);
    }

    [Fact]
    public void OptionalString_MissingWhenCreating_ReturnsNullWithoutError()
    {
        var reader = Reader("{}");

        Assert.Null(reader.OptionalString("status", 20));
        Assert.True(reader.IsValid);
    }

    [Fact]
    public void OptionalString_NullWhenCreating_ReturnsNullWithoutError()
    {
        var reader = Reader("""{"status":null}""");

        Assert.Null(reader.OptionalString("status", 20));
        Assert.True(reader.IsValid);
    }

    [Fact]
    public void OptionalString_NullInPartialMode_MustNotBeNull()
    {
        var reader = Reader("""{"status":null}""", partial: true);

        Assert.Null(reader.OptionalString("status", 20));
        Assert.Equal(["Must not be null; leave the field out to keep its value."], ErrorsOf(reader, "status"));
    }

    [Fact]
    public void OptionalString_Present_IsValidatedLikeString()
    {
        var reader = Reader("""{"status":" paid ","note":"","code":7,"tag":"toolong"}""");

        Assert.Equal("paid", reader.OptionalString("status", 20));
        Assert.Null(reader.OptionalString("note", 20));
        Assert.Null(reader.OptionalString("code", 20));
        Assert.Null(reader.OptionalString("tag", 3));
        Assert.Equal(["Must not be empty."], ErrorsOf(reader, "note"));
        Assert.Equal(["Must be a string."], ErrorsOf(reader, "code"));
        Assert.Equal(["Must be at most 3 characters; got 7."], ErrorsOf(reader, "tag"));
        Assert.False(reader.Errors.ContainsKey("status"));
    }

    [Theory]
    [InlineData("1", 1L)]
    [InlineData("1000000", 1_000_000L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    public void Int64_InRange_ReturnsValue(string value, long expected)
    {
        var reader = Reader($$"""{"quantity":{{value}}}""");

        Assert.Equal(expected, reader.Int64("quantity", 1));
        Assert.True(reader.IsValid);
    }

    [Fact]
    public void Int64_BelowMin_MustBeAtLeast()
    {
        var reader = Reader("""{"quantity":0}""");

        Assert.Null(reader.Int64("quantity", 1, 10));
        Assert.Equal(["Must be at least 1."], ErrorsOf(reader, "quantity"));
    }

    [Fact]
    public void Int64_AtBounds_IsAccepted()
    {
        var reader = Reader("""{"low":1,"high":10}""");

        Assert.Equal(1, reader.Int64("low", 1, 10));
        Assert.Equal(10, reader.Int64("high", 1, 10));
        Assert.True(reader.IsValid);
    }

    [Fact]
    public void Int64_AboveMax_MustBeAtMost()
    {
        var reader = Reader("""{"quantity":11}""");

        Assert.Null(reader.Int64("quantity", 1, 10));
        Assert.Equal(["Must be at most 10."], ErrorsOf(reader, "quantity"));
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("1e3")]
    [InlineData("\"5\"")]
    [InlineData("true")]
    [InlineData("[1]")]
    [InlineData("{}")]
    public void Int64_NotAWholeNumber_MustBeAWholeNumber(string value)
    {
        var reader = Reader($$"""{"quantity":{{value}}}""");

        Assert.Null(reader.Int64("quantity", 1));
        Assert.Equal(["Must be a whole number."], ErrorsOf(reader, "quantity"));
    }

    [Theory]
    [InlineData("9223372036854775808")]
    [InlineData("-9223372036854775809")]
    [InlineData("1e30")]
    public void Int64_BeyondInt64_IsRejected(string value)
    {
        var reader = Reader($$"""{"quantity":{{value}}}""");

        Assert.Null(reader.Int64("quantity", long.MinValue));
        Assert.Single(ErrorsOf(reader, "quantity"));
    }

    [Fact]
    public void Int64_MissingOrNull_FollowsRequiredAndPartialRules()
    {
        var creating = Reader("""{"b":null}""");
        var patching = Reader("""{"b":null}""", partial: true);

        Assert.Null(creating.Int64("a", 1));
        Assert.Null(creating.Int64("b", 1));
        Assert.Null(patching.Int64("a", 1));
        Assert.Null(patching.Int64("b", 1));

        Assert.Equal(["Is required."], ErrorsOf(creating, "a"));
        Assert.Equal(["Is required."], ErrorsOf(creating, "b"));
        Assert.False(patching.Errors.ContainsKey("a"));
        Assert.Equal(["Must not be null; leave the field out to keep its value."], ErrorsOf(patching, "b"));
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("19.99", "19.99")]
    [InlineData("1000000000", "1000000000")]
    [InlineData("1e2", "100")]
    public void Decimal_InRange_ReturnsValue(string value, string expected)
    {
        var reader = Reader($$"""{"price":{{value}}}""");

        Assert.Equal(decimal.Parse(expected, CultureInfo.InvariantCulture), reader.Decimal("price", 0m, 1_000_000_000m));
        Assert.True(reader.IsValid);
    }

    [Fact]
    public void Decimal_BelowMin_MustBeAtLeast()
    {
        var reader = Reader("""{"price":-0.01}""");

        Assert.Null(reader.Decimal("price", 0m, 100m));
        Assert.Equal(["Must be at least 0."], ErrorsOf(reader, "price"));
    }

    [Fact]
    public void Decimal_AboveMax_MustBeAtMost()
    {
        var reader = Reader("""{"price":100.501}""");

        Assert.Null(reader.Decimal("price", 0m, 100.5m));
        Assert.Equal(["Must be at most 100.5."], ErrorsOf(reader, "price"));
    }

    [Theory]
    [InlineData("\"19.99\"")]
    [InlineData("false")]
    [InlineData("[]")]
    [InlineData("{}")]
    public void Decimal_WrongType_MustBeANumber(string value)
    {
        var reader = Reader($$"""{"price":{{value}}}""");

        Assert.Null(reader.Decimal("price", 0m, 100m));
        Assert.Equal(["Must be a number."], ErrorsOf(reader, "price"));
    }

    [Theory]
    [InlineData("1e30")]
    [InlineData("-1e30")]
    public void Decimal_BeyondDecimal_IsRejected(string value)
    {
        var reader = Reader($$"""{"price":{{value}}}""");

        Assert.Null(reader.Decimal("price", decimal.MinValue, decimal.MaxValue));
        Assert.Single(ErrorsOf(reader, "price"));
    }

    [Fact]
    public void Decimal_MissingOrNull_FollowsRequiredAndPartialRules()
    {
        var creating = Reader("""{"price":null}""");
        var patching = Reader("{}", partial: true);

        Assert.Null(creating.Decimal("price", 0m, 1m));
        Assert.Null(patching.Decimal("price", 0m, 1m));

        Assert.Equal(["Is required."], ErrorsOf(creating, "price"));
        Assert.True(patching.IsValid);
    }

    [Fact]
    public void EveryInvalidField_IsCollectedUnderItsOwnName()
    {
        var reader = Reader("""{"name":"","price":"cheap","quantity":0,"sku":"ok"}""");

        reader.String("email", 100);
        reader.String("name", 100);
        reader.Decimal("price", 0m, 10m);
        reader.Int64("quantity", 1, 5);
        reader.String("sku", 10);

        Assert.False(reader.IsValid);
        Assert.Equal(["email", "name", "price", "quantity"], reader.Errors.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["Is required."], ErrorsOf(reader, "email"));
        Assert.Equal(["Must not be empty."], ErrorsOf(reader, "name"));
        Assert.Equal(["Must be a number."], ErrorsOf(reader, "price"));
        Assert.Equal(["Must be at least 1."], ErrorsOf(reader, "quantity"));
    }

    [Fact]
    public void AddError_SameFieldTwice_KeepsBothMessagesInOrder()
    {
        var reader = Reader("""{"email":"x"}""");

        Assert.Equal("x", reader.String("email", 10));
        reader.AddError("email", "first");
        reader.AddError("email", "second");

        Assert.False(reader.IsValid);
        Assert.Equal(["first", "second"], ErrorsOf(reader, "email"));
    }

    [Fact]
    public void UnknownFields_AreIgnored()
    {
        var reader = Reader("""{"name":"Ann","extra":{"nested":[1,2]}}""");

        Assert.Equal("Ann", reader.String("name", 10));
        Assert.True(reader.IsValid);
    }

    [Theory]
    [InlineData("""{"email":"ann@example.com","name":"Ann"}""", true)]
    [InlineData("""{"email":"ann@example.com","name":"Ann","extra":[1,2]}""", false)]
    [InlineData("""{"name":"Ann","email":"ann\u0040example.com"}""", true)]
    [InlineData("""{"email":" ann@example.com","name":"Ann"}""", false)]
    [InlineData("""{"Email":"ann@example.com","name":"Ann"}""", false)]
    [InlineData("""{"email":"old@example.com","email":"ann@example.com","name":"Ann"}""", false)]
    [InlineData("""{"email":"not-an-email","name":"Ann"}""", false)]
    [InlineData("""{"email":"ann@example.com"}""", false)]
    public void UserStagedValues_OnlyForValidBodiesWhoseFieldsNeedNoChange_InColumnOrder(string body, bool staged)
    {
        using var document = JsonDocument.Parse(body);

        var values = new Orleans.Batch.Grains.Resources.Users.UserHandler().StagedValues(new FieldReader(document.RootElement, partial: false));

        Assert.Equal(staged ? ["ann@example.com", "Ann"] : null, values);
    }

    [Fact]
    public void Verbatim_NumbersAreNever()
    {
        var reader = Reader("""{"price":5}""");

        Assert.Equal(5, reader.Int64("price", 0));
        Assert.True(reader.IsValid);
        Assert.False(reader.Verbatim);
    }

    [Fact]
    public void ProductStagedValues_AreNeverOffered()
    {
        using var document = JsonDocument.Parse("""{"sku":"S-1","name":"P","price":5}""");

        Assert.Null(new Orleans.Batch.Grains.Resources.Products.ProductHandler().StagedValues(new FieldReader(document.RootElement, partial: false)));
    }

    [Theory]
    [InlineData("POST", "/users", """{"email":"ann@example.com","name":"Ann"}""", "users")]
    [InlineData("post", "/users/", """{"email":"ann@example.com","name":"Ann"}""", "users")]
    [InlineData("PUT", "/users", """{"email":"ann@example.com","name":"Ann"}""", null)]
    [InlineData("POST", "/users/5", """{"email":"ann@example.com","name":"Ann"}""", null)]
    [InlineData("POST", "/users?x=1", """{"email":"ann@example.com","name":"Ann"}""", null)]
    [InlineData("POST", "/users", "{\"email\":\"ann@example.com\",\"name\":\"Ann", null)]
    [InlineData("POST", "/users", null, null)]
    [InlineData("POST", "/products", """{"sku":"S-1","name":"P","price":5}""", null)]
    [InlineData("POST", "/nowhere", """{"email":"ann@example.com","name":"Ann"}""", null)]
    public void StagedValues_OnlyForCreatesOfAStagingCollectionWithAValidBody(string method, string path, string? body, string? staged)
    {
        var router = new ResourceRouter([new Orleans.Batch.Grains.Resources.Users.UserHandler(), new Orleans.Batch.Grains.Resources.Products.ProductHandler()]);

        Assert.Equal(staged is null ? null : ["ann@example.com", "Ann"], router.StagedValues(method, path, body));
    }
}
