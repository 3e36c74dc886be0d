using System.Buffers.Binary;
using System.Text;

namespace Orleans.Batch.Grains.Interfaces.Wire;

/// <summary>
/// Writes values as <see cref="BinaryWriter"/> does (strings as UTF-8 after a 7-bit encoded byte count, integers
/// little-endian), into a span sized by a first, measuring pass of the same writes: one exactly sized array, not a
/// stream's growing buffer copied out at the end.
/// </summary>
internal ref struct WireWriter
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly Span<byte> _destination;
    private readonly bool _measuring;

    private WireWriter(Span<byte> destination, bool measuring)
    {
        _destination = destination;
        _measuring = measuring;
    }

    /// <summary>Bytes written (or, measuring, that would be).</summary>
    public int Length { get; private set; }

    /// <summary>Writes one value's fields with a <see cref="WireWriter"/>.</summary>
    public delegate void Fields<in T>(ref WireWriter writer, T value);

    /// <summary>The bytes <paramref name="write"/> writes of <paramref name="value"/>: measured first, then written into an array of that size.</summary>
    public static byte[] Encode<T>(T value, Fields<T> write)
    {
        var measure = new WireWriter([], measuring: true);
        write(ref measure, value);
        var encoded = GC.AllocateUninitializedArray<byte>(measure.Length);
        var writer = new WireWriter(encoded, measuring: false);
        write(ref writer, value);
        return encoded;
    }

    public void Write(byte value)
    {
        if (!_measuring)
        {
            _destination[Length] = value;
        }

        Length++;
    }

    public void Write(bool value) => Write((byte)(value ? 1 : 0));

    public void Write(int value)
    {
        if (!_measuring)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_destination[Length..], value);
        }

        Length += sizeof(int);
    }

    public void Write(string value)
    {
        var count = Utf8.GetByteCount(value);
        for (var rest = (uint)count; ; rest >>= 7)
        {
            if (rest < 0x80)
            {
                Write((byte)rest);
                break;
            }

            Write((byte)(rest | 0x80));
        }

        if (!_measuring)
        {
            Utf8.GetBytes(value, _destination.Slice(Length, count));
        }

        Length += count;
    }
}
