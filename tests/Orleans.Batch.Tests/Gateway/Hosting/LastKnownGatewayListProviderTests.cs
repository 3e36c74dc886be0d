using Orleans.Batch.Gateway.Hosting;
using Orleans.Messaging;

namespace Orleans.Batch.Tests.Gateway.Hosting;

public sealed class LastKnownGatewayListProviderTests
{
    private static readonly Uri A = new("gwy.tcp://127.0.0.1:30000/1");
    private static readonly Uri B = new("gwy.tcp://127.0.0.1:30001/2");

    [Fact]
    public async Task GetGateways_TableNamesNone_AnswersTheLastListThatNamedAny()
    {
        var table = new Table([A, B]);
        var provider = new LastKnownGatewayListProvider(table);
        Assert.Equal([A, B], await provider.GetGatewaysAsync(CancellationToken.None));

        table.Answer = [];

        Assert.Equal([A, B], await provider.GetGatewaysAsync(CancellationToken.None));
    }

    [Fact]
    public async Task GetGateways_TableNamesOthers_AnswersThem()
    {
        var table = new Table([A, B]);
        var provider = new LastKnownGatewayListProvider(table);
        await provider.GetGatewaysAsync(CancellationToken.None);

        table.Answer = [B];

        Assert.Equal([B], await provider.GetGatewaysAsync(CancellationToken.None));
    }

    [Fact]
    public async Task GetGateways_NothingKnownYet_AnswersEmpty()
    {
        var provider = new LastKnownGatewayListProvider(new Table([]));

        Assert.Empty(await provider.GetGatewaysAsync(CancellationToken.None));
    }

    [Fact]
    public async Task GetGateways_TableUnreachable_Fails_SoTheClientKeepsItsOwnList()
    {
        var table = new Table([A]);
        var provider = new LastKnownGatewayListProvider(table);
        await provider.GetGatewaysAsync(CancellationToken.None);

        table.Failure = new InvalidOperationException("Redis is away");

        await Assert.ThrowsAsync<InvalidOperationException>(() => provider.GetGatewaysAsync(CancellationToken.None));
    }

    private sealed class Table(IList<Uri> answer) : IGatewayListProvider
    {
        public IList<Uri> Answer { get; set; } = answer;

        public Exception? Failure { get; set; }

        public TimeSpan MaxStaleness => TimeSpan.FromMinutes(1);

        public bool IsUpdatable => true;

        public Task InitializeGatewayListProvider() => Task.CompletedTask;

        public Task<IList<Uri>> GetGateways() => Failure is null ? Task.FromResult(Answer) : Task.FromException<IList<Uri>>(Failure);
    }
}
