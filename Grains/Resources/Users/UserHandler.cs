
namespace Orleans.Batch.Grains.Resources.Users;

public sealed class UserHandler
    : ResourceHandler<User, UserFields>
{
    public const int MaxEmailLength = 254;
    public const int MaxNameLength = 200;

    private const string Select = "id, email, name, created_at AS createdat";

    public override string Collection => "users";

    protected override string Noun => "user";

    protected override string Columns => Select;

    protected override string InsertSql => $"INSERT INTO users (tenant_id, email, name) VALUES (@Tenant, @Email, @Name) RETURNING {Select}";

    protected override string UpdateSql =>
        $"UPDATE users SET email = COALESCE(@Email, email), name = COALESCE(@Name, name) WHERE tenant_id = @Tenant AND id = @Id RETURNING {Select}";

    protected override IReadOnlyDictionary<string, (string Field, string Message)> Constraints { get; } =
        new Dictionary<string, (string, string)>
        {
            ["ux_users_email"] = ("email", "A user with this email already exists."),
        };

    protected override BulkInsert Bulk { get; } = new(
        "users", "unnest(@Ords, @Emails, @Names) AS t(ord, email, name)", "email, name", alias => $"lower({alias}.email)", Select,
        rows => new
        {
            Ords = rows.Select(r => r.Ord).ToArray(),
            Emails = rows.Select(r => ((UserFields)r.Fields).Email).ToArray(),
            Names = rows.Select(r => ((UserFields)r.Fields).Name).ToArray(),
        },
        "ux_users_email", "email", fields => ((UserFields)fields).Email!,
        "id, created_at",
        (row, first, fields) => new User(row.GetInt64(first), ((UserFields)fields).Email!, ((UserFields)fields).Name!, row.GetDateTime(first + 1)));

    protected override BulkUpdate BulkUpdate { get; } = new(
        $"""
        UPDATE users AS t SET email = COALESCE(u.new_email, t.email), name = COALESCE(u.new_name, t.name)
        FROM unnest(@Ids, @Emails, @Names) AS u(row_id, new_email, new_name)
        WHERE t.tenant_id = @Tenant AND t.id = u.row_id RETURNING {Select}
        """,
        rows => new
        {
            Ids = rows.Select(r => r.Id).ToArray(),
            Emails = rows.Select(r => ((UserFields)r.Fields).Email).ToArray(),
            Names = rows.Select(r => ((UserFields)r.Fields).Name).ToArray(),
        },
        new UniqueKey("email", column => $"lower({column})", fields => ((UserFields)fields).Email, "ux_users_email"));

    protected override IReadOnlyList<ListFilter> Filters { get; } =
        [ListFilter.Text("email", "lower(email) = lower(@email)")];

    public override StagedCreate Staged { get; } = new("users", "email, name", "j->>'email', j->>'name'");

    protected override string?[] StagedColumns(UserFields fields) => [fields.Email, fields.Name];

    protected override User Created(UserFields fields, long id, DateTime createdAt) => new(id, fields.Email!, fields.Name!, createdAt);

    protected override string FieldList => "email, name";

    protected override UserFields ReadFields(FieldReader fields, bool creating)
    {
        var email = fields.String("email", MaxEmailLength);
        if (email is not null && !EmailAddress.IsValid(email))
        {
            fields.AddError("email", "Must be an email address like name@example.com.");
        }

        return new UserFields(email, fields.String("name", MaxNameLength));
    }

    protected override long IdOf(User entity) => entity.Id;
}
