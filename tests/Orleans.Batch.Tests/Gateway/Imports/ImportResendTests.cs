using Orleans.Batch.Gateway.Imports;
using Orleans.Batch.Grains.Batches;
using Orleans.Batch.Grains.Interfaces.Batches;

namespace Orleans.Batch.Tests.Gateway.Imports;

public sealed class ImportResendTests
{
    [Fact]
    public void Decide_NoBatchKept_StartsAnew() =>
        Assert.Equal(ResendAction.StartAnew, ImportResend.Decide(new BatchCommandResult(null), 100));

    [Fact]
    public void Decide_FirstUploadMayStillRun_IsStillUploading() =>
        Assert.Equal(ResendAction.StillUploading, ImportResend.Decide(new BatchCommandResult(Progress(BatchStatus.Processing, 100, 40), "busy"), 100));

    [Theory]
    [InlineData(BatchStatus.Processing)]
    [InlineData(BatchStatus.Completed)]
    [InlineData(BatchStatus.Failed)]
    [InlineData(BatchStatus.Cancelled)]
    public void Decide_EveryRowStored_IsAnsweredAsAccepted(BatchStatus status) =>
        Assert.Equal(ResendAction.Accepted, ImportResend.Decide(new BatchCommandResult(Progress(status, 100, 100)), 100));

    [Theory]
    [InlineData(BatchStatus.Processing, 100, 40, false)]
    [InlineData(BatchStatus.Failed, 100, 40, true)]
    [InlineData(BatchStatus.Processing, 100, 40, true)]
    [InlineData(BatchStatus.Pending, 40, 40, false)]
    [InlineData(BatchStatus.Pending, 100, 100, false)]
    public void Decide_RowsMissingOrNeverSealed_ResumesFromTheFirstMissing(BatchStatus status, int total, int stored, bool stopped) =>
        Assert.Equal(ResendAction.Resume, ImportResend.Decide(new BatchCommandResult(Progress(status, total, stored, stopped)), 100));

    [Fact]
    public void Decide_CancelledWhileUploading_TheBatchHoldsLessThanTheFile_IsRefused() =>
        Assert.Equal(ResendAction.CancelledPart, ImportResend.Decide(new BatchCommandResult(Progress(BatchStatus.Cancelled, 40, 40)), 100));

    [Theory]
    [InlineData(0, 120, true)]
    [InlineData(119_999, 120, true)]
    [InlineData(120_000, 120, false)]
    [InlineData(300_000, 120, false)]
    public void StillUploading_UntilTheUploadTimeoutWithoutNews(int silentMs, int timeoutSeconds, bool expected) =>
        Assert.Equal(expected, UploadDecisions.StillUploading(TimeSpan.FromMilliseconds(silentMs), TimeSpan.FromSeconds(timeoutSeconds)));

    [Fact]
    public void StoppedReason_SaysHowFarTheUploadGot_AndHowToCompleteIt() =>
        Assert.Equal(
            "The upload stopped after 6000 of 20000 items (the upload failed); the batch runs only the items it holds. Send the same request again with the same Idempotency-Key to store and run the rest.",
            UploadDecisions.StoppedReason(6000, 20000, "the upload failed"));

    private static BatchProgress Progress(BatchStatus status, int total, int stored, bool stopped = false) =>
        new("b", status, total, 0, 0, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, 1, null, 0, null, Stored: stored, UploadStopped: stopped);
}
