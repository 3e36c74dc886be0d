using System.Buffers.Binary;
using System.Text;

namespace Orleans.Batch.Grains.Interfaces.Wire;

/// <summary>Reads what <see cref="WireWriter"/> (or <see cref="BinaryWriter"/>) wrote.</summary>
internal ref struct WireReader(ReadOnlySpan<byte> source)
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly ReadOnlySpan<byte> _source = source;
    private int _position;

    public byte ReadByte() => _source[_position++];

    public bool ReadBoolean() => ReadByte() != 0;

    public int ReadInt32()
    {
        var value = BinaryPrimitives.ReadInt32LittleEndian(_source[_position..]);
        _position += sizeof(int);
        return value;
    }

    public string ReadString() => Utf8.GetString(ReadBytes());

    /// <summary>
    /// A string that often repeats the one read before it (a slice's methods, paths, and batch ids): the earlier string
    /// again when the bytes are the same, so a slice of one kind of operation holds each such string once.
    /// </summary>
    public string ReadString(ref Repeated last)
    {
        var bytes = ReadBytes();
        if (last.Value is null || !bytes.SequenceEqual(_source.Slice(last.Start, last.Length)))
        {
            last = new Repeated(Utf8.GetString(bytes), _position - bytes.Length, bytes.Length);
        }

        return last.Value!;
    }

    private ReadOnlySpan<byte> ReadBytes()
    {
        var count = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (shift > 28)
            {
                throw new FormatException("A string's length is not a 7-bit encoded integer.");
            }

            var part = ReadByte();
            count |= (part & 0x7F) << shift;
            if (part < 0x80)
            {
                break;
            }
        }

        var bytes = _source.Slice(_position, count);
        _position += count;
        return bytes;
    }

    /// <summary>The last string read by <see cref="ReadString(ref Repeated)"/> and where its bytes are.</summary>
    internal struct Repeated(string value, int start, int length)
    {
        public readonly string? Value = value;
        public readonly int Start = start;
        public readonly int Length = length;
    }
}
