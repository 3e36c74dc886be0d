
namespace Orleans.Batch.Grains.Resources.Products;

public sealed class ProductHandler
    : ResourceHandler<Product, ProductFields>
{
    public const int MaxSkuLength = 64;
    public const int MaxNameLength = 200;
    public const decimal MaxPrice = 1_000_000_000m;

    private const string Select = "id, sku, name, price";

    public override string Collection => "products";

    protected override string Noun => "product";

    protected override string Columns => Select;

    protected override string InsertSql =>
        $"INSERT INTO products (tenant_id, sku, name, price) VALUES (@Tenant, @Sku, @Name, @Price) RETURNING {Select}";

    protected override string UpdateSql =>
        $"UPDATE products SET sku = COALESCE(@Sku, sku), name = COALESCE(@Name, name), price = COALESCE(@Price, price) WHERE tenant_id = @Tenant AND id = @Id RETURNING {Select}";

    protected override IReadOnlyDictionary<string, (string Field, string Message)> Constraints { get; } =
        new Dictionary<string, (string, string)>
        {
            ["ux_products_sku"] = ("sku", "A product with this sku already exists."),
            ["ck_products_price"] = ("price", "Must be at least 0."),
        };

    protected override IReadOnlyList<ListFilter> Filters { get; } = [ListFilter.Text("sku", "sku = @sku")];

    protected override BulkInsert Bulk { get; } = new(
        "products", "unnest(@Ords, @Skus, @Names, @Prices) AS t(ord, sku, name, price)", "sku, name, price", alias => $"{alias}.sku", Select,
        rows => new
        {
            Ords = rows.Select(r => r.Ord).ToArray(),
            Skus = rows.Select(r => ((ProductFields)r.Fields).Sku).ToArray(),
            Names = rows.Select(r => ((ProductFields)r.Fields).Name).ToArray(),
            Prices = rows.Select(r => ((ProductFields)r.Fields).Price!.Value).ToArray(),
        },
        "ux_products_sku", "sku", fields => ((ProductFields)fields).Sku!,
        "id",
        (row, first, fields) => new Product(
            row.GetInt64(first), ((ProductFields)fields).Sku!, ((ProductFields)fields).Name!, ((ProductFields)fields).Price!.Value));

    protected override BulkUpdate BulkUpdate { get; } = new(
        $"""
        UPDATE products AS t
        SET sku = COALESCE(u.new_sku, t.sku), name = COALESCE(u.new_name, t.name), price = COALESCE(u.new_price, t.price)
        FROM unnest(@Ids, @Skus, @Names, @Prices) AS u(row_id, new_sku, new_name, new_price)
        WHERE t.tenant_id = @Tenant AND t.id = u.row_id RETURNING {Select}
        """,
        rows => new
        {
            Ids = rows.Select(r => r.Id).ToArray(),
            Skus = rows.Select(r => ((ProductFields)r.Fields).Sku).ToArray(),
            Names = rows.Select(r => ((ProductFields)r.Fields).Name).ToArray(),
            Prices = rows.Select(r => ((ProductFields)r.Fields).Price).ToArray(),
        },
        new UniqueKey("sku", column => column, fields => ((ProductFields)fields).Sku, "ux_products_sku"));

    protected override string FieldList => "sku, name, price";

    protected override ProductFields ReadFields(FieldReader fields, bool creating) => new(
        fields.String("sku", MaxSkuLength),
        fields.String("name", MaxNameLength),
        fields.Decimal("price", 0m, MaxPrice));

    protected override long IdOf(Product entity) => entity.Id;
}
