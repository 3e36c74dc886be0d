using System.Text.Json;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Resources;

namespace Orleans.Batch.Tests.Grains.Resources;

public sealed class ResourceRouterTests
{
    private readonly FakeHandler _widgets = new("widgets");
    private readonly FakeHandler _gadgets = new("gadgets");
    private readonly ResourceRouter _router;

    public ResourceRouterTests() => _router = new ResourceRouter([_widgets, _gadgets]);

    private Task<ResourceResponse> Route(string method, string path, string? body = null) =>
        _router.RouteAsync(null!, method, path, body, CancellationToken.None);

    private static JsonElement ProblemOf(ResourceResponse response)
    {
        Assert.NotNull(response.Body);
        using var document = JsonDocument.Parse(response.Body);
        return document.RootElement.Clone();
    }

    private static void AssertProblem(ResourceResponse response, int status, string type)
    {
        Assert.Equal(status, response.Status);
        var problem = ProblemOf(response);
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.Equal(Problems.TypePrefix + type, problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task RouteAsync_GetCollection_CallsListWithEmptyQuery()
    {
        var response = await Route("GET", "/widgets");

        Assert.Same(FakeHandler.Answer, response);
        var call = Assert.Single(_widgets.Calls);
        Assert.Equal("List", call.Method);
        Assert.NotNull(call.Query);
        Assert.Empty(call.Query);
        Assert.Empty(_gadgets.Calls);
    }

    [Fact]
    public async Task RouteAsync_PicksHandlerByCollection()
    {
        await Route("GET", "/gadgets/3");

        Assert.Empty(_widgets.Calls);
        var call = Assert.Single(_gadgets.Calls);
        Assert.Equal(("Get", 3L), (call.Method, call.Id));
    }

    [Fact]
    public async Task RouteAsync_PostCollection_CallsCreateWithBody()
    {
        await Route("POST", "/widgets", """{"name":"a","n":1}""");

        var call = Assert.Single(_widgets.Calls);
        Assert.Equal("Create", call.Method);
        Assert.Null(call.Id);
        Assert.Equal("""{"name":"a","n":1}""", call.Body);
    }

    [Fact]
    public async Task RouteAsync_GetItem_CallsGetWithId()
    {
        await Route("GET", "/widgets/42");

        var call = Assert.Single(_widgets.Calls);
        Assert.Equal(("Get", 42L), (call.Method, call.Id));
    }

    [Fact]
    public async Task RouteAsync_GetItem_LargestIdIsParsed()
    {
        await Route("GET", "/widgets/9223372036854775807");

        Assert.Equal(long.MaxValue, Assert.Single(_widgets.Calls).Id);
    }

    [Fact]
    public async Task RouteAsync_PutItem_CallsFullUpdate()
    {
        await Route("PUT", "/widgets/7", """{"name":"b"}""");

        var call = Assert.Single(_widgets.Calls);
        Assert.Equal(("Update", 7L, false), (call.Method, call.Id, call.Partial));
        Assert.Equal("""{"name":"b"}""", call.Body);
    }

    [Fact]
    public async Task RouteAsync_PatchItem_CallsPartialUpdate()
    {
        await Route("PATCH", "/widgets/7", """{"name":"c"}""");

        var call = Assert.Single(_widgets.Calls);
        Assert.Equal(("Update", 7L, true), (call.Method, call.Id, call.Partial));
        Assert.Equal("""{"name":"c"}""", call.Body);
    }

    [Theory]
    [InlineData("PUT", false)]
    [InlineData("patch", true)]
    public void Route_UpdateItem_DescribesTheUpdateForASetBasedStatement(string method, bool partial)
    {
        var routed = _router.Route(method, "/widgets/7", """{"name":"d"}""");

        var (handler, update) = Assert.NotNull(routed.Updates);
        Assert.Same(_widgets, handler);
        Assert.Equal((7L, partial), (update.Id, update.Partial));
        Assert.Equal("""{"name":"d"}""", update.Body.GetRawText());
        Assert.Null(routed.Creates);
        Assert.Null(routed.Deletes);
    }

    [Theory]
    [InlineData("POST", "/widgets")]
    [InlineData("GET", "/widgets/7")]
    [InlineData("DELETE", "/widgets/7")]
    [InlineData("PATCH", "/widgets/0")]
    public void Route_NotAnUpdate_DescribesNoUpdate(string method, string path) =>
        Assert.Null(_router.Route(method, path, """{"name":"e"}""").Updates);

    [Fact]
    public void Route_UpdateWithMalformedBody_IsAnsweredWithoutAnUpdate()
    {
        var routed = _router.Route("PATCH", "/widgets/7", "[1]");

        Assert.Equal(400, routed.Immediate?.Status);
        Assert.Null(routed.Updates);
    }

    [Fact]
    public async Task RouteAsync_DeleteItem_CallsDelete()
    {
        await Route("DELETE", "/widgets/9");

        var call = Assert.Single(_widgets.Calls);
        Assert.Equal(("Delete", 9L), (call.Method, call.Id));
    }

    [Fact]
    public async Task RouteAsync_TrailingSlash_RoutesLikeWithout()
    {
        await Route("GET", "/widgets/");
        await Route("GET", "/widgets/5/");

        Assert.Equal(["List", "Get"], _widgets.Calls.Select(c => c.Method));
        Assert.Equal(5L, _widgets.Calls[1].Id);
    }

    [Theory]
    [InlineData("get", "Get")]
    [InlineData("Get", "Get")]
    [InlineData("pUt", "Update")]
    [InlineData("patch", "Update")]
    [InlineData("delete", "Delete")]
    public async Task RouteAsync_ItemMethodIsCaseInsensitive(string method, string expected)
    {
        await Route(method, "/widgets/1", "{}");

        Assert.Equal(expected, Assert.Single(_widgets.Calls).Method);
    }

    [Theory]
    [InlineData("get", "List")]
    [InlineData("post", "Create")]
    [InlineData("Post", "Create")]
    public async Task RouteAsync_CollectionMethodIsCaseInsensitive(string method, string expected)
    {
        await Route(method, "/widgets", "{}");

        Assert.Equal(expected, Assert.Single(_widgets.Calls).Method);
    }

    [Theory]
    [InlineData("/nothing")]
    [InlineData("/nothing/1")]
    [InlineData("/Widgets")]
    [InlineData("/WIDGETS/1")]
    [InlineData("/")]
    [InlineData("")]
    [InlineData("widgets")]
    [InlineData("widgets/1")]
    [InlineData("?limit=1")]
    public async Task RouteAsync_UnknownCollection_Returns404(string path)
    {
        var response = await Route("GET", path);

        AssertProblem(response, 404, "not-found");
        Assert.Empty(_widgets.Calls);
        Assert.Empty(_gadgets.Calls);
    }

    [Theory]
    [InlineData("/widgets/1/parts")]
    [InlineData("/widgets/1/parts/2")]
    [InlineData("/widgets/1/2")]
    public async Task RouteAsync_ExtraSegments_Returns404(string path)
    {
        var response = await Route("GET", path);

        AssertProblem(response, 404, "not-found");
        Assert.Empty(_widgets.Calls);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1a")]
    [InlineData("1.5")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("-0")]
    [InlineData("+5")]
    [InlineData(" 5")]
    [InlineData("5 ")]
    [InlineData("1e3")]
    [InlineData("0x10")]
    [InlineData("9223372036854775808")]
    public async Task RouteAsync_IdNotAPositiveWholeNumber_Returns404(string id)
    {
        foreach (var method in new[] { "GET", "PUT", "PATCH", "DELETE" })
        {
            var response = await Route(method, "/widgets/" + id, "{}");

            AssertProblem(response, 404, "not-found");
            Assert.Contains("ids are positive whole numbers", ProblemOf(response).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Empty(_widgets.Calls);
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    [InlineData("HEAD")]
    [InlineData("OPTIONS")]
    [InlineData("delete")]
    public async Task RouteAsync_UnsupportedMethodOnCollection_Returns405WithAllowed(string method)
    {
        var response = await Route(method, "/widgets?limit=5", "{}");

        AssertProblem(response, 405, "method-not-allowed");
        var problem = ProblemOf(response);
        Assert.Equal(["GET", "POST"], problem.GetProperty("allowed").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal($"{method.ToUpperInvariant()} is not supported on /widgets.", problem.GetProperty("detail").GetString());
        Assert.Empty(_widgets.Calls);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("HEAD")]
    [InlineData("TRACE")]
    [InlineData("post")]
    public async Task RouteAsync_UnsupportedMethodOnItem_Returns405WithAllowed(string method)
    {
        var response = await Route(method, "/widgets/3", "{}");

        AssertProblem(response, 405, "method-not-allowed");
        var problem = ProblemOf(response);
        Assert.Equal(["GET", "PUT", "PATCH", "DELETE"], problem.GetProperty("allowed").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal($"{method.ToUpperInvariant()} is not supported on /widgets/3.", problem.GetProperty("detail").GetString());
        Assert.Empty(_widgets.Calls);
    }

    [Fact]
    public async Task RouteAsync_QueryString_IsSplitIntoPairs()
    {
        await Route("GET", "/widgets?limit=10&after=20");

        var query = Assert.Single(_widgets.Calls).Query!;
        Assert.Equal(2, query.Count);
        Assert.Equal("10", query["limit"]);
        Assert.Equal("20", query["after"]);
    }

    [Fact]
    public async Task RouteAsync_QueryString_DecodesPercentAndPlus()
    {
        await Route("GET", "/widgets?email=a%2Bb%40example.com&name=Ann+Lee&note=50%25+off&sp%20ace=x%20y");

        var query = Assert.Single(_widgets.Calls).Query!;
        Assert.Equal("a+b@example.com", query["email"]);
        Assert.Equal("Ann Lee", query["name"]);
        Assert.Equal("50% off", query["note"]);
        Assert.Equal("x y", query["sp ace"]);
    }

    [Fact]
    public async Task RouteAsync_QueryString_KeyWithoutValueIsEmptyAndEmptyPairsAreSkipped()
    {
        await Route("GET", "/widgets?flag&&x=&=v&");

        var query = Assert.Single(_widgets.Calls).Query!;
        Assert.Equal("", query["flag"]);
        Assert.Equal("", query["x"]);
        Assert.Equal("v", query[""]);
        Assert.Equal(3, query.Count);
    }

    [Fact]
    public async Task RouteAsync_QueryString_ValueMayContainEquals()
    {
        await Route("GET", "/widgets?q=a=b");

        Assert.Equal("a=b", Assert.Single(_widgets.Calls).Query!["q"]);
    }

    [Fact]
    public async Task RouteAsync_QueryOnItemPath_DoesNotBreakIdParsing()
    {
        await Route("GET", "/widgets/12?fields=name");

        Assert.Equal(12L, Assert.Single(_widgets.Calls).Id);
    }

    public static TheoryData<string, string> BodyMethods => new()
    {
        { "POST", "/widgets" },
        { "PUT", "/widgets/1" },
        { "PATCH", "/widgets/1" },
    };

    [Theory]
    [MemberData(nameof(BodyMethods))]
    public async Task RouteAsync_MissingBody_Returns400BeforeHandler(string method, string path)
    {
        var response = await Route(method, path, null);

        AssertProblem(response, 400, "malformed-body");
        Assert.Equal("A JSON object body is required.", ProblemOf(response).GetProperty("detail").GetString());
        Assert.Empty(_widgets.Calls);
    }

    [Theory]
    [MemberData(nameof(BodyMethods))]
    public async Task RouteAsync_BlankBody_Returns400BeforeHandler(string method, string path)
    {
        foreach (var body in new[] { "", "   ", "\r\n\t" })
        {
            var response = await Route(method, path, body);

            AssertProblem(response, 400, "malformed-body");
            Assert.Equal("A JSON object body is required.", ProblemOf(response).GetProperty("detail").GetString());
        }

        Assert.Empty(_widgets.Calls);
    }

    [Theory]
    [MemberData(nameof(BodyMethods))]
    public async Task RouteAsync_MalformedBody_Returns400BeforeHandler(string method, string path)
    {
        foreach (var body in new[] { "{", "{\"a\":}", "{'a':1}", "{} {}", "not json", "{\"a\":1,}" })
        {
            var response = await Route(method, path, body);

            AssertProblem(response, 400, "malformed-body");
            Assert.StartsWith("The body is not valid JSON: ", ProblemOf(response).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        Assert.Empty(_widgets.Calls);
    }

    [Theory]
    [InlineData("[]", "array")]
    [InlineData("[{\"a\":1}]", "array")]
    [InlineData("\"text\"", "string")]
    [InlineData("42", "number")]
    [InlineData("true", "true")]
    [InlineData("null", "null")]
    public async Task RouteAsync_NonObjectBody_Returns400BeforeHandler(string body, string kind)
    {
        foreach (var (method, path) in new[] { ("POST", "/widgets"), ("PUT", "/widgets/1"), ("PATCH", "/widgets/1") })
        {
            var response = await Route(method, path, body);

            AssertProblem(response, 400, "malformed-body");
            Assert.Equal($"The body must be a JSON object, not {kind}.", ProblemOf(response).GetProperty("detail").GetString());
        }

        Assert.Empty(_widgets.Calls);
    }

    [Fact]
    public async Task RouteAsync_BodyOnGetOrDelete_IsIgnored()
    {
        await Route("GET", "/widgets", "not json");
        await Route("GET", "/widgets/1", "not json");
        await Route("DELETE", "/widgets/1", "not json");

        Assert.Equal(["List", "Get", "Delete"], _widgets.Calls.Select(c => c.Method));
        Assert.All(_widgets.Calls, c => Assert.Null(c.Body));
    }

    [Fact]
    public async Task RouteAsync_HandlerAnswer_IsReturnedUnchanged()
    {
        var answer = new ResourceResponse(201, """{"id":1}""", "/widgets/1");
        _widgets.Next = answer;

        var response = await Route("POST", "/widgets", "{}");

        Assert.Same(answer, response);
    }

    private sealed record Call(string Method, long? Id = null, string? Body = null, bool? Partial = null,
        IReadOnlyDictionary<string, string>? Query = null);

    private sealed class FakeHandler(string collection) : IResourceHandler
    {
        public static readonly ResourceResponse Answer = new(299, "{}");

        public string Collection { get; } = collection;

        public List<Call> Calls { get; } = [];

        public ResourceResponse Next { get; set; } = Answer;

        public Task<ResourceResponse> ListAsync(DbSession session, IReadOnlyDictionary<string, string> query, CancellationToken cancellationToken) =>
            Record(new Call("List", Query: query));

        public Task<ResourceResponse> CreateAsync(DbSession session, JsonElement body, CancellationToken cancellationToken) =>
            Record(new Call("Create", Body: body.GetRawText()));

        public Task<IReadOnlyList<ResourceResponse>?> CreateManyAsync(DbSession session, IReadOnlyList<JsonElement> bodies, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<ResourceResponse>?>(null);

        public Task<IReadOnlyList<ResourceResponse>?> UpdateManyAsync(DbSession session, IReadOnlyList<ItemUpdate> updates, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public Task<IReadOnlyList<ResourceResponse>> DeleteManyAsync(DbSession session, IReadOnlyList<long> ids, CancellationToken cancellationToken) =>
            throw new NotSupportedException();

        public StagedCreate? Staged => null;

        public string?[]? StagedValues(FieldReader fields) => null;

        public ResourceResponse RenderCreated(FieldReader fields, long id, DateTime createdAt) => throw new NotSupportedException();

        public Task<ResourceResponse> GetAsync(DbSession session, long id, CancellationToken cancellationToken) =>
            Record(new Call("Get", id));

        public Task<ResourceResponse> UpdateAsync(DbSession session, long id, JsonElement body, bool partial, CancellationToken cancellationToken) =>
            Record(new Call("Update", id, body.GetRawText(), partial));

        public Task<ResourceResponse> DeleteAsync(DbSession session, long id, CancellationToken cancellationToken) =>
            Record(new Call("Delete", id));

        private Task<ResourceResponse> Record(Call call)
        {
            Calls.Add(call);
            return Task.FromResult(Next);
        }
    }
}
