using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Orleans.Batch.Gateway.Imports;

namespace Orleans.Batch.Tests.Gateway.Imports;

public sealed class CsvRecordReaderTests
{
    private static readonly byte[] Bom = [0xEF, 0xBB, 0xBF];

    // ---- well-formed input -------------------------------------------------------------------------------------

    [Fact]
    public async Task ReadAsync_SimpleRecords_ReturnsFieldsAndLines()
    {
        var records = await ParseAsync("email,name\nann@example.com,Ann\nbob@example.com,Bob\n");

        Assert.Equal(3, records.Count);
        AssertRecord(records[0], 1, "email", "name");
        AssertRecord(records[1], 2, "ann@example.com", "Ann");
        AssertRecord(records[2], 3, "bob@example.com", "Bob");
    }

    [Fact]
    public async Task ReadAsync_WhitespaceAroundFields_IsKept()
    {
        var records = await ParseAsync(" a , b \n");

        AssertRecord(Assert.Single(records), 1, " a ", " b ");
    }

    [Fact]
    public async Task ReadAsync_QuotedFieldWithComma_KeepsComma()
    {
        var records = await ParseAsync("\"Smith, Ann\",ann@example.com\nx,\"a,b,c\"\n");

        AssertRecord(records[0], 1, "Smith, Ann", "ann@example.com");
        AssertRecord(records[1], 2, "x", "a,b,c");
    }

    [Fact]
    public async Task ReadAsync_EscapedQuotes_BecomeOneQuote()
    {
        var records = await ParseAsync("\"say \"\"hi\"\"\",\"\"\"\",\"\"\"\"\"\",\"a\"\"\"\n");

        AssertRecord(Assert.Single(records), 1, "say \"hi\"", "\"", "\"\"", "a\"");
    }

    [Fact]
    public async Task ReadAsync_QuotedFieldWithoutSpecialCharacters_IsUnquoted()
    {
        var records = await ParseAsync("\"ann@example.com\",\"Ann\"\r\n");

        AssertRecord(Assert.Single(records), 1, "ann@example.com", "Ann");
    }

    [Fact]
    public async Task ReadAsync_LineBreaksInsideQuotes_AreKeptAndCounted()
    {
        var records = await ParseAsync("a,\"one\r\ntwo\nthree\rfour\"\nb,c\n\"x\n\ny\",z\r\nlast,row\n");

        Assert.Equal(4, records.Count);
        AssertRecord(records[0], 1, "a", "one\r\ntwo\nthree\rfour");
        AssertRecord(records[1], 5, "b", "c");
        AssertRecord(records[2], 6, "x\n\ny", "z");
        AssertRecord(records[3], 9, "last", "row");
    }

    [Fact]
    public async Task ReadAsync_LineBreakAtTheStartAndEndOfAQuotedField_IsKept()
    {
        var records = await ParseAsync("\"\nab\r\n\",c\nd\n");

        AssertRecord(records[0], 1, "\nab\r\n", "c");
        AssertRecord(records[1], 4, "d");
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("\n")]
    [InlineData("\r")]
    public async Task ReadAsync_LineEndings_CrLfLfAndLoneCrAreAllAccepted(string newline)
    {
        var records = await ParseAsync($"email,name{newline}a@example.com,A{newline}b@example.com,\"B{newline}B\"{newline}c@example.com,C{newline}");

        Assert.Equal(4, records.Count);
        AssertRecord(records[0], 1, "email", "name");
        AssertRecord(records[1], 2, "a@example.com", "A");
        AssertRecord(records[2], 3, "b@example.com", $"B{newline}B");
        AssertRecord(records[3], 5, "c@example.com", "C");
    }

    [Fact]
    public async Task ReadAsync_MixedLineEndings_CountEachLineOnce()
    {
        // LF then CR is two line breaks; CR then LF is one.
        var records = await ParseAsync("a\r\nb\nc\rd\n\re\r\n\r\nf");

        Assert.Equal(["a", "b", "c", "d", "e", "f"], records.Select(r => r.Fields.Single()));
        Assert.Equal([1L, 2, 3, 4, 6, 8], records.Select(r => r.Line));
    }

    [Fact]
    public async Task ReadAsync_Bom_IsSkipped()
    {
        var records = await ParseAsync([.. Bom, .. "email,name\nx@example.com,X\n"u8]);

        Assert.Equal(2, records.Count);
        AssertRecord(records[0], 1, "email", "name");
        AssertRecord(records[1], 2, "x@example.com", "X");
        Assert.True(CsvRecordReader.IsHeader(records[0], "email", "name"));
    }

    [Fact]
    public async Task ReadAsync_BomBeforeQuotedField_IsSkipped()
    {
        var records = await ParseAsync([.. Bom, .. "\"email\",name"u8]);

        AssertRecord(Assert.Single(records), 1, "email", "name");
    }

    [Fact]
    public async Task ReadAsync_BomOnly_ReturnsNoRecords()
    {
        Assert.Empty(await ParseAsync(Bom));
        Assert.Empty(await ParseAsync([.. Bom, .. "\r\n"u8]));
    }

    [Fact]
    public async Task ReadAsync_BomAfterTheStart_IsData()
    {
        var records = await ParseAsync([.. "a\n"u8, .. Bom, .. "b\n"u8]);

        AssertRecord(records[1], 2, "\uFEFFb");
    }

    [Theory]
    [InlineData("a,b\nc,d")]
    [InlineData("a,b\nc,d\n")]
    [InlineData("a,b\r\nc,d\r\n")]
    [InlineData("a,b\rc,d\r")]
    [InlineData("a,b\nc,d\n\n\n")]
    public async Task ReadAsync_TrailingNewlineOrNone_GivesTheSameRecords(string text)
    {
        var records = await ParseAsync(text);

        Assert.Equal(2, records.Count);
        AssertRecord(records[0], 1, "a", "b");
        AssertRecord(records[1], 2, "c", "d");
    }

    [Fact]
    public async Task ReadAsync_LastRecordEndsInQuotedFieldWithoutNewline_IsRead()
    {
        var records = await ParseAsync("a,\"b\"\"\"");

        AssertRecord(Assert.Single(records), 1, "a", "b\"");
    }

    [Fact]
    public async Task ReadAsync_BlankLines_AreSkippedAndCounted()
    {
        var records = await ParseAsync("\n\r\nemail,name\n\n\na@example.com,A\r\n\r\n\rb@example.com,B\n\n");

        Assert.Equal(3, records.Count);
        AssertRecord(records[0], 3, "email", "name");
        AssertRecord(records[1], 6, "a@example.com", "A");
        AssertRecord(records[2], 9, "b@example.com", "B");
    }

    [Fact]
    public async Task ReadAsync_EmptyQuotedFieldOnItsOwnLine_IsARecord()
    {
        var records = await ParseAsync("a\n\"\"\nb\n");

        Assert.Equal(3, records.Count);
        AssertRecord(records[1], 2, "");
    }

    [Fact]
    public async Task ReadAsync_EmptyFields_AreKept()
    {
        var records = await ParseAsync("a,,b\na,b,\n,\n,,\n\"\",\"\"\n,x");

        AssertRecord(records[0], 1, "a", "", "b");
        AssertRecord(records[1], 2, "a", "b", "");
        AssertRecord(records[2], 3, "", "");
        AssertRecord(records[3], 4, "", "", "");
        AssertRecord(records[4], 5, "", "");
        AssertRecord(records[5], 6, "", "x");
        Assert.Equal(6, records.Count);
    }

    [Fact]
    public async Task ReadAsync_TrailingCommaAtEndOfInput_GivesEmptyLastField()
    {
        var records = await ParseAsync("a,b,");

        AssertRecord(Assert.Single(records), 1, "a", "b", "");
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("\r\n\r\n")]
    [InlineData("\r\r\n\n")]
    public async Task ReadAsync_NoRecords_ReturnsNull(string text)
    {
        Assert.Empty(await ParseAsync(text));
    }

    [Fact]
    public async Task ReadAsync_AfterTheEnd_KeepsReturningNull()
    {
        await using var reader = new CsvRecordReader(new MemoryStream("a\n"u8.ToArray()));

        Assert.NotNull(await reader.ReadAsync());
        Assert.Null(await reader.ReadAsync());
        Assert.Null(await reader.ReadAsync());
    }

    [Fact]
    public async Task ReadAsync_MultiByteCharacters_AreDecoded()
    {
        var records = await ParseAsync("zoë@example.com,\"Zoë, € 中文 😀\"\nçé,ß\n");

        AssertRecord(records[0], 1, "zoë@example.com", "Zoë, € 中文 😀");
        AssertRecord(records[1], 2, "çé", "ß");
    }

    // ---- pipe segment and read boundaries ----------------------------------------------------------------------

    private const string Tricky =
        "email,name\r\n" +
        "ünïcødé@example.com,\"Zoë, \"\"the\"\" 😀\"\r\n" +
        "\n" +
        "a€b,\"multi\r\nline 中\nfield\"\r" +
        "\"\",x\n" +
        "\"\"\"\",\"😀\"\"€\"\r\n" +
        "last,€😀é";

    private static void AssertTricky(List<CsvRecord> records)
    {
        Assert.Equal(6, records.Count);
        AssertRecord(records[0], 1, "email", "name");
        AssertRecord(records[1], 2, "ünïcødé@example.com", "Zoë, \"the\" 😀");
        AssertRecord(records[2], 4, "a€b", "multi\r\nline 中\nfield");
        AssertRecord(records[3], 7, "", "x");
        AssertRecord(records[4], 8, "\"", "😀\"€");
        AssertRecord(records[5], 9, "last", "€😀é");
    }

    [Fact]
    public async Task ReadAsync_TrickyInputFromAStream_IsRead()
    {
        AssertTricky(await ReadAllAsync(new CsvRecordReader(new MemoryStream([.. Bom, .. Encoding.UTF8.GetBytes(Tricky)]))));
    }

    /// <summary>
    /// Every byte of the input lands at the edge of a pipe segment (and, streamed, of a read) for some chunk size:
    /// BOM, CRLF, <c>""</c> and multi-byte characters split in every possible place.
    /// </summary>
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, false)]
    [InlineData(4, false)]
    [InlineData(5, false)]
    [InlineData(6, false)]
    [InlineData(7, false)]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(5, true)]
    [InlineData(6, true)]
    [InlineData(7, true)]
    [InlineData(0, true)]
    public async Task ReadAsync_PipeInTinyChunks_SameRecordsAtEveryBoundary(int chunkSize, bool streamed)
    {
        byte[] input = [.. Bom, .. Encoding.UTF8.GetBytes(Tricky)];

        AssertTricky(await ParseChunkedAsync(input, chunkSize, streamed));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    public async Task ReadAsync_PipeInTinyChunksWithOffsetStart_SameRecordsAtEveryBoundary(int chunkSize)
    {
        // Without the BOM every split point moves by three bytes.
        AssertTricky(await ParseChunkedAsync(Encoding.UTF8.GetBytes(Tricky), chunkSize, streamed: true));
    }

    [Fact]
    public async Task ReadAsync_FromCallersPipeReader_LeavesItForTheCaller()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync("a,b\nc"u8.ToArray());
        await pipe.Writer.CompleteAsync();

        var reader = new CsvRecordReader(pipe.Reader);
        await using (reader)
        {
            AssertRecord((await reader.ReadAsync())!, 1, "a", "b");
            AssertRecord((await reader.ReadAsync())!, 2, "c");
            Assert.Null(await reader.ReadAsync());
        }

        // Not completed by the CSV reader: the caller can still use (and must complete) it.
        var rest = await pipe.Reader.ReadAsync();
        Assert.True(rest.IsCompleted);
        pipe.Reader.AdvanceTo(rest.Buffer.End);
        await pipe.Reader.CompleteAsync();
    }

    // ---- malformed input ---------------------------------------------------------------------------------------

    [Fact]
    public async Task ReadAsync_UnterminatedQuotedField_ThrowsNamingStartLine()
    {
        await AssertFailsAsync("email,name\na@example.com,\"Ann\nb@example.com,Bob\n\n", 2, "quoted field starting on line 2 is never closed");
    }

    [Fact]
    public async Task ReadAsync_UnterminatedQuotedFieldAfterEscapedQuote_ThrowsNamingStartLine()
    {
        await AssertFailsAsync("a\nb\n\"x\"\"", 3, "quoted field starting on line 3 is never closed");
    }

    [Fact]
    public async Task ReadAsync_UnterminatedQuotedFieldAfterMultiLineField_ThrowsNamingItsOwnLine()
    {
        await AssertFailsAsync("\"a\nb\",\"c", 2, "quoted field starting on line 2 is never closed");
    }

    [Fact]
    public async Task ReadAsync_QuoteInsideUnquotedField_ThrowsNamingLine()
    {
        await AssertFailsAsync("email,name\nab\"c,x\n", 2, "line 2 has a quote inside an unquoted field");
    }

    [Fact]
    public async Task ReadAsync_QuoteAtEndOfUnquotedField_ThrowsNamingLine()
    {
        await AssertFailsAsync("a\r\nb\r\nx,abc\"", 3, "line 3 has a quote inside an unquoted field");
    }

    [Fact]
    public async Task ReadAsync_CharactersAfterClosingQuote_ThrowsNamingLine()
    {
        await AssertFailsAsync("email,name\n\"ab\"c,x\n", 2, "line 2 has characters after the closing quote");
    }

    [Fact]
    public async Task ReadAsync_SpaceAfterClosingQuote_ThrowsNamingLine()
    {
        await AssertFailsAsync("a,\"b\" \n", 1, "line 1 has characters after the closing quote");
    }

    [Fact]
    public async Task ReadAsync_CharactersAfterClosingQuoteOfMultiLineField_ThrowsNamingTheLineOfTheQuote()
    {
        await AssertFailsAsync("x\n\"a\r\nb\"c\n", 3, "line 3 has characters after the closing quote");
    }

    [Fact]
    public async Task ReadAsync_NulByte_ThrowsNamingLine()
    {
        await AssertFailsAsync("email,name\na,b\nc\0d,e\n", 3, "line 3 contains a NUL byte; this does not look like a CSV file");
    }

    [Fact]
    public async Task ReadAsync_NulByteInQuotedField_ThrowsNamingLine()
    {
        await AssertFailsAsync("a\n\"b\n\0\"\n", 3, "line 3 contains a NUL byte");
    }

    [Fact]
    public async Task ReadAsync_NulByteAfterClosingQuote_ThrowsNamingLine()
    {
        await AssertFailsAsync("\"b\"\0", 1, "line 1 contains a NUL byte");
    }

    [Fact]
    public async Task ReadAsync_Utf16File_ThrowsNulByte()
    {
        byte[] input = [.. Encoding.Unicode.GetPreamble(), .. Encoding.Unicode.GetBytes("email,name\r\na@example.com,A\r\n")];

        await AssertFailsAsync(input, 1, "line 1 contains a NUL byte; this does not look like a CSV file");
    }

    [Theory]
    [InlineData(new byte[] { 0xFF })]                   // never valid
    [InlineData(new byte[] { 0x80 })]                   // continuation byte without a lead byte
    [InlineData(new byte[] { 0xC0, 0xAF })]             // overlong encoding of '/'
    [InlineData(new byte[] { 0xE2, 0x82 })]             // truncated '€' before the comma
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]       // UTF-16 surrogate
    [InlineData(new byte[] { 0xE9 })]                   // Latin-1 'é'
    public async Task ReadAsync_InvalidUtf8_ThrowsNamingLine(byte[] invalid)
    {
        byte[] input = [.. "email,name\nok@example.com,\"Zo\u00EB\"\r\nbad@example.com,x"u8, .. invalid, .. ",y\nz\n"u8];

        await AssertFailsAsync(input, 3, "line 3 is not valid UTF-8");
    }

    [Fact]
    public async Task ReadAsync_InvalidUtf8AtEndOfInput_ThrowsNamingLine()
    {
        await AssertFailsAsync([.. "a\nb"u8, 0xF0, 0x9F, 0x98], 2, "line 2 is not valid UTF-8");
    }

    [Fact]
    public async Task ReadAsync_InvalidUtf8OnLaterLineOfQuotedField_ThrowsNamingThatLine()
    {
        await AssertFailsAsync([.. "a\n\"b\"\"\r\nc\nd"u8, 0xFF, .. "\"\n"u8], 4, "line 4 is not valid UTF-8");
    }

    [Fact]
    public async Task ReadAsync_RecordLongerThanMax_ThrowsNamingLine()
    {
        await AssertFailsAsync("a,b\n0123456789,123456\nc\n", 2, "record starting on line 2 is longer than the maximum of 16 bytes", maxRecordBytes: 16);
    }

    [Fact]
    public async Task ReadAsync_LastRecordLongerThanMax_ThrowsNamingLine()
    {
        await AssertFailsAsync("a,b\n\n\"0123\n456789\",12345", 3, "record starting on line 3 is longer than the maximum of 16 bytes", maxRecordBytes: 16);
    }

    [Fact]
    public async Task ReadAsync_RecordOfExactlyMaxBytes_IsRead()
    {
        // 16 bytes of content; the line break does not count, and 'é' is two bytes.
        var records = await ParseAsync("a,b\r\n\"0123\n456\",é123\r\nc", maxRecordBytes: 16);

        Assert.Equal(3, records.Count);
        AssertRecord(records[1], 2, "0123\n456", "é123");
        AssertRecord(records[2], 4, "c");
    }

    [Fact]
    public async Task ReadAsync_RecordLongerThanDefaultMax_Throws()
    {
        var longName = new string('x', CsvRecordReader.DefaultMaxRecordBytes);

        await AssertFailsAsync($"email,name\na@example.com,{longName}\n", 2, $"maximum of {CsvRecordReader.DefaultMaxRecordBytes} bytes");
    }

    [Fact]
    public async Task ReadAsync_InputWithoutLineBreaks_ThrowsInsteadOfBufferingItAll()
    {
        var stream = new EndlessStream((byte)'a');
        await using var reader = new CsvRecordReader(stream, maxRecordBytes: 1000);

        var error = await Assert.ThrowsAsync<CsvFormatException>(async () => await reader.ReadAsync());

        Assert.Equal(1, error.Line);
        Assert.True(stream.BytesRead < 64 * 1024, $"read {stream.BytesRead} bytes before giving up");
    }

    [Fact]
    public async Task ReadAsync_AfterFormatError_Throws()
    {
        await using var reader = new CsvRecordReader(new MemoryStream("a\"b\nc\n"u8.ToArray()));

        await Assert.ThrowsAsync<CsvFormatException>(async () => await reader.ReadAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await reader.ReadAsync());
    }

    [Fact]
    public async Task ReadAsync_RecordsBeforeTheError_AreReturned()
    {
        await using var reader = new CsvRecordReader(new MemoryStream("a\nb\nc\"\n"u8.ToArray()));

        AssertRecord((await reader.ReadAsync())!, 1, "a");
        AssertRecord((await reader.ReadAsync())!, 2, "b");
        var error = await Assert.ThrowsAsync<CsvFormatException>(async () => await reader.ReadAsync());
        Assert.Equal(3, error.Line);
    }

    // ---- volume, API -------------------------------------------------------------------------------------------

    [Fact]
    public async Task ReadAsync_200000Rows_ReadsEveryRowAndTheLastOne()
    {
        const int rows = 200_000;
        var stream = new MemoryStream();
        await using (var writer = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true), leaveOpen: true))
        {
            await writer.WriteAsync("email,name\r\n");
            for (var i = 1; i <= rows; i++)
            {
                await writer.WriteAsync(i % 1000 == 0
                    ? $"user{i}@example.com,\"Zoë \"\"{i}\"\", Jr.\"\r\n"
                    : $"user{i}@example.com,User Name {i}\r\n");
            }
        }

        stream.Position = 0;
        await using var reader = new CsvRecordReader(stream);
        var header = await reader.ReadAsync();
        Assert.NotNull(header);
        Assert.True(CsvRecordReader.IsHeader(header, "email", "name"));

        var count = 0;
        CsvRecord? last = null;
        while (await reader.ReadAsync() is { } record)
        {
            count++;
            Assert.Equal(2, record.Fields.Count);
            last = record;
        }

        Assert.Equal(rows, count);
        Assert.NotNull(last);
        AssertRecord(last, rows + 1, $"user{rows}@example.com", $"Zoë \"{rows}\", Jr.");
    }

    [Theory]
    [InlineData(new[] { "email", "name" }, true)]
    [InlineData(new[] { " Email ", "NAME\t" }, true)]
    [InlineData(new[] { "name", "email" }, false)]
    [InlineData(new[] { "email" }, false)]
    [InlineData(new[] { "email", "name", "" }, false)]
    [InlineData(new[] { "e-mail", "name" }, false)]
    public void IsHeader_ComparesTrimmedNamesIgnoringCase(string[] fields, bool expected)
    {
        Assert.Equal(expected, CsvRecordReader.IsHeader(new CsvRecord(1, fields), "email", "name"));
    }

    [Theory]
    [InlineData("email,name\nann@example.com,\"never closed\n", true, CsvRecordReader.DefaultMaxRecordBytes)]
    [InlineData("email,name\nann@example.com,A\0nn\nbob@example.com,Bob\n", false, CsvRecordReader.DefaultMaxRecordBytes)]
    [InlineData("email,name\nann@example.com,A\"nn\nbob@example.com,Bob\n", false, CsvRecordReader.DefaultMaxRecordBytes)]
    [InlineData("email,name\nann@example.com,a name longer than the limit\n", false, 16)]
    public async Task ReadAsync_MalformedInput_HandsTheCallersPipeBack(string text, bool complete, int maxRecordBytes)
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(text));
        if (complete)
        {
            await pipe.Writer.CompleteAsync();
        }

        await using (var reader = new CsvRecordReader(pipe.Reader, maxRecordBytes))
        {
            await Assert.ThrowsAsync<CsvFormatException>(async () =>
            {
                while (await reader.ReadAsync() is not null)
                {
                }
            });
        }

        // The pipe's owner (Kestrel, draining a request body the app did not read to the end) can still read it.
        var rest = await pipe.Reader.ReadAsync();
        Assert.False(rest.Buffer.IsEmpty);
        pipe.Reader.AdvanceTo(rest.Buffer.End);
    }

    [Fact]
    public void Constructor_MaxRecordBytesBelowOne_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CsvRecordReader(new MemoryStream(), maxRecordBytes: 0));
    }

    [Fact]
    public async Task DisposeAsync_DisposesTheStreamUnlessLeftOpen()
    {
        var owned = new MemoryStream("a"u8.ToArray());
        await new CsvRecordReader(owned).DisposeAsync();
        Assert.False(owned.CanRead);

        var kept = new MemoryStream("a"u8.ToArray());
        await new CsvRecordReader(kept, leaveOpen: true).DisposeAsync();
        Assert.True(kept.CanRead);
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    private static void AssertRecord(CsvRecord record, long line, params string[] fields)
    {
        Assert.Equal(fields, record.Fields);
        Assert.Equal(line, record.Line);
    }

    private static Task<List<CsvRecord>> ParseAsync(string text, int maxRecordBytes = CsvRecordReader.DefaultMaxRecordBytes) =>
        ParseAsync(Encoding.UTF8.GetBytes(text), maxRecordBytes);

    /// <summary>
    /// Parses from a stream, and from pipes fed one byte and three bytes at a time, expecting the same; skipping every
    /// record instead of reading it finds as many.
    /// </summary>
    private static async Task<List<CsvRecord>> ParseAsync(byte[] input, int maxRecordBytes = CsvRecordReader.DefaultMaxRecordBytes)
    {
        var records = await ReadAllAsync(new CsvRecordReader(new MemoryStream(input), maxRecordBytes));
        Assert.Equal(records.Count, await SkipAllAsync(new CsvRecordReader(new MemoryStream(input), maxRecordBytes)));

        foreach (var (chunkSize, streamed) in new[] { (1, false), (3, true) })
        {
            var chunked = await ParseChunkedAsync(input, chunkSize, streamed, maxRecordBytes);
            Assert.Equal(records.Count, chunked.Count);
            for (var i = 0; i < records.Count; i++)
            {
                AssertRecord(chunked[i], records[i].Line, [.. records[i].Fields]);
            }
        }

        return records;
    }

    private static Task AssertFailsAsync(string text, long line, string message, int maxRecordBytes = CsvRecordReader.DefaultMaxRecordBytes) =>
        AssertFailsAsync(Encoding.UTF8.GetBytes(text), line, message, maxRecordBytes);

    /// <summary>Expects the same error from a stream and from pipes fed one byte and three bytes at a time.</summary>
    private static async Task AssertFailsAsync(byte[] input, long line, string message, int maxRecordBytes = CsvRecordReader.DefaultMaxRecordBytes)
    {
        var attempts = new (string How, Func<Task> Parse)[]
        {
            ("stream", () => ReadAllAsync(new CsvRecordReader(new MemoryStream(input), maxRecordBytes))),
            ("stream, skipped", () => SkipAllAsync(new CsvRecordReader(new MemoryStream(input), maxRecordBytes))),
            ("1-byte segments", () => ParseChunkedAsync(input, 1, streamed: false, maxRecordBytes)),
            ("3-byte reads", () => ParseChunkedAsync(input, 3, streamed: true, maxRecordBytes)),
        };

        foreach (var (how, parse) in attempts)
        {
            var error = await Assert.ThrowsAsync<CsvFormatException>(parse);
            Assert.True(line == error.Line, $"{how}: expected line {line}, got {error.Line}: {error.Message}");
            Assert.Contains(message, error.Message, StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>How many records <see cref="CsvRecordReader.SkipAsync"/> passes before the end of the input.</summary>
    private static async Task<int> SkipAllAsync(CsvRecordReader reader)
    {
        await using (reader)
        {
            var count = 0;
            while (await reader.SkipAsync())
            {
                count++;
            }

            return count;
        }
    }

    private static async Task<List<CsvRecord>> ReadAllAsync(CsvRecordReader reader)
    {
        await using (reader)
        {
            var records = new List<CsvRecord>();
            while (await reader.ReadAsync() is { } record)
            {
                records.Add(record);
            }

            return records;
        }
    }

    /// <summary>
    /// Parses <paramref name="input"/> fed through a <see cref="Pipe"/> in chunks of <paramref name="chunkSize"/> bytes
    /// (0: cycling through 1 to 7), each chunk in its own buffer segment. Streamed, the chunks are written while the
    /// reader reads, so records also arrive split across reads; otherwise all are written first.
    /// </summary>
    private static async Task<List<CsvRecord>> ParseChunkedAsync(
        byte[] input, int chunkSize, bool streamed, int maxRecordBytes = CsvRecordReader.DefaultMaxRecordBytes)
    {
        var pipe = new Pipe(new PipeOptions(
            pool: new ExactSizePool(), minimumSegmentSize: 1, pauseWriterThreshold: 0, useSynchronizationContext: false));

        async Task WriteAsync()
        {
            var offset = 0;
            for (var n = 0; offset < input.Length; n++)
            {
                var size = Math.Min(chunkSize > 0 ? chunkSize : (n % 7) + 1, input.Length - offset);
                input.AsSpan(offset, size).CopyTo(pipe.Writer.GetSpan(size));
                pipe.Writer.Advance(size);
                offset += size;
                if (streamed)
                {
                    await pipe.Writer.FlushAsync();
                    await Task.Yield();
                }
            }

            await pipe.Writer.CompleteAsync();
        }

        if (!streamed)
        {
            await WriteAsync();
            return await ReadAllAsync(new CsvRecordReader(pipe.Reader, maxRecordBytes));
        }

        var writing = Task.Run(WriteAsync);
        try
        {
            return await ReadAllAsync(new CsvRecordReader(pipe.Reader, maxRecordBytes));
        }
        finally
        {
            await pipe.Reader.CompleteAsync();
            await writing;
        }
    }

    /// <summary>Hands out buffers of exactly the size asked for, so each chunk written is its own segment.</summary>
    private sealed class ExactSizePool : MemoryPool<byte>
    {
        public override int MaxBufferSize => int.MaxValue;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => new Owner(new byte[Math.Max(minBufferSize, 1)]);

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Owner(byte[] array) : IMemoryOwner<byte>
        {
            public Memory<byte> Memory => array;

            public void Dispose()
            {
            }
        }
    }

    /// <summary>An endless stream of one byte value.</summary>
    private sealed class EndlessStream(byte value) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            buffer.Fill(value);
            BytesRead += buffer.Length;
            return buffer.Length;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
