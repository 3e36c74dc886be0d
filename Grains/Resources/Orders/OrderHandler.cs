
namespace Orleans.Batch.Grains.Resources.Orders;

public sealed class OrderHandler
    : ResourceHandler<Order, OrderFields>
{
    public const int MaxQuantity = 1_000_000;

    public static IReadOnlyList<string> Statuses { get; } = ["pending", "paid", "shipped", "cancelled"];

    private const string Select =
        "id, user_id AS userid, product_id AS productid, quantity, status, created_at AS createdat";

    public override string Collection => "orders";

    protected override string Noun => "order";

    protected override string Columns => Select;

    protected override string InsertSql =>
        $"INSERT INTO orders (tenant_id, user_id, product_id, quantity, status) VALUES (@Tenant, @UserId, @ProductId, @Quantity, COALESCE(@Status, 'pending')) RETURNING {Select}";

    protected override string UpdateSql =>
        $"""
        UPDATE orders SET user_id = COALESCE(@UserId, user_id), product_id = COALESCE(@ProductId, product_id),
            quantity = COALESCE(@Quantity, quantity), status = COALESCE(@Status, status)
        WHERE tenant_id = @Tenant AND id = @Id RETURNING {Select}
        """;

    protected override IReadOnlyDictionary<string, (string Field, string Message)> Constraints { get; } =
        new Dictionary<string, (string, string)>
        {
            ["fk_orders_user"] = ("userId", "No user has this id."),
            ["fk_orders_product"] = ("productId", "No product has this id."),
            ["ck_orders_quantity"] = ("quantity", "Must be at least 1."),
            ["ck_orders_status"] = ("status", "Must be one of pending, paid, shipped, cancelled."),
        };

    protected override IReadOnlyList<ListFilter> Filters { get; } =
    [
        ListFilter.Id("userId", "user_id = @userId"),
        ListFilter.Id("productId", "product_id = @productId"),
        new("status", "status = @status", raw => Statuses.Contains(raw) ? raw : null, "Must be one of pending, paid, shipped, cancelled."),
    ];

    /// <summary>Without a unique value to check: a missing reference fails the statement, and its items run one by one.</summary>
    protected override BulkUpdate BulkUpdate { get; } = new(
        $"""
        UPDATE orders AS t SET user_id = COALESCE(u.new_user_id, t.user_id), product_id = COALESCE(u.new_product_id, t.product_id),
            quantity = COALESCE(u.new_quantity, t.quantity), status = COALESCE(u.new_status, t.status)
        FROM unnest(@Ids, @UserIds, @ProductIds, @Quantities, @Statuses) AS u(row_id, new_user_id, new_product_id, new_quantity, new_status)
        WHERE t.tenant_id = @Tenant AND t.id = u.row_id RETURNING {Select}
        """,
        rows => new
        {
            Ids = rows.Select(r => r.Id).ToArray(),
            UserIds = rows.Select(r => ((OrderFields)r.Fields).UserId).ToArray(),
            ProductIds = rows.Select(r => ((OrderFields)r.Fields).ProductId).ToArray(),
            Quantities = rows.Select(r => ((OrderFields)r.Fields).Quantity).ToArray(),
            Statuses = rows.Select(r => ((OrderFields)r.Fields).Status).ToArray(),
        });

    protected override string FieldList => "userId, productId, quantity, status";

    protected override OrderFields ReadFields(FieldReader fields, bool creating)
    {
        var userId = fields.Int64("userId", 1);
        var productId = fields.Int64("productId", 1);
        var quantity = (int?)fields.Int64("quantity", 1, MaxQuantity);
        var status = creating ? fields.OptionalString("status", 20) : fields.String("status", 20);
        if (status is not null && !Statuses.Contains(status))
        {
            fields.AddError("status", $"Must be one of {string.Join(", ", Statuses)}.");
            status = null;
        }

        return new OrderFields(userId, productId, quantity, status);
    }

    protected override long IdOf(Order entity) => entity.Id;
}
