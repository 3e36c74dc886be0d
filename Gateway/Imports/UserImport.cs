using System.Buffers;
using System.Text.Json;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Gateway.Imports;

/// <summary>Turns the data rows of a users CSV (<c>email,name</c>) into create-user operations <c>row-N</c>.</summary>
internal static class UserImport
{
    public static readonly string[] Columns = ["email", "name"];

    /// <summary>What a JSON string cannot hold as itself: a quote, a backslash, a control character.</summary>
    private static readonly SearchValues<char> Escaped = SearchValues.Create(
        "\"\\" + string.Concat(Enumerable.Range(0, 0x20).Select(c => (char)c)));

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

        // The row's input is its body's fields (BatchItemSlice.SourceFields): stored once, in the body.
        return new BatchItem(new OperationRequest(id, "POST", "/users", Body(record.Fields[0], record.Fields[1]), null, batchId), null);
    }

    /// <summary>
    /// The create's JSON body. Fields with nothing to escape, nearly every row, are written as they are, without
    /// the serializer's per-row reflection; the others go through the serializer.
    /// </summary>
    internal static string Body(string email, string name) =>
        email.AsSpan().ContainsAny(Escaped) || name.AsSpan().ContainsAny(Escaped)
            ? JsonSerializer.Serialize(new { email, name })
            : string.Concat(["{\"email\":\"", email, "\",\"name\":\"", name, "\"}"]);
}
