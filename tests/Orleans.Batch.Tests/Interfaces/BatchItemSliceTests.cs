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
    public void Decode_OfNoItems_IsEmpty() => Assert.Empty(BatchItemSlice.Of([]).Decode());
}
