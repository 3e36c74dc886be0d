using Orleans.Batch.Grains.Interfaces.Wire;

namespace Orleans.Batch.Grains.Interfaces.Operations;

/// <summary>
/// A <see cref="ChunkResult"/> encoded as one byte string, as it travels from the silo that ran the chunk to its batch:
/// the serializer then writes one value, not a result object and its strings per item, each tracked by reference.
/// </summary>
[GenerateSerializer, Immutable, Alias("Orleans.Batch.EncodedChunkResult")]
public sealed record EncodedChunkResult([property: Id(0)] byte[] Encoded, [property: Id(1)] int Count)
{
    private const byte HasBody = 1, HasLocation = 2, IsRecorded = 4;

    public static EncodedChunkResult Of(ChunkResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new EncodedChunkResult(WireWriter.Encode(result, Write), result.Results.Count);
    }

    public ChunkResult Decode()
    {
        var results = new OperationResult[Count];
        var recorded = new bool[Count];
        var reader = new WireReader(Encoded);
        for (var i = 0; i < Count; i++)
        {
            var flags = reader.ReadByte();
            var (id, status) = (reader.ReadString(), reader.ReadInt32());
            var body = (flags & HasBody) != 0 ? reader.ReadString() : null;
            var location = (flags & HasLocation) != 0 ? reader.ReadString() : null;
            results[i] = new OperationResult(id, status, body, location);
            recorded[i] = (flags & IsRecorded) != 0;
        }

        return new ChunkResult(results, recorded);
    }

    private static void Write(ref WireWriter writer, ChunkResult result)
    {
        for (var i = 0; i < result.Results.Count; i++)
        {
            var item = result.Results[i];
            writer.Write((byte)((item.Body is null ? 0 : HasBody) | (item.Location is null ? 0 : HasLocation) | (result.Recorded[i] ? IsRecorded : 0)));
            writer.Write(item.Id);
            writer.Write(item.Status);
            if (item.Body is not null)
            {
                writer.Write(item.Body);
            }

            if (item.Location is not null)
            {
                writer.Write(item.Location);
            }
        }
    }
}
