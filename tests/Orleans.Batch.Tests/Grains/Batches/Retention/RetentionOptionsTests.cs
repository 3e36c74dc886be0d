using Orleans.Batch.Grains.Batches.Retention;

namespace Orleans.Batch.Tests.Grains.Batches.Retention;

public sealed class RetentionOptionsTests
{
    [Fact]
    public void Defaults_AreValid()
    {
        var options = new RetentionOptions();

        Assert.Empty(options.Validate());
        Assert.Equal((TimeSpan.FromMinutes(1), 100), (options.SweepInterval, options.SliceSize));
    }

    [Theory]
    [InlineData("00:00:00.500")]
    [InlineData("1.00:00:01")]
    public void SweepInterval_OutOfRange_IsAnError(string interval)
    {
        var options = new RetentionOptions { SweepInterval = TimeSpan.Parse(interval, System.Globalization.CultureInfo.InvariantCulture) };

        Assert.Equal([$"Retention:SweepInterval must be from 1 s to 1 day; got {options.SweepInterval}."], options.Validate());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10_001)]
    public void SliceSize_OutOfRange_IsAnError(int size)
    {
        var options = new RetentionOptions { SliceSize = size };

        Assert.Equal([$"Retention:SliceSize must be from 1 to 10,000; got {size}."], options.Validate());
    }
}
