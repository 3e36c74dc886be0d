using Orleans.Batch.Gateway.Hosting;

var app = GatewayApp.Build(GatewayApp.CreateBuilder(args));
await app.RunAsync();
