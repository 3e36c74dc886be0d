using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Tests.Interfaces;

public sealed class BatchItemSliceTests
{
    [Fact]
    public void Decode_OfAnEncodedSlice_GivesBackEveryItemExactly()
    {
        BatchItem[] items =
        [
            new(new OperationRequest("a", "GET", "/users/1", null, null, null)),
            new(new OperationRequest("b", "POST", "/users", """{"email":"ü@example.org","name":"Zoë"}""",
                new Dictionary<string, string> { ["If-Match"] = "x", ["X-Empty"] = "" }, "batch-1", "key-1"), ["ü@example.org", "Zoë"]),
            new(new OperationRequest("row-3", "POST", "/users", "", null, "batch-1"), ["", "a,b"],
                new OperationResult("row-3", 400, """{"status":400}""", null)),
            new(new OperationRequest("row-4", "POST", "/users", null, null, null), [],
                new OperationResult("row-4", 201, null, "/users/9")),
        ];

        var decoded = BatchItemSlice.Of(items).Decode();

        Assert.Equal(items.Length, decoded.Count);
        for (var i = 0; i < items.Length; i++)
        {
            Assert.Equal(items[i].Operation with { Headers = null }, decoded[i].Operation with { Headers = null });
            Assert.Equal(items[i].Operation.Headers?.OrderBy(h => h.Key), decoded[i].Operation.Headers?.OrderBy(h => h.Key));
            Assert.Equal(items[i].Source, decoded[i].Source);
            Assert.Equal(items[i].Rejected, decoded[i].Rejected);
        }
    }

    [Fact]
    public void DecodeOperations_GivesTheOperationsInOrder()
    {
        BatchItem[] items =
        [
            new(new OperationRequest("a", "DELETE", "/users/1", null, null, "batch-1")),
            new(new OperationRequest("b", "POST", "/users", """{"email":"b@example.org"}""", null, "batch-1", "key-b"), ["b@example.org"]),
        ];

        Assert.Equal(items.Select(i => i.Operation), BatchItemSlice.Of(items).DecodeOperations());
    }

    [Fact]
    public void Decode_RepeatedMethodsAndPaths_ShareOneStringEach()
    {
        BatchItem[] items =
        [
            new(new OperationRequest("a", "POST", "/users", "{}", null, "batch-1")),
            new(new OperationRequest("b", "POST", "/users", "{}", null, "batch-1")),
            new(new OperationRequest("c", "DELETE", "/users/7", null, null, "batch-1")),
            new(new OperationRequest("d", "DELETE", "/users/8", null, null, "batch-1")),
        ];

        var decoded = BatchItemSlice.Of(items).DecodeOperations();

        Assert.Equal(items.Select(i => i.Operation), decoded);
        Assert.Same(decoded[0].Method, decoded[1].Method);
        Assert.Same(decoded[0].Path, decoded[1].Path);
        Assert.Same(decoded[0].BatchId, decoded[3].BatchId);
        Assert.Same(decoded[2].Method, decoded[3].Method);
        Assert.NotEqual(decoded[2].Path, decoded[3].Path);
    }

    [Theory]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(20_000)]
    [InlineData(3_000_000)]
    public void Decode_LongStrings_RoundTripAcrossLengthPrefixSizes(int length)
    {
        var body = new string('é', length / 2) + new string('x', length - (length / 2));
        BatchItem[] items = [new(new OperationRequest("a", "POST", "/users", body, null, null)), new(new OperationRequest("b", "POST", "/users", "{}", null, null))];

        var decoded = BatchItemSlice.Of(items).DecodeOperations();

        Assert.Equal(body, decoded[0].Body);
        Assert.Equal("{}", decoded[1].Body);
    }

    [Fact]
    public void Decode_OfNoItems_IsEmpty() => Assert.Empty(BatchItemSlice.Of([]).Decode());
}
