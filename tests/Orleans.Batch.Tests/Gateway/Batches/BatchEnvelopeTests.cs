using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Orleans.Batch.Gateway.Batches;
using Orleans.Batch.Gateway.Hosting;
using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Tests.Gateway.Batches;

public sealed class BatchEnvelopeTests
{
    private const string BatchId = "batch-1";
    private const string ValidationType = "urn:orleans-batch:problem:validation";

    private static ProblemDetails? Read(string json, out BatchRequest? request, BatchApiOptions? limits = null)
    {
        using var document = JsonDocument.Parse(json);
        return BatchEnvelope.TryRead(document.RootElement, limits ?? new BatchApiOptions(), BatchId, out request);
    }

    private static BatchRequest ReadValid(string json, BatchApiOptions? limits = null)
    {
        var problem = Read(json, out var request, limits);
        Assert.Null(problem);
        Assert.NotNull(request);
        return request;
    }

    private static HttpValidationProblemDetails ReadInvalid(string json, BatchApiOptions? limits = null)
    {
        var problem = Read(json, out var request, limits);
        Assert.Null(request);
        var validation = Assert.IsType<HttpValidationProblemDetails>(problem);
        Assert.Equal(400, validation.Status);
        Assert.Equal(ValidationType, validation.Type);
        return validation;
    }

    private static string Ops(params string[] operations) => $$"""{"operations":[{{string.Join(',', operations)}}]}""";

    private static string Op(string id, string method = "GET", string path = "/users/1") =>
        $$"""{"id":"{{id}}","method":"{{method}}","path":"{{path}}"}""";

    [Theory]
    [InlineData("[]", "array")]
    [InlineData("[{\"id\":\"a\"}]", "array")]
    [InlineData("\"operations\"", "string")]
    [InlineData("1", "number")]
    [InlineData("null", "null")]
    [InlineData("false", "false")]
    public void TryRead_RootNotAnObject_Returns400(string json, string kind)
    {
        var problem = ReadInvalid(json);

        var error = Assert.Single(problem.Errors);
        Assert.Equal("$", error.Key);
        Assert.Equal([$"The body must be a JSON object with an 'operations' array, not {kind}."], error.Value);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"operations":null}""")]
    [InlineData("""{"Operations":[{"id":"a","method":"GET","path":"/users/1"}]}""")]
    public void TryRead_OperationsMissingOrNull_IsRequired(string json)
    {
        var problem = ReadInvalid(json);

        Assert.Equal(["Is required: an array of operations."], Assert.Single(problem.Errors, e => e.Key == "operations").Value);
        Assert.Single(problem.Errors);
    }

    [Theory]
    [InlineData("""{"operations":{}}""", "object")]
    [InlineData("""{"operations":"a"}""", "string")]
    [InlineData("""{"operations":3}""", "number")]
    [InlineData("""{"operations":true}""", "true")]
    public void TryRead_OperationsNotAnArray_Returns400(string json, string kind)
    {
        var problem = ReadInvalid(json);

        var error = Assert.Single(problem.Errors);
        Assert.Equal("operations", error.Key);
        Assert.Equal([$"Must be an array, not {kind}."], error.Value);
    }

    [Fact]
    public void TryRead_OperationsEmpty_Returns400()
    {
        var problem = ReadInvalid("""{"operations":[]}""");

        var error = Assert.Single(problem.Errors);
        Assert.Equal("operations", error.Key);
        Assert.Equal(["Must contain at least one operation."], error.Value);
    }

    [Fact]
    public void TryRead_ExactlyTheLimit_IsAccepted()
    {
        var limits = new BatchApiOptions { MaxOperations = 3 };

        var request = ReadValid(Ops(Op("a"), Op("b"), Op("c")), limits);

        Assert.Equal(3, request.Operations.Count);
    }

    [Fact]
    public void TryRead_MoreThanTheLimit_Returns413WithLimitReceivedAndHint()
    {
        var limits = new BatchApiOptions { MaxOperations = 3 };

        var problem = Read(Ops(Op("a"), Op("b"), Op("c"), Op("d")), out var request, limits);

        Assert.Null(request);
        Assert.NotNull(problem);
        Assert.IsNotType<HttpValidationProblemDetails>(problem);
        Assert.Equal(StatusCodes.Status413PayloadTooLarge, problem.Status);
        Assert.Equal("urn:orleans-batch:problem:too-many-operations", problem.Type);
        Assert.Equal(3, problem.Extensions["limit"]);
        Assert.Equal(4, problem.Extensions["received"]);
        Assert.Equal("Split the operations into batches of at most 3.", problem.Extensions["hint"]);
        Assert.Contains("4 operations", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryRead_MoreThanTheLimit_Returns413EvenWhenOperationsAreInvalid()
    {
        var limits = new BatchApiOptions { MaxOperations = 1 };

        var problem = Read("""{"operations":[1,2],"concurrency":0}""", out _, limits);

        Assert.Equal(413, problem?.Status);
    }

    [Theory]
    [InlineData("1", "number")]
    [InlineData("\"op\"", "string")]
    [InlineData("[]", "array")]
    [InlineData("null", "null")]
    [InlineData("true", "true")]
    public void TryRead_OperationNotAnObject_ErrorAtItsIndex(string operation, string kind)
    {
        var problem = ReadInvalid(Ops(Op("a"), operation));

        var error = Assert.Single(problem.Errors);
        Assert.Equal("operations[1]", error.Key);
        Assert.Equal([$"Must be an object with id, method and path, not {kind}."], error.Value);
    }

    [Theory]
    [InlineData("id")]
    [InlineData("method")]
    [InlineData("path")]
    public void TryRead_FieldMissing_IsRequired(string field)
    {
        var operation = new Dictionary<string, string> { ["id"] = "c", ["method"] = "GET", ["path"] = "/users/1" };
        operation.Remove(field);

        var problem = ReadInvalid(Ops(Op("a"), Op("b"), JsonSerializer.Serialize(operation)));

        var error = Assert.Single(problem.Errors);
        Assert.Equal($"operations[2].{field}", error.Key);
        Assert.Equal(["Is required."], error.Value);
    }

    [Theory]
    [InlineData("id")]
    [InlineData("method")]
    [InlineData("path")]
    public void TryRead_FieldNull_IsRequired(string field)
    {
        var operation = new Dictionary<string, string?> { ["id"] = "c", ["method"] = "GET", ["path"] = "/users/1" };
        operation[field] = null;

        var problem = ReadInvalid(Ops(Op("a"), Op("b"), JsonSerializer.Serialize(operation)));

        var error = Assert.Single(problem.Errors);
        Assert.Equal($"operations[2].{field}", error.Key);
        Assert.Equal(["Is required."], error.Value);
    }

    [Theory]
    [InlineData("id", "\"\"")]
    [InlineData("id", "7")]
    [InlineData("id", "true")]
    [InlineData("id", "[\"a\"]")]
    [InlineData("method", "\"\"")]
    [InlineData("method", "1")]
    [InlineData("method", "{}")]
    [InlineData("path", "\"\"")]
    [InlineData("path", "false")]
    [InlineData("path", "[]")]
    public void TryRead_FieldEmptyOrNotAString_MustBeNonEmptyString(string field, string value)
    {
        var fields = new Dictionary<string, string> { ["id"] = "\"c\"", ["method"] = "\"GET\"", ["path"] = "\"/users/1\"" };
        fields[field] = value;
        var operation = "{" + string.Join(',', fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";

        var problem = ReadInvalid(Ops(Op("a"), Op("b"), operation));

        var error = Assert.Single(problem.Errors);
        Assert.Equal($"operations[2].{field}", error.Key);
        Assert.Equal(["Must be a non-empty string."], error.Value);
    }

    [Fact]
    public void TryRead_EveryFieldOfAnOperationMissing_ReportsEach()
    {
        var problem = ReadInvalid(Ops(Op("a"), "{}"));

        Assert.Equal(
            ["operations[1].id", "operations[1].method", "operations[1].path"],
            problem.Errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TryRead_IdLongerThanLimit_Returns400()
    {
        var limits = new BatchApiOptions { MaxOperationIdLength = 5 };

        var accepted = ReadValid(Ops(Op("abcde")), limits);
        var problem = ReadInvalid(Ops(Op("abcdef")), limits);

        Assert.Equal("abcde", Assert.Single(accepted.Operations).Id);
        Assert.Equal(["Must be at most 5 characters; got 6."], problem.Errors["operations[0].id"]);
    }

    [Theory]
    [InlineData("users/1")]
    [InlineData("http://example.com/users/1")]
    [InlineData(" /users/1")]
    [InlineData("?x=1")]
    public void TryRead_PathNotStartingWithSlash_Returns400(string path)
    {
        var problem = ReadInvalid(Ops(Op("a"), Op("b", path: path)));

        var error = Assert.Single(problem.Errors);
        Assert.Equal("operations[1].path", error.Key);
        Assert.Equal(["Must start with '/', e.g. /users/42."], error.Value);
    }

    [Theory]
    [InlineData("GET ")]
    [InlineData(" GET")]
    [InlineData("G-ET")]
    [InlineData("GET1")]
    [InlineData("P@TCH")]
    [InlineData("GÉT")]
    public void TryRead_MethodWithNonLetters_Returns400(string method)
    {
        var problem = ReadInvalid(Ops(Op("a", method: method)));

        var error = Assert.Single(problem.Errors);
        Assert.Equal("operations[0].method", error.Key);
        Assert.Equal(["Must be an HTTP method name such as GET, POST, PUT, PATCH or DELETE."], error.Value);
    }

    [Fact]
    public void TryRead_MethodLongerThan16_Returns400()
    {
        var problem = ReadInvalid(Ops(Op("a", method: new string('X', 17))));

        Assert.Equal(["Must be at most 16 characters; got 17."], problem.Errors["operations[0].method"]);
    }

    [Theory]
    [InlineData("get", "GET")]
    [InlineData("Post", "POST")]
    [InlineData("pAtCh", "PATCH")]
    [InlineData("DELETE", "DELETE")]
    [InlineData("purge", "PURGE")]
    public void TryRead_Method_IsUpperCased(string method, string expected)
    {
        var request = ReadValid(Ops(Op("a", method: method)));

        Assert.Equal(expected, Assert.Single(request.Operations).Method);
    }

    [Fact]
    public void TryRead_DuplicateIds_Returns400NamingThem()
    {
        var problem = ReadInvalid(Ops(Op("a"), Op("b"), Op("a"), Op("c"), Op("b"), Op("a")));

        var error = Assert.Single(problem.Errors);
        Assert.Equal("operations", error.Key);
        Assert.Equal(["Operation ids must be unique; repeated: a, b."], error.Value);
        Assert.Equal(["a", "b"], Assert.IsAssignableFrom<IEnumerable<string>>(problem.Extensions["duplicateIds"]));
    }

    [Fact]
    public void TryRead_IdsDifferingOnlyInCase_AreDistinct()
    {
        var request = ReadValid(Ops(Op("a"), Op("A")));

        Assert.Equal(["a", "A"], request.Operations.Select(o => o.Id));
    }

    [Fact]
    public void TryRead_DuplicateIdsOnInvalidOperations_AreStillNamed()
    {
        var problem = ReadInvalid(Ops(Op("a"), Op("a", method: "G3T"), """{"id":"b"}""", Op("b", path: "nope")));

        Assert.Equal(["Operation ids must be unique; repeated: a, b."], problem.Errors["operations"]);
        Assert.Equal(["a", "b"], Assert.IsAssignableFrom<IEnumerable<string>>(problem.Extensions["duplicateIds"]));
        Assert.True(problem.Errors.ContainsKey("operations[1].method"));
        Assert.True(problem.Errors.ContainsKey("operations[2].method"));
        Assert.True(problem.Errors.ContainsKey("operations[2].path"));
        Assert.True(problem.Errors.ContainsKey("operations[3].path"));
    }

    [Fact]
    public void TryRead_NoDuplicates_HasNoDuplicateIdsExtension()
    {
        var problem = ReadInvalid(Ops(Op("a"), Op("b", path: "x")));

        Assert.False(problem.Extensions.ContainsKey("duplicateIds"));
        Assert.False(problem.Errors.ContainsKey("operations"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("\"x\"")]
    [InlineData("\"4\"")]
    [InlineData("1.5")]
    [InlineData("true")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData("2147483648")]
    public void TryRead_InvalidConcurrency_Returns400(string concurrency)
    {
        var problem = ReadInvalid($$"""{"operations":[{{Op("a")}}],"concurrency":{{concurrency}}}""");

        var error = Assert.Single(problem.Errors);
        Assert.Equal("concurrency", error.Key);
        Assert.Equal(["Must be a whole number of at least 1."], error.Value);
    }

    [Theory]
    [InlineData("1", 1)]
    [InlineData("8", 8)]
    [InlineData("5000", 5000)]
    public void TryRead_ValidConcurrency_IsPassedThrough(string concurrency, int expected)
    {
        var request = ReadValid($$"""{"operations":[{{Op("a")}}],"concurrency":{{concurrency}}}""");

        Assert.Equal(expected, request.Concurrency);
    }

    [Theory]
    [InlineData("""{"operations":[{"id":"a","method":"GET","path":"/users/1"}]}""")]
    [InlineData("""{"operations":[{"id":"a","method":"GET","path":"/users/1"}],"concurrency":null}""")]
    public void TryRead_NoConcurrency_IsNull(string json)
    {
        Assert.Null(ReadValid(json).Concurrency);
    }

    [Fact]
    public void TryRead_InvalidConcurrencyAndOperation_ReportsBoth()
    {
        var problem = ReadInvalid($$"""{"operations":[{{Op("a", path: "x")}}],"concurrency":0}""");

        Assert.Equal(["concurrency", "operations[0].path"], problem.Errors.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"If-Match: x\"")]
    [InlineData("1")]
    public void TryRead_HeadersNotAnObject_Returns400(string headers)
    {
        var problem = ReadInvalid(Ops($$"""{"id":"a","method":"GET","path":"/users/1","headers":{{headers}}}"""));

        var error = Assert.Single(problem.Errors);
        Assert.Equal("operations[0].headers", error.Key);
        Assert.Equal(["Must be an object of header names to string values."], error.Value);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("[\"a\"]")]
    [InlineData("{}")]
    public void TryRead_HeaderValueNotAString_Returns400(string value)
    {
        var problem = ReadInvalid(Ops($$$"""{"id":"a","method":"GET","path":"/users/1","headers":{"X-Ok":"yes","X-Trace":{{{value}}}}}"""));

        var error = Assert.Single(problem.Errors);
        Assert.Equal("operations[0].headers.X-Trace", error.Key);
        Assert.Equal(["Must be a string."], error.Value);
    }

    [Fact]
    public void TryRead_Headers_ArePassedThroughCaseInsensitively()
    {
        var request = ReadValid(Ops("""{"id":"a","method":"GET","path":"/users/1","headers":{"X-Trace":"t1","If-Match":""}}"""));

        var headers = Assert.Single(request.Operations).Headers;
        Assert.NotNull(headers);
        Assert.Equal(2, headers.Count);
        Assert.Equal("t1", headers["x-trace"]);
        Assert.Equal("", headers["IF-MATCH"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData(""","headers":null""")]
    [InlineData(""","headers":{}""")]
    public void TryRead_NoHeaders_IsNull(string headers)
    {
        var request = ReadValid(Ops($$"""{"id":"a","method":"GET","path":"/users/1"{{headers}}}"""));

        Assert.Null(Assert.Single(request.Operations).Headers);
    }

    [Theory]
    [InlineData("""{"email":"a@example.com","name":"Ann"}""")]
    [InlineData("""{ "nested" : { "list" : [1, 2.50, "x"] } }""")]
    [InlineData("""[1,2]""")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    [InlineData("false")]
    public void TryRead_Body_IsPassedThroughAsRawJson(string body)
    {
        var request = ReadValid(Ops($$"""{"id":"a","method":"POST","path":"/users","body":{{body}}}"""));

        Assert.Equal(body, Assert.Single(request.Operations).Body);
    }

    [Theory]
    [InlineData("")]
    [InlineData(""","body":null""")]
    public void TryRead_NoBody_IsNull(string body)
    {
        var request = ReadValid(Ops($$"""{"id":"a","method":"POST","path":"/users"{{body}}}"""));

        Assert.Null(Assert.Single(request.Operations).Body);
    }

    [Fact]
    public void TryRead_ValidBatch_KeepsOrderAndSetsBatchIdOnEveryOperation()
    {
        var request = ReadValid(Ops(
            Op("first", "post", "/users"),
            Op("second", "GET", "/users/2?x=%2B"),
            Op("third", "delete", "/orders/3")));

        Assert.Equal(["first", "second", "third"], request.Operations.Select(o => o.Id));
        Assert.Equal(["POST", "GET", "DELETE"], request.Operations.Select(o => o.Method));
        Assert.Equal(["/users", "/users/2?x=%2B", "/orders/3"], request.Operations.Select(o => o.Path));
        Assert.All(request.Operations, o => Assert.Equal(BatchId, o.BatchId));
    }

    [Fact]
    public void TryRead_UnknownProperties_AreErrorsNamingThem()
    {
        var problem = ReadInvalid("""{"operations":[{"id":"a","method":"GET","path":"/users/1","bodyy":1,"dependsOn":["b"]}],"note":"x"}""");

        Assert.Equal(["note", "operations[0].bodyy", "operations[0].dependsOn"], problem.Errors.Keys.Order(StringComparer.Ordinal));
        Assert.StartsWith("Is not a field of an operation; the fields are id, method, path", problem.Errors["operations[0].bodyy"].Single());
    }

    [Fact]
    public void TryRead_FieldNames_AreCaseSensitive()
    {
        var problem = ReadInvalid("""{"operations":[{"id":"a","method":"GET","path":"/users/1","Body":{}}],"Mode":"sync"}""");

        Assert.Equal(["Mode", "operations[0].Body"], problem.Errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TryRead_FiftyErrors_AreAllListed()
    {
        var operations = Enumerable.Range(0, 50).Select(i => Op($"op{i}", path: "relative")).ToArray();

        var problem = ReadInvalid(Ops(operations));

        Assert.Equal(50, problem.Errors.Count);
        Assert.Equal("Nothing was executed; see 'errors'.", problem.Detail);
    }

    [Fact]
    public void TryRead_MoreThanFiftyErrors_ListsFiftyAndSaysHowMany()
    {
        var operations = Enumerable.Range(0, 70).Select(i => Op($"op{i}", path: "relative")).ToArray();

        var problem = ReadInvalid(Ops(operations));

        Assert.Equal(50, problem.Errors.Count);
        Assert.Equal("70 fields are invalid; the first 50 are listed. Nothing was executed.", problem.Detail);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"operations[{i}].path"), problem.Errors.Keys);
    }

    [Fact]
    public void TryRead_MoreThanFiftyErrorsWithDuplicates_StillListsTheDuplicates()
    {
        var operations = Enumerable.Range(0, 60).Select(i => Op($"op{i}", path: "relative")).Append(Op("op0")).ToArray();

        var problem = ReadInvalid(Ops(operations));

        Assert.Equal(50, problem.Errors.Count);
        Assert.Equal("61 fields are invalid; the first 50 are listed. Nothing was executed.", problem.Detail);
        Assert.Equal(["Operation ids must be unique; repeated: op0."], problem.Errors["operations"]);
        Assert.Equal(["op0"], Assert.IsAssignableFrom<IEnumerable<string>>(problem.Extensions["duplicateIds"]));
    }
}
