using Orleans.Batch.Grains.Interfaces.Operations;

namespace Orleans.Batch.Tests.Interfaces;

public sealed class EncodedChunkResultTests
{
    [Fact]
    public void Decode_OfAnEncodedResult_GivesBackEveryResultAndWhetherItIsRecorded()
    {
        var result = new ChunkResult(
            [
                new OperationResult("a", 201, """{"id":1,"email":"ü@example.org"}""", "/users/1"),
                new OperationResult("b", 201, null, null),
                new OperationResult("c", 400, """{"status":400}""", null),
                new OperationResult("", 204, "", null),
            ],
            [false, true, false, true]);

        var decoded = EncodedChunkResult.Of(result).Decode();

        Assert.Equal(result.Results, decoded.Results);
        Assert.Equal(result.Recorded, decoded.Recorded);
    }

    [Fact]
    public void Decode_OfNoResults_IsEmpty()
    {
        var decoded = EncodedChunkResult.Of(new ChunkResult([], [])).Decode();

        Assert.Empty(decoded.Results);
        Assert.Empty(decoded.Recorded);
    }
}
