using System.Net;
using System.Text.Json;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>The single-resource API of <c>/orders</c>, over HTTP against the real gateway.</summary>
[Collection(ClusterCollection.Name)]
public sealed class OrdersEndpointsTests(ClusterFixture fixture)
{
    private const long MissingId = 999_999_999_999;

    // ---------------------------------------------------------------- POST /orders

    [Fact]
    public async Task Create_Valid_Returns201WithLocationAndBody()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);

        var response = await api.PostAsync("/orders", new { userId, productId, quantity = 3, status = "paid" });

        var order = ApiAssert.Json(response, HttpStatusCode.Created);
        var id = order.GetProperty("id").GetInt64();
        Assert.True(id > 0);
        Assert.Equal($"/orders/{id}", response.Location);
        Assert.Equal(userId, order.GetProperty("userId").GetInt64());
        Assert.Equal(productId, order.GetProperty("productId").GetInt64());
        Assert.Equal(3, order.GetProperty("quantity").GetInt32());
        Assert.Equal("paid", order.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Create_ResponseUsesCamelCasePropertyNames()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);

        var order = ApiAssert.Json(await api.PostAsync("/orders", new { userId, productId, quantity = 1 }), HttpStatusCode.Created);

        var names = ApiAssert.PropertyNames(order);
        Assert.Superset(new HashSet<string>(["id", "userId", "productId", "quantity", "status"], StringComparer.Ordinal), names.ToHashSet(StringComparer.Ordinal));
        Assert.All(names, name => Assert.True(char.IsLower(name[0]), $"'{name}' is not camelCase"));
    }

    [Fact]
    public async Task Create_StatusOmitted_DefaultsToPending()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);

        var created = await api.PostAsync("/orders", new { userId, productId, quantity = 1 });

        Assert.Equal("pending", ApiAssert.Json(created, HttpStatusCode.Created).GetProperty("status").GetString());
        var fetched = ApiAssert.Json(await api.GetAsync(created.Location!), HttpStatusCode.OK);
        Assert.Equal("pending", fetched.GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("pending")]
    [InlineData("paid")]
    [InlineData("shipped")]
    [InlineData("cancelled")]
    public async Task Create_EachStatus_Returns201(string status)
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);

        var response = await api.PostAsync("/orders", new { userId, productId, quantity = 1, status });

        Assert.Equal(status, ApiAssert.Json(response, HttpStatusCode.Created).GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("\"done\"")]
    [InlineData("\"PAID\"")]
    [InlineData("\"\"")]
    [InlineData("1")]
    public async Task Create_InvalidStatus_Returns400NamingStatus(string status)
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);

        var response = await api.PostAsync("/orders", $"{{\"userId\": {userId}, \"productId\": {productId}, \"quantity\": 1, \"status\": {status}}}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "status");
        Assert.Empty(await OrdersOfUserAsync(api, userId));
    }

    [Fact]
    public async Task Create_ThenGetLocation_ReturnsSameOrder()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var created = await api.PostAsync("/orders", new { userId, productId, quantity = 2 });
        Assert.Equal(HttpStatusCode.Created, created.Status);

        var fetched = await api.GetAsync(created.Location!);

        Assert.Equal(created.Json.GetRawText(), ApiAssert.Json(fetched, HttpStatusCode.OK).GetRawText());
    }

    [Fact]
    public async Task Create_UnknownUser_Returns422NamingUserId()
    {
        var api = new BatchApi(fixture.Http);
        var productId = await api.CreateProductAsync();

        var response = await api.PostAsync("/orders", new { userId = MissingId, productId, quantity = 1 });

        ApiAssert.Problem(response, HttpStatusCode.UnprocessableEntity, "missing-reference", "userId");
    }

    [Fact]
    public async Task Create_UnknownProduct_Returns422NamingProductId()
    {
        var api = new BatchApi(fixture.Http);
        var userId = await api.CreateUserAsync();

        var response = await api.PostAsync("/orders", new { userId, productId = MissingId, quantity = 1 });

        ApiAssert.Problem(response, HttpStatusCode.UnprocessableEntity, "missing-reference", "productId");
        Assert.Empty(await OrdersOfUserAsync(api, userId));
    }

    [Fact]
    public async Task Create_DeletedUser_Returns422NamingUserId()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        Assert.Equal(HttpStatusCode.NoContent, (await api.DeleteAsync($"/users/{userId}")).Status);

        var response = await api.PostAsync("/orders", new { userId, productId, quantity = 1 });

        ApiAssert.Problem(response, HttpStatusCode.UnprocessableEntity, "missing-reference", "userId");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task Create_QuantityBelowOne_Returns400NamingQuantity(int quantity)
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);

        var response = await api.PostAsync("/orders", new { userId, productId, quantity });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "quantity");
        Assert.Empty(await OrdersOfUserAsync(api, userId));
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("\"2\"")]
    [InlineData("null")]
    public async Task Create_QuantityNotAWholeNumber_Returns400NamingQuantity(string quantity)
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);

        var response = await api.PostAsync("/orders", $"{{\"userId\": {userId}, \"productId\": {productId}, \"quantity\": {quantity}}}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "quantity");
    }

    [Fact]
    public async Task Create_MissingReferences_Returns400NamingEach()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/orders", new { quantity = 1 });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "productId", "userId");
    }

    [Fact]
    public async Task Create_UserIdNotANumber_Returns400NamingUserId()
    {
        var api = new BatchApi(fixture.Http);
        var productId = await api.CreateProductAsync();

        var response = await api.PostAsync("/orders", new { userId = "1", productId, quantity = 1 });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "userId");
    }

    [Fact]
    public async Task Create_MalformedJson_Returns400()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/orders", "{\"userId\": 1 \"productId\": 2}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "malformed-body");
    }

    [Fact]
    public async Task Create_BodyIsJsonArray_Returns400()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);

        var response = await api.PostAsync("/orders", $"[{{\"userId\": {userId}, \"productId\": {productId}, \"quantity\": 1}}]");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "malformed-body");
        Assert.Empty(await OrdersOfUserAsync(api, userId));
    }

    // ---------------------------------------------------------------- GET /orders/{id}

    [Fact]
    public async Task Get_Existing_Returns200()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var order = ApiAssert.Json(await api.GetAsync($"/orders/{id}"), HttpStatusCode.OK);

        Assert.Equal(id, order.GetProperty("id").GetInt64());
        Assert.Equal(userId, order.GetProperty("userId").GetInt64());
        Assert.Equal(productId, order.GetProperty("productId").GetInt64());
        Assert.Equal(1, order.GetProperty("quantity").GetInt32());
    }

    [Theory]
    [InlineData("999999999999")]
    [InlineData("abc")]
    public async Task Get_UnknownOrInvalidId_Returns404(string id)
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.GetAsync($"/orders/{id}");

        ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
    }

    // ---------------------------------------------------------------- PUT /orders/{id}

    [Fact]
    public async Task Put_ReplacesEveryField_Returns200()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);
        var (otherUser, otherProduct) = await PrerequisitesAsync(api);

        var response = await api.PutAsync($"/orders/{id}", new { userId = otherUser, productId = otherProduct, quantity = 9, status = "paid" });

        var order = ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Equal(id, order.GetProperty("id").GetInt64());
        Assert.Equal(otherUser, order.GetProperty("userId").GetInt64());
        Assert.Equal(otherProduct, order.GetProperty("productId").GetInt64());
        Assert.Equal(9, order.GetProperty("quantity").GetInt32());
        Assert.Equal("paid", order.GetProperty("status").GetString());
        Assert.Equal(order.GetRawText(), ApiAssert.Json(await api.GetAsync($"/orders/{id}"), HttpStatusCode.OK).GetRawText());
    }

    [Fact]
    public async Task Put_Unknown_Returns404()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);

        var response = await api.PutAsync($"/orders/{MissingId}", new { userId, productId, quantity = 1, status = "paid" });

        ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Put_MissingStatus_Returns400NamingStatus()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var response = await api.PutAsync($"/orders/{id}", new { userId, productId, quantity = 2 });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "status");
        Assert.Equal(1, ApiAssert.Json(await api.GetAsync($"/orders/{id}"), HttpStatusCode.OK).GetProperty("quantity").GetInt32());
    }

    [Fact]
    public async Task Put_UnknownUser_Returns422NamingUserIdAndKeepsOrder()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var response = await api.PutAsync($"/orders/{id}", new { userId = MissingId, productId, quantity = 1, status = "paid" });

        ApiAssert.Problem(response, HttpStatusCode.UnprocessableEntity, "missing-reference", "userId");
        var order = ApiAssert.Json(await api.GetAsync($"/orders/{id}"), HttpStatusCode.OK);
        Assert.Equal(userId, order.GetProperty("userId").GetInt64());
        Assert.Equal("pending", order.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Put_UnknownProduct_Returns422NamingProductId()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var response = await api.PutAsync($"/orders/{id}", new { userId, productId = MissingId, quantity = 1, status = "paid" });

        ApiAssert.Problem(response, HttpStatusCode.UnprocessableEntity, "missing-reference", "productId");
        Assert.Equal(productId, ApiAssert.Json(await api.GetAsync($"/orders/{id}"), HttpStatusCode.OK).GetProperty("productId").GetInt64());
    }

    [Fact]
    public async Task Put_InvalidStatus_Returns400NamingStatus()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var response = await api.PutAsync($"/orders/{id}", new { userId, productId, quantity = 1, status = "lost" });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "status");
    }

    // ---------------------------------------------------------------- PATCH /orders/{id}

    [Fact]
    public async Task Patch_StatusToShipped_ChangesOnlyStatus()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var created = ApiAssert.Json(await api.PostAsync("/orders", new { userId, productId, quantity = 4 }), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetInt64();

        var response = await api.PatchAsync($"/orders/{id}", new { status = "shipped" });

        var order = ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Equal("shipped", order.GetProperty("status").GetString());
        Assert.Equal(userId, order.GetProperty("userId").GetInt64());
        Assert.Equal(productId, order.GetProperty("productId").GetInt64());
        Assert.Equal(4, order.GetProperty("quantity").GetInt32());
        foreach (var property in created.EnumerateObject().Where(p => p.Name != "status"))
        {
            Assert.Equal(property.Value.GetRawText(), order.GetProperty(property.Name).GetRawText());
        }

        Assert.Equal("shipped", ApiAssert.Json(await api.GetAsync($"/orders/{id}"), HttpStatusCode.OK).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Patch_Quantity_ChangesOnlyQuantity()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var order = ApiAssert.Json(await api.PatchAsync($"/orders/{id}", new { quantity = 12 }), HttpStatusCode.OK);

        Assert.Equal(12, order.GetProperty("quantity").GetInt32());
        Assert.Equal("pending", order.GetProperty("status").GetString());
        Assert.Equal(userId, order.GetProperty("userId").GetInt64());
    }

    [Fact]
    public async Task Patch_InvalidStatus_Returns400NamingStatusAndKeepsStatus()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var response = await api.PatchAsync($"/orders/{id}", new { status = "delivered" });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "status");
        Assert.Equal("pending", ApiAssert.Json(await api.GetAsync($"/orders/{id}"), HttpStatusCode.OK).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Patch_NullStatus_Returns400NamingStatus()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var response = await api.PatchAsync($"/orders/{id}", "{\"status\": null}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "status");
    }

    [Fact]
    public async Task Patch_QuantityZero_Returns400NamingQuantity()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var response = await api.PatchAsync($"/orders/{id}", new { quantity = 0 });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "quantity");
        Assert.Equal(1, ApiAssert.Json(await api.GetAsync($"/orders/{id}"), HttpStatusCode.OK).GetProperty("quantity").GetInt32());
    }

    [Fact]
    public async Task Patch_UnknownUser_Returns422NamingUserIdAndKeepsOrder()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var response = await api.PatchAsync($"/orders/{id}", new { userId = MissingId });

        ApiAssert.Problem(response, HttpStatusCode.UnprocessableEntity, "missing-reference", "userId");
        Assert.Equal(userId, ApiAssert.Json(await api.GetAsync($"/orders/{id}"), HttpStatusCode.OK).GetProperty("userId").GetInt64());
    }

    [Fact]
    public async Task Patch_UnknownProduct_Returns422NamingProductId()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        var response = await api.PatchAsync($"/orders/{id}", new { productId = MissingId });

        ApiAssert.Problem(response, HttpStatusCode.UnprocessableEntity, "missing-reference", "productId");
        Assert.Equal(productId, ApiAssert.Json(await api.GetAsync($"/orders/{id}"), HttpStatusCode.OK).GetProperty("productId").GetInt64());
    }

    [Fact]
    public async Task Patch_Unknown_Returns404()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PatchAsync($"/orders/{MissingId}", new { status = "shipped" });

        ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
    }

    // ---------------------------------------------------------------- DELETE /orders/{id}

    [Fact]
    public async Task Delete_Existing_Returns204ThenGetAndDeleteReturn404()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var id = await api.CreateOrderAsync(userId, productId);

        ApiAssert.Empty(await api.DeleteAsync($"/orders/{id}"), HttpStatusCode.NoContent);

        ApiAssert.Problem(await api.GetAsync($"/orders/{id}"), HttpStatusCode.NotFound, "not-found");
        ApiAssert.Problem(await api.DeleteAsync($"/orders/{id}"), HttpStatusCode.NotFound, "not-found");
    }

    // ---------------------------------------------------------------- references from orders

    [Fact]
    public async Task DeleteUser_ReferencedByOrder_Returns409AndUserRemains()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var orderId = await api.CreateOrderAsync(userId, productId);

        var response = await api.DeleteAsync($"/users/{userId}");

        ApiAssert.Problem(response, HttpStatusCode.Conflict, "conflict", "id");
        ApiAssert.Json(await api.GetAsync($"/users/{userId}"), HttpStatusCode.OK);
        ApiAssert.Json(await api.GetAsync($"/orders/{orderId}"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task DeleteProduct_ReferencedByOrder_Returns409AndProductRemains()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var orderId = await api.CreateOrderAsync(userId, productId);

        var response = await api.DeleteAsync($"/products/{productId}");

        ApiAssert.Problem(response, HttpStatusCode.Conflict, "conflict", "id");
        ApiAssert.Json(await api.GetAsync($"/products/{productId}"), HttpStatusCode.OK);
        ApiAssert.Json(await api.GetAsync($"/orders/{orderId}"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task DeleteUserAndProduct_AfterTheirOrderIsDeleted_Return204()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var orderId = await api.CreateOrderAsync(userId, productId);
        Assert.Equal(HttpStatusCode.NoContent, (await api.DeleteAsync($"/orders/{orderId}")).Status);

        ApiAssert.Empty(await api.DeleteAsync($"/users/{userId}"), HttpStatusCode.NoContent);
        ApiAssert.Empty(await api.DeleteAsync($"/products/{productId}"), HttpStatusCode.NoContent);
    }

    // ---------------------------------------------------------------- GET /orders

    [Fact]
    public async Task List_ByUserId_ReturnsOnlyThatUsersOrders()
    {
        var api = new BatchApi(fixture.Http);
        var (userId, productId) = await PrerequisitesAsync(api);
        var otherUser = await api.CreateUserAsync();
        long[] mine = [await api.CreateOrderAsync(userId, productId), await api.CreateOrderAsync(userId, productId)];
        await api.CreateOrderAsync(otherUser, productId);

        Assert.Equal(mine, await OrdersOfUserAsync(api, userId));
    }

    [Theory]
    [InlineData("userId=0")]
    [InlineData("userId=x")]
    [InlineData("status=lost")]
    [InlineData("limit=0")]
    public async Task List_BadQuery_Returns400NamingParameter(string query)
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.GetAsync($"/orders?{query}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", query[..query.IndexOf('=', StringComparison.Ordinal)]);
    }

    // ---------------------------------------------------------------- unsupported methods

    [Fact]
    public async Task Collection_Delete_Returns405WithAllowed()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.DeleteAsync("/orders");

        var problem = ApiAssert.Problem(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(["GET", "POST"], problem.GetProperty("allowed").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task Item_Post_Returns405WithAllowed()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/orders/1", new { quantity = 1 });

        var problem = ApiAssert.Problem(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(["GET", "PUT", "PATCH", "DELETE"], problem.GetProperty("allowed").EnumerateArray().Select(m => m.GetString()));
    }

    private static async Task<(long UserId, long ProductId)> PrerequisitesAsync(BatchApi api) =>
        (await api.CreateUserAsync(), await api.CreateProductAsync());

    private static async Task<long[]> OrdersOfUserAsync(BatchApi api, long userId)
    {
        var page = ApiAssert.Json(await api.GetAsync($"/orders?userId={userId}"), HttpStatusCode.OK);
        return page.GetProperty("items").EnumerateArray().Select(o => o.GetProperty("id").GetInt64()).ToArray();
    }
}
