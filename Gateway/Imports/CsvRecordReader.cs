using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Unicode;

namespace Orleans.Batch.Gateway.Imports;

/// <summary>
/// Reads RFC 4180 CSV records one at a time from UTF-8 input, holding no more than the record being read.
/// </summary>
/// <remarks>
/// Records end at CRLF, LF or a lone CR. Fields are separated by commas and may be quoted with <c>"</c>; inside
/// quotes <c>""</c> is a literal quote and commas and line breaks are literal. A UTF-8 byte order mark at the start
/// and lines with nothing on them are skipped. Malformed input throws <see cref="CsvFormatException"/> naming the
/// line; after that the reader is unusable. A record longer than the maximum (in bytes, line break excluded) is
/// malformed too, so memory stays bounded whatever the input.
/// </remarks>
internal sealed class CsvRecordReader : IAsyncDisposable
{
    public const int DefaultMaxRecordBytes = 64 * 1024;

    private const byte Comma = (byte)',';
    private const byte Quote = (byte)'"';
    private const byte Cr = (byte)'\r';
    private const byte Lf = (byte)'\n';
    private const byte Nul = 0;

    private static readonly SearchValues<byte> UnquotedSpecials = SearchValues.Create(",\"\r\n\0"u8);
    private static readonly SearchValues<byte> QuotedSpecials = SearchValues.Create("\"\r\n\0"u8);
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly PipeReader _reader;
    private readonly bool _ownsReader;
    private readonly int _maxRecordBytes;
    private readonly List<FieldSpan> _fields = [];

    private long _line = 1;        // physical line at the start of the unread input
    private bool _bomChecked;
    private bool _pendingLf;       // the last line ended with CR, so an LF right after it belongs to that line break
    private bool _finished;
    private bool _faulted;
    private bool _disposed;
    private bool _checkOnly;       // records are checked, not decoded: SkipAsync

    // Scan state of the record being read; it survives reads that end part-way through the record.
    private bool _inRecord;
    private long _scanOffset;      // bytes of the record scanned so far (the record starts at the unconsumed input)
    private long _recordLine;      // physical line where the record starts
    private long _scanLine;        // physical line at _scanOffset
    private ScanState _state;
    private long _fieldStart;
    private long _fieldLine;
    private bool _fieldEscaped;    // the quoted field contains "" pairs
    private bool _prevCr;          // inside quotes: the byte before was CR

    private byte[]? _recordCopy;   // the record when it spans buffer segments
    private byte[]? _unescaped;    // a quoted field with its "" pairs collapsed

    /// <summary>Reads from <paramref name="reader"/>, e.g. <c>HttpRequest.BodyReader</c>; the caller still owns it.</summary>
    public CsvRecordReader(PipeReader reader, int maxRecordBytes = DefaultMaxRecordBytes)
        : this(reader, ownsReader: false, maxRecordBytes)
    {
    }

    /// <summary>Reads from <paramref name="stream"/>, which is disposed with the reader unless <paramref name="leaveOpen"/>.</summary>
    public CsvRecordReader(Stream stream, int maxRecordBytes = DefaultMaxRecordBytes, bool leaveOpen = false)
        : this(
            PipeReader.Create(
                stream ?? throw new ArgumentNullException(nameof(stream)),
                new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024, leaveOpen: leaveOpen)),
            ownsReader: true,
            maxRecordBytes)
    {
    }

    private CsvRecordReader(PipeReader reader, bool ownsReader, int maxRecordBytes)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRecordBytes, 1);
        _reader = reader;
        _ownsReader = ownsReader;
        _maxRecordBytes = maxRecordBytes;
    }

    private enum ScanState
    {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted, // just after a quote inside a quoted field: either half of "" or the closing quote
    }

    /// <summary>
    /// True when <paramref name="record"/> has exactly the <paramref name="expected"/> column names, compared trimmed
    /// and case-insensitively.
    /// </summary>
    public static bool IsHeader(CsvRecord record, params string[] expected)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(expected);
        if (record.Fields.Count != expected.Length)
        {
            return false;
        }

        for (var i = 0; i < expected.Length; i++)
        {
            if (!record.Fields[i].AsSpan().Trim().Equals(expected[i].AsSpan().Trim(), StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The next record, or null at the end of the input.</summary>
    /// <exception cref="CsvFormatException">The input is malformed.</exception>
    public async ValueTask<CsvRecord?> ReadAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_faulted)
        {
            throw new InvalidOperationException("The CSV reader already failed on malformed input.");
        }

        if (_finished)
        {
            return null;
        }

        try
        {
            while (true)
            {
                var result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (result.IsCanceled)
                {
                    _reader.AdvanceTo(result.Buffer.Start);
                    throw new OperationCanceledException("The read was canceled.");
                }

                var buffer = result.Buffer;
                bool complete;
                CsvRecord? record;
                SequencePosition consumed;
                try
                {
                    complete = TryReadRecord(buffer, result.IsCompleted, out record, out consumed);
                }
                catch (CsvFormatException)
                {
                    // Hand the buffer back: a read never advanced leaves the pipe unreadable for its owner, e.g.
                    // Kestrel, which then cannot drain the rest of the request body and drops the connection.
                    _reader.AdvanceTo(buffer.Start);
                    throw;
                }

                if (complete)
                {
                    _reader.AdvanceTo(consumed);
                    _finished = record is null;
                    return record;
                }

                _reader.AdvanceTo(consumed, buffer.End);
            }
        }
        catch (CsvFormatException)
        {
            _faulted = true;
            throw;
        }
    }

    /// <summary>
    /// Reads past the next record, checking it as <see cref="ReadAsync"/> would but decoding none of its fields; false at
    /// the end of the input. A pass that only counts or checks records allocates nothing per field.
    /// </summary>
    /// <exception cref="CsvFormatException">The input is malformed.</exception>
    public async ValueTask<bool> SkipAsync(CancellationToken cancellationToken = default)
    {
        _checkOnly = true;
        try
        {
            return await ReadAsync(cancellationToken).ConfigureAwait(false) is not null;
        }
        finally
        {
            _checkOnly = false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_ownsReader)
        {
            await _reader.CompleteAsync().ConfigureAwait(false);
        }

        ReturnBuffer(ref _recordCopy);
        ReturnBuffer(ref _unescaped);
    }

    private static void ReturnBuffer(ref byte[]? buffer)
    {
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = null;
        }
    }

    /// <summary>
    /// Reads one record from <paramref name="buffer"/>. False when more input is needed; <paramref name="consumed"/>
    /// is then where the record starts. True with a null record at the end of the input.
    /// </summary>
    private bool TryReadRecord(ReadOnlySequence<byte> buffer, bool isCompleted, out CsvRecord? record, out SequencePosition consumed)
    {
        record = null;
        if (!_bomChecked)
        {
            if (buffer.Length < 3 && !isCompleted)
            {
                consumed = buffer.Start;
                return false;
            }

            _bomChecked = true;
            if (StartsWithBom(buffer))
            {
                buffer = buffer.Slice(3);
            }
        }

        if (!_inRecord)
        {
            buffer = SkipLineBreaks(buffer);
            if (buffer.IsEmpty)
            {
                consumed = buffer.End;
                return isCompleted;
            }

            _pendingLf = false;
            _inRecord = true;
            _fields.Clear();
            _scanOffset = 0;
            _recordLine = _line;
            _scanLine = _line;
            _state = ScanState.FieldStart;
        }

        if (Scan(buffer, out var contentLength, out var terminatorLength))
        {
            record = Complete(buffer, contentLength);
            consumed = buffer.GetPosition(contentLength + terminatorLength);
            return true;
        }

        if (!isCompleted)
        {
            if (buffer.Length > _maxRecordBytes)
            {
                throw TooLong();
            }

            consumed = buffer.Start;
            return false;
        }

        // End of input in the middle of a record: it ends here.
        switch (_state)
        {
            case ScanState.Quoted:
                throw new CsvFormatException(_fieldLine, $"The quoted field starting on line {_fieldLine} is never closed.");
            case ScanState.QuoteInQuoted:
                AddField(buffer.Length - 1);
                break;
            default:
                if (_state == ScanState.FieldStart)
                {
                    _fieldStart = buffer.Length;
                    _fieldLine = _scanLine;
                    _fieldEscaped = false;
                }

                AddField(buffer.Length);
                break;
        }

        record = Complete(buffer, buffer.Length);
        consumed = buffer.End;
        return true;
    }

    private static bool StartsWithBom(ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < 3)
        {
            return false;
        }

        Span<byte> start = stackalloc byte[3];
        buffer.Slice(0, 3).CopyTo(start);
        return start.SequenceEqual("\uFEFF"u8);
    }

    /// <summary>Skips the line breaks before a record (the end of a CRLF split across reads, and blank lines).</summary>
    private ReadOnlySequence<byte> SkipLineBreaks(ReadOnlySequence<byte> buffer)
    {
        var skipped = 0;
        foreach (var memory in buffer)
        {
            var span = memory.Span;
            for (var i = 0; i < span.Length; i++)
            {
                switch (span[i])
                {
                    case Lf:
                        if (!_pendingLf)
                        {
                            _line++;
                        }

                        _pendingLf = false;
                        break;
                    case Cr:
                        _line++;
                        _pendingLf = true;
                        break;
                    default:
                        return skipped == 0 ? buffer : buffer.Slice(skipped);
                }

                skipped++;
            }
        }

        return buffer.Slice(buffer.End);
    }

    /// <summary>
    /// Scans the record at the start of <paramref name="buffer"/> from where the last scan stopped. True when the
    /// record ends at a line break inside the buffer.
    /// </summary>
    private bool Scan(ReadOnlySequence<byte> buffer, out long contentLength, out int terminatorLength)
    {
        var offset = _scanOffset;
        foreach (var memory in buffer.Slice(offset))
        {
            var span = memory.Span;
            var i = 0;
            while (i < span.Length)
            {
                byte b;
                switch (_state)
                {
                    case ScanState.FieldStart:
                        _fieldLine = _scanLine;
                        _fieldEscaped = false;
                        if (span[i] == Quote)
                        {
                            _state = ScanState.Quoted;
                            _prevCr = false;
                            i++;
                            _fieldStart = offset + i;
                            continue;
                        }

                        _state = ScanState.Unquoted;
                        _fieldStart = offset + i;
                        goto case ScanState.Unquoted;

                    case ScanState.Unquoted:
                    {
                        var found = span[i..].IndexOfAny(UnquotedSpecials);
                        if (found < 0)
                        {
                            i = span.Length;
                            continue;
                        }

                        i += found;
                        b = span[i];
                        if (b == Comma)
                        {
                            AddField(offset + i);
                            _state = ScanState.FieldStart;
                            i++;
                            continue;
                        }

                        if (b is Cr or Lf)
                        {
                            AddField(offset + i);
                            return EndRecord(offset + i, b, out contentLength, out terminatorLength);
                        }

                        if (b == Quote)
                        {
                            throw new CsvFormatException(
                                _scanLine,
                                $"Line {_scanLine} has a quote inside an unquoted field; a field containing quotes must be quoted as a whole, with each quote inside it doubled.");
                        }

                        throw NulByte();
                    }

                    case ScanState.Quoted:
                    {
                        var found = span[i..].IndexOfAny(QuotedSpecials);
                        if (found != 0)
                        {
                            _prevCr = false;
                        }

                        if (found < 0)
                        {
                            i = span.Length;
                            continue;
                        }

                        i += found;
                        b = span[i++];
                        switch (b)
                        {
                            case Quote:
                                _state = ScanState.QuoteInQuoted;
                                break;
                            case Cr:
                                _scanLine++;
                                _prevCr = true;
                                break;
                            case Lf:
                                if (!_prevCr)
                                {
                                    _scanLine++;
                                }

                                _prevCr = false;
                                break;
                            default:
                                throw NulByte();
                        }

                        continue;
                    }

                    default: // QuoteInQuoted
                        b = span[i];
                        if (b == Quote)
                        {
                            _fieldEscaped = true;
                            _prevCr = false;
                            _state = ScanState.Quoted;
                            i++;
                            continue;
                        }

                        if (b == Comma)
                        {
                            AddField(offset + i - 1);
                            _state = ScanState.FieldStart;
                            i++;
                            continue;
                        }

                        if (b is Cr or Lf)
                        {
                            AddField(offset + i - 1);
                            return EndRecord(offset + i, b, out contentLength, out terminatorLength);
                        }

                        if (b == Nul)
                        {
                            throw NulByte();
                        }

                        throw new CsvFormatException(
                            _scanLine,
                            $"Line {_scanLine} has characters after the closing quote of a quoted field; only a comma or the end of the line may follow it.");
                }
            }

            offset += span.Length;
            if (offset > _maxRecordBytes)
            {
                throw TooLong();
            }
        }

        _scanOffset = offset;
        contentLength = 0;
        terminatorLength = 0;
        return false;
    }

    private bool EndRecord(long terminatorOffset, byte terminator, out long contentLength, out int terminatorLength)
    {
        contentLength = terminatorOffset;
        terminatorLength = 1;
        _pendingLf = terminator == Cr; // an LF right after this CR is skipped as the start of the next read
        _line = _scanLine + 1;
        return true;
    }

    private void AddField(long end) => _fields.Add(new FieldSpan(_fieldStart, end - _fieldStart, _fieldEscaped, _fieldLine));

    private CsvRecord Complete(ReadOnlySequence<byte> buffer, long contentLength)
    {
        if (contentLength > _maxRecordBytes)
        {
            throw TooLong();
        }

        _inRecord = false;
        var length = (int)contentLength;
        ReadOnlySpan<byte> bytes;
        if (buffer.FirstSpan.Length >= length)
        {
            bytes = buffer.FirstSpan[..length];
        }
        else
        {
            var copy = Rent(ref _recordCopy, length);
            buffer.Slice(0, length).CopyTo(copy);
            bytes = copy.AsSpan(0, length);
        }

        if (_checkOnly)
        {
            foreach (var field in _fields)
            {
                var content = bytes.Slice((int)field.Start, (int)field.Length);
                if (!Utf8.IsValid(content))
                {
                    Decode(content, field); // throws, naming the line
                }
            }

            return new CsvRecord(_recordLine, []);
        }

        var fields = new string[_fields.Count];
        for (var i = 0; i < fields.Length; i++)
        {
            var field = _fields[i];
            fields[i] = Decode(bytes.Slice((int)field.Start, (int)field.Length), field);
        }

        return new CsvRecord(_recordLine, fields);
    }

    private string Decode(ReadOnlySpan<byte> bytes, FieldSpan field)
    {
        if (bytes.IsEmpty)
        {
            return string.Empty;
        }

        if (field.Escaped)
        {
            bytes = Unescape(bytes);
        }

        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            var line = field.Line + CountLineBreaks(bytes[..FirstInvalidUtf8(bytes)]);
            throw new CsvFormatException(line, $"Line {line} is not valid UTF-8; save the file as UTF-8.");
        }
    }

    /// <summary>Collapses each <c>""</c> of a quoted field's content into one quote.</summary>
    private ReadOnlySpan<byte> Unescape(ReadOnlySpan<byte> bytes)
    {
        var target = Rent(ref _unescaped, bytes.Length);
        var written = 0;
        while (true)
        {
            var quote = bytes.IndexOf(Quote);
            if (quote < 0)
            {
                bytes.CopyTo(target.AsSpan(written));
                return target.AsSpan(0, written + bytes.Length);
            }

            bytes[..(quote + 1)].CopyTo(target.AsSpan(written));
            written += quote + 1;
            bytes = bytes[(quote + 2)..]; // the scanner only lets quotes in here in pairs
        }
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        var index = 0;
        while (index < bytes.Length)
        {
            if (Rune.DecodeFromUtf8(bytes[index..], out _, out var consumed) != OperationStatus.Done)
            {
                return index;
            }

            index += consumed;
        }

        return bytes.Length;
    }

    private static int CountLineBreaks(ReadOnlySpan<byte> bytes)
    {
        var count = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == Cr || (bytes[i] == Lf && (i == 0 || bytes[i - 1] != Cr)))
            {
                count++;
            }
        }

        return count;
    }

    private static byte[] Rent(ref byte[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length)
        {
            ReturnBuffer(ref buffer);
            buffer = ArrayPool<byte>.Shared.Rent(length);
        }

        return buffer;
    }

    private CsvFormatException NulByte() =>
        new(_scanLine, $"Line {_scanLine} contains a NUL byte; this does not look like a CSV file.");

    private CsvFormatException TooLong() =>
        new(_recordLine, $"The record starting on line {_recordLine} is longer than the maximum of {_maxRecordBytes} bytes.");

    private readonly record struct FieldSpan(long Start, long Length, bool Escaped, long Line);
}
