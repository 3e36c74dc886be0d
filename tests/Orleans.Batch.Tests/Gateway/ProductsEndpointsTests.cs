using System.Globalization;
using System.Net;
using System.Text.Json;
using Orleans.Batch.Tests.Infrastructure;

namespace Orleans.Batch.Tests.Gateway;

/// <summary>The single-resource API of <c>/products</c>, over HTTP against the real gateway.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ProductsEndpointsTests(ClusterFixture fixture)
{
    // ---------------------------------------------------------------- POST /products

    [Fact]
    public async Task Create_Valid_Returns201WithLocationAndBody()
    {
        var api = new BatchApi(fixture.Http);
        var sku = Unique.Sku();

        var response = await api.PostAsync("/products", new { sku, name = "Gadget", price = 12.5m });

        var product = ApiAssert.Json(response, HttpStatusCode.Created);
        var id = product.GetProperty("id").GetInt64();
        Assert.True(id > 0);
        Assert.Equal($"/products/{id}", response.Location);
        Assert.Equal(sku, product.GetProperty("sku").GetString());
        Assert.Equal("Gadget", product.GetProperty("name").GetString());
        Assert.Equal(12.5m, product.GetProperty("price").GetDecimal());
    }

    [Fact]
    public async Task Create_ResponseUsesCamelCasePropertyNames()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", new { sku = Unique.Sku(), name = "Camel", price = 1m });

        var product = ApiAssert.Json(response, HttpStatusCode.Created);
        Assert.Equal(["id", "name", "price", "sku"], ApiAssert.PropertyNames(product).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Create_ThenGetLocation_ReturnsSameProduct()
    {
        var api = new BatchApi(fixture.Http);
        var created = await api.PostAsync("/products", new { sku = Unique.Sku(), name = "Round Trip", price = 3m });
        Assert.Equal(HttpStatusCode.Created, created.Status);

        var fetched = await api.GetAsync(created.Location!);

        Assert.Equal(created.Json.GetRawText(), ApiAssert.Json(fetched, HttpStatusCode.OK).GetRawText());
    }

    [Theory]
    [InlineData("19.99")]
    [InlineData("0.01")]
    [InlineData("1234567.89")]
    [InlineData("0.333333")]
    [InlineData("1000000000")]
    public async Task Create_DecimalPrice_RoundTripsExactly(string text)
    {
        var api = new BatchApi(fixture.Http);
        var price = decimal.Parse(text, CultureInfo.InvariantCulture);

        var created = await api.PostAsync("/products", new { sku = Unique.Sku(), name = "Priced", price });

        var product = ApiAssert.Json(created, HttpStatusCode.Created);
        Assert.Equal(text, product.GetProperty("price").GetRawText());
        var fetched = ApiAssert.Json(await api.GetAsync(created.Location!), HttpStatusCode.OK);
        Assert.Equal(price, fetched.GetProperty("price").GetDecimal());
        Assert.Equal(text, fetched.GetProperty("price").GetRawText());
    }

    [Fact]
    public async Task Create_ZeroPrice_Returns201()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", new { sku = Unique.Sku(), name = "Free", price = 0 });

        var product = ApiAssert.Json(response, HttpStatusCode.Created);
        Assert.Equal(0m, product.GetProperty("price").GetDecimal());
    }

    [Theory]
    [InlineData("-0.01")]
    [InlineData("-1")]
    [InlineData("-1000")]
    public async Task Create_NegativePrice_Returns400NamingPrice(string price)
    {
        var api = new BatchApi(fixture.Http);
        var sku = Unique.Sku();

        var response = await api.PostAsync("/products", $"{{\"sku\": \"{sku}\", \"name\": \"Negative\", \"price\": {price}}}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "price");
        var found = ApiAssert.Json(await api.GetAsync($"/products?sku={sku}"), HttpStatusCode.OK);
        Assert.Empty(found.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task Create_PriceAboveMaximum_Returns400NamingPrice()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", new { sku = Unique.Sku(), name = "Dear", price = 1_000_000_000.01m });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "price");
    }

    [Theory]
    [InlineData("\"19.99\"")]
    [InlineData("\"free\"")]
    [InlineData("true")]
    [InlineData("[1]")]
    [InlineData("{}")]
    public async Task Create_PriceNotANumber_Returns400NamingPrice(string price)
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", $"{{\"sku\": \"{Unique.Sku()}\", \"name\": \"Typed\", \"price\": {price}}}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "price");
    }

    [Fact]
    public async Task Create_MissingPrice_Returns400NamingPrice()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", new { sku = Unique.Sku(), name = "Unpriced" });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "price");
    }

    [Fact]
    public async Task Create_MissingSku_Returns400NamingSku()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", new { name = "No Sku", price = 1m });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "sku");
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"   \"")]
    [InlineData("null")]
    [InlineData("7")]
    public async Task Create_BlankOrWrongTypeSku_Returns400NamingSku(string sku)
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", $"{{\"sku\": {sku}, \"name\": \"Bad Sku\", \"price\": 1}}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "sku");
    }

    [Fact]
    public async Task Create_SkuOf65Characters_Returns400NamingSku()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", new { sku = Unique.Sku().PadRight(65, 'X'), name = "Long Sku", price = 1m });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "sku");
    }

    [Fact]
    public async Task Create_DuplicateSku_Returns409NamingSku()
    {
        var api = new BatchApi(fixture.Http);
        var sku = Unique.Sku();
        Assert.Equal(HttpStatusCode.Created, (await api.PostAsync("/products", new { sku, name = "First", price = 1m })).Status);

        var response = await api.PostAsync("/products", new { sku, name = "Second", price = 2m });

        ApiAssert.Problem(response, HttpStatusCode.Conflict, "conflict", "sku");
        var found = ApiAssert.Json(await api.GetAsync($"/products?sku={sku}"), HttpStatusCode.OK);
        Assert.Equal("First", Assert.Single(found.GetProperty("items").EnumerateArray()).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Create_MissingName_Returns400NamingName()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", new { sku = Unique.Sku(), price = 1m });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "name");
    }

    [Fact]
    public async Task Create_EmptyObject_NamesEveryRequiredField()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", "{}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "name", "price", "sku");
    }

    [Fact]
    public async Task Create_MalformedJson_Returns400()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", "{\"sku\": \"A\", \"price\": 1,");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "malformed-body");
    }

    [Fact]
    public async Task Create_BodyIsJsonArray_Returns400()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PostAsync("/products", $"[{{\"sku\": \"{Unique.Sku()}\", \"name\": \"A\", \"price\": 1}}]");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "malformed-body");
    }

    // ---------------------------------------------------------------- GET /products/{id}

    [Fact]
    public async Task Get_Existing_Returns200()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync(4.25m);

        var product = ApiAssert.Json(await api.GetAsync($"/products/{id}"), HttpStatusCode.OK);

        Assert.Equal(id, product.GetProperty("id").GetInt64());
        Assert.Equal("Widget", product.GetProperty("name").GetString());
        Assert.Equal(4.25m, product.GetProperty("price").GetDecimal());
    }

    [Theory]
    [InlineData("999999999999")]
    [InlineData("abc")]
    [InlineData("0")]
    public async Task Get_UnknownOrInvalidId_Returns404(string id)
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.GetAsync($"/products/{id}");

        ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
    }

    // ---------------------------------------------------------------- PUT /products/{id}

    [Fact]
    public async Task Put_ReplacesEveryField_Returns200()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync();
        var sku = Unique.Sku();

        var response = await api.PutAsync($"/products/{id}", new { sku, name = "Replaced", price = 19.99m });

        var product = ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Equal(id, product.GetProperty("id").GetInt64());
        Assert.Equal(sku, product.GetProperty("sku").GetString());
        Assert.Equal("Replaced", product.GetProperty("name").GetString());
        Assert.Equal(19.99m, product.GetProperty("price").GetDecimal());
        Assert.Equal(product.GetRawText(), ApiAssert.Json(await api.GetAsync($"/products/{id}"), HttpStatusCode.OK).GetRawText());
    }

    [Fact]
    public async Task Put_Unknown_Returns404()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PutAsync("/products/999999999999", new { sku = Unique.Sku(), name = "Nothing", price = 1m });

        ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task Put_MissingPrice_Returns400NamingPriceAndKeepsProduct()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync(7m);

        var response = await api.PutAsync($"/products/{id}", new { sku = Unique.Sku(), name = "No Price" });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "price");
        var product = ApiAssert.Json(await api.GetAsync($"/products/{id}"), HttpStatusCode.OK);
        Assert.Equal("Widget", product.GetProperty("name").GetString());
        Assert.Equal(7m, product.GetProperty("price").GetDecimal());
    }

    [Fact]
    public async Task Put_SkuOfAnotherProduct_Returns409NamingSku()
    {
        var api = new BatchApi(fixture.Http);
        var taken = Unique.Sku();
        Assert.Equal(HttpStatusCode.Created, (await api.PostAsync("/products", new { sku = taken, name = "Owner", price = 1m })).Status);
        var id = await api.CreateProductAsync();

        var response = await api.PutAsync($"/products/{id}", new { sku = taken, name = "Thief", price = 1m });

        ApiAssert.Problem(response, HttpStatusCode.Conflict, "conflict", "sku");
    }

    [Fact]
    public async Task Put_NegativePrice_Returns400NamingPrice()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync();

        var response = await api.PutAsync($"/products/{id}", new { sku = Unique.Sku(), name = "Negative", price = -5m });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "price");
    }

    // ---------------------------------------------------------------- PATCH /products/{id}

    [Fact]
    public async Task Patch_Price_ChangesOnlyPrice()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync(1m);
        var before = ApiAssert.Json(await api.GetAsync($"/products/{id}"), HttpStatusCode.OK);

        var response = await api.PatchAsync($"/products/{id}", new { price = 19.99m });

        var product = ApiAssert.Json(response, HttpStatusCode.OK);
        Assert.Equal(19.99m, product.GetProperty("price").GetDecimal());
        Assert.Equal(before.GetProperty("sku").GetString(), product.GetProperty("sku").GetString());
        Assert.Equal(before.GetProperty("name").GetString(), product.GetProperty("name").GetString());
        Assert.Equal(product.GetRawText(), ApiAssert.Json(await api.GetAsync($"/products/{id}"), HttpStatusCode.OK).GetRawText());
    }

    [Fact]
    public async Task Patch_ZeroPrice_Returns200()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync(5m);

        var response = await api.PatchAsync($"/products/{id}", new { price = 0 });

        Assert.Equal(0m, ApiAssert.Json(response, HttpStatusCode.OK).GetProperty("price").GetDecimal());
    }

    [Fact]
    public async Task Patch_NegativePrice_Returns400NamingPriceAndKeepsPrice()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync(5m);

        var response = await api.PatchAsync($"/products/{id}", new { price = -0.01m });

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "price");
        var product = ApiAssert.Json(await api.GetAsync($"/products/{id}"), HttpStatusCode.OK);
        Assert.Equal(5m, product.GetProperty("price").GetDecimal());
    }

    [Fact]
    public async Task Patch_PriceAsString_Returns400NamingPrice()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync();

        var response = await api.PatchAsync($"/products/{id}", "{\"price\": \"3.50\"}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "price");
    }

    [Fact]
    public async Task Patch_NullSku_Returns400NamingSku()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync();

        var response = await api.PatchAsync($"/products/{id}", "{\"sku\": null}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "sku");
    }

    [Fact]
    public async Task Patch_SkuOfAnotherProduct_Returns409NamingSku()
    {
        var api = new BatchApi(fixture.Http);
        var taken = Unique.Sku();
        Assert.Equal(HttpStatusCode.Created, (await api.PostAsync("/products", new { sku = taken, name = "Owner", price = 1m })).Status);
        var id = await api.CreateProductAsync();

        var response = await api.PatchAsync($"/products/{id}", new { sku = taken });

        ApiAssert.Problem(response, HttpStatusCode.Conflict, "conflict", "sku");
    }

    [Fact]
    public async Task Patch_Unknown_Returns404()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.PatchAsync("/products/999999999999", new { price = 1m });

        ApiAssert.Problem(response, HttpStatusCode.NotFound, "not-found");
    }

    // ---------------------------------------------------------------- DELETE /products/{id}

    [Fact]
    public async Task Delete_Existing_Returns204ThenGetAndDeleteReturn404()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync();

        ApiAssert.Empty(await api.DeleteAsync($"/products/{id}"), HttpStatusCode.NoContent);

        ApiAssert.Problem(await api.GetAsync($"/products/{id}"), HttpStatusCode.NotFound, "not-found");
        ApiAssert.Problem(await api.DeleteAsync($"/products/{id}"), HttpStatusCode.NotFound, "not-found");
    }

    // ---------------------------------------------------------------- GET /products

    [Fact]
    public async Task List_BySku_FindsProduct()
    {
        var api = new BatchApi(fixture.Http);
        var sku = Unique.Sku();
        var created = ApiAssert.Json(await api.PostAsync("/products", new { sku, name = "Listed", price = 2.5m }), HttpStatusCode.Created);

        var page = ApiAssert.Json(await api.GetAsync($"/products?sku={Uri.EscapeDataString(sku)}"), HttpStatusCode.OK);

        Assert.Equal(created.GetRawText(), Assert.Single(page.GetProperty("items").EnumerateArray()).GetRawText());
        Assert.Equal(JsonValueKind.Null, page.GetProperty("nextAfter").ValueKind);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1001")]
    [InlineData("x")]
    public async Task List_BadLimit_Returns400NamingLimit(string limit)
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.GetAsync($"/products?limit={limit}");

        ApiAssert.Problem(response, HttpStatusCode.BadRequest, "validation", "limit");
    }

    // ---------------------------------------------------------------- unsupported methods

    [Fact]
    public async Task Collection_Delete_Returns405WithAllowed()
    {
        var api = new BatchApi(fixture.Http);

        var response = await api.DeleteAsync("/products");

        var problem = ApiAssert.Problem(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(["GET", "POST"], problem.GetProperty("allowed").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task Item_Post_Returns405WithAllowed()
    {
        var api = new BatchApi(fixture.Http);
        var id = await api.CreateProductAsync();

        var response = await api.PostAsync($"/products/{id}", new { sku = Unique.Sku(), name = "x", price = 1m });

        var problem = ApiAssert.Problem(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
        Assert.Equal(["GET", "PUT", "PATCH", "DELETE"], problem.GetProperty("allowed").EnumerateArray().Select(m => m.GetString()));
    }
}
