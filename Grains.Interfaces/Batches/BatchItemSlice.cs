using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Wire;

namespace Orleans.Batch.Grains.Interfaces.Batches;

/// <summary>
/// Items of a batch encoded as one byte string: the consecutive items an upload adds to its batch, or the items of a
/// chunk the batch hands to a silo to run. The serializer then writes one value instead of a handful of objects and
/// strings per item, each of which it tracks by reference (most of the cost of handing an upload to its batch).
/// </summary>
/// <param name="SourceFields">
/// For the items without a <see cref="BatchItem.Source"/> of their own, the body's fields that are their input, in order
/// (an import row's body is its fields), so the input is stored once; null when every item's source is its own.
/// </param>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.BatchItemSlice")]
public sealed record BatchItemSlice([property: Id(0)] byte[] Encoded, [property: Id(1)] int Count, [property: Id(2)] string[]? SourceFields = null)
{
    private const byte HasBody = 1, HasHeaders = 2, HasBatchId = 4, HasKey = 8, HasSource = 16, IsRejected = 32;

    public static implicit operator BatchItemSlice(BatchItem[] items) => Of(items);

    public static implicit operator BatchItemSlice(List<BatchItem> items) => Of(items);

    public static BatchItemSlice Of(IReadOnlyList<BatchItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return new BatchItemSlice(WireWriter.Encode(items, Write), items.Count);
    }

    private static void Write(ref WireWriter writer, IReadOnlyList<BatchItem> items)
    {
        foreach (var (operation, source, rejected) in items)
        {
            writer.Write((byte)((operation.Body is null ? 0 : HasBody) | (operation.Headers is null ? 0 : HasHeaders)
                | (operation.BatchId is null ? 0 : HasBatchId) | (operation.IdempotencyKey is null ? 0 : HasKey)
                | (source is null ? 0 : HasSource) | (rejected is null ? 0 : IsRejected)));
            writer.Write(operation.Id);
            writer.Write(operation.Method);
            writer.Write(operation.Path);
            WriteIfAny(ref writer, operation.Body);
            if (operation.Headers is { } headers)
            {
                writer.Write(headers.Count);
                foreach (var (name, value) in headers)
                {
                    writer.Write(name);
                    writer.Write(value);
                }
            }

            WriteIfAny(ref writer, operation.BatchId);
            WriteIfAny(ref writer, operation.IdempotencyKey);
            if (source is not null)
            {
                writer.Write(source.Count);
                for (var f = 0; f < source.Count; f++)
                {
                    writer.Write(source[f]);
                }
            }

            if (rejected is not null)
            {
                writer.Write(rejected.Id);
                writer.Write(rejected.Status);
                writer.Write(rejected.Body ?? "");
                writer.Write(rejected.Body is not null);
                writer.Write(rejected.Location ?? "");
                writer.Write(rejected.Location is not null);
            }
        }
    }

    /// <summary>The items' operations alone, as a chunk runs them.</summary>
    public IReadOnlyList<OperationRequest> DecodeOperations() => [.. Decode().Select(item => item.Operation)];

    public IReadOnlyList<BatchItem> Decode()
    {
        var items = new BatchItem[Count];
        var reader = new WireReader(Encoded);
        WireReader.Repeated method = default, path = default, batch = default;
        for (var i = 0; i < items.Length; i++)
        {
            var flags = reader.ReadByte();
            var (id, verb, target) = (reader.ReadString(), reader.ReadString(ref method), reader.ReadString(ref path));
            var body = (flags & HasBody) != 0 ? reader.ReadString() : null;
            Dictionary<string, string>? headers = null;
            if ((flags & HasHeaders) != 0)
            {
                var count = reader.ReadInt32();
                headers = new Dictionary<string, string>(count, StringComparer.OrdinalIgnoreCase);
                for (var h = 0; h < count; h++)
                {
                    headers[reader.ReadString()] = reader.ReadString();
                }
            }

            var batchId = (flags & HasBatchId) != 0 ? reader.ReadString(ref batch) : null;
            var key = (flags & HasKey) != 0 ? reader.ReadString() : null;
            string[]? source = null;
            if ((flags & HasSource) != 0)
            {
                source = new string[reader.ReadInt32()];
                for (var f = 0; f < source.Length; f++)
                {
                    source[f] = reader.ReadString();
                }
            }

            OperationResult? rejected = null;
            if ((flags & IsRejected) != 0)
            {
                var (resultId, status) = (reader.ReadString(), reader.ReadInt32());
                var (resultBody, hasBody) = (reader.ReadString(), reader.ReadBoolean());
                var (location, hasLocation) = (reader.ReadString(), reader.ReadBoolean());
                rejected = new OperationResult(resultId, status, hasBody ? resultBody : null, hasLocation ? location : null);
            }

            items[i] = new BatchItem(new OperationRequest(id, verb, target, body, headers, batchId, key), source, rejected);
        }

        return items;
    }

    private static void WriteIfAny(ref WireWriter writer, string? value)
    {
        if (value is not null)
        {
            writer.Write(value);
        }
    }
}
