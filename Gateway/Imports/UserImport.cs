using System.Text.Json;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Gateway.Imports;

/// <summary>Turns the data rows of a users CSV (<c>email,name</c>) into create-user operations <c>row-N</c>.</summary>
internal static class UserImport
{
    public static readonly string[] Columns = ["email", "name"];

    public static BatchItem ToItem(string batchId, long row, CsvRecord record)
    {
        var id = $"row-{row}";
        if (record.Fields.Count != Columns.Length)
        {
            var problem = JsonSerializer.Serialize(new
            {
                type = "urn:orleans-batch:problem:malformed-row",
                title = "The row is not a user.",
                status = 400,
                detail = $"Line {record.Line} has {record.Fields.Count} fields; a row needs exactly {Columns.Length}: {string.Join(",", Columns)}.",
            });
            return new BatchItem(new OperationRequest(id, "POST", "/users", null, null, batchId), record.Fields, new OperationResult(id, 400, problem, null));
        }

        var body = JsonSerializer.Serialize(new { email = record.Fields[0], name = record.Fields[1] });
        return new BatchItem(new OperationRequest(id, "POST", "/users", body, null, batchId), record.Fields);
    }
}
