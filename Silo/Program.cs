using Microsoft.Extensions.Hosting;
using Orleans.Batch.Grains.Hosting;
using Orleans.Batch.Silo;

var builder = Host.CreateApplicationBuilder(args);
var endpoints = SiloEndpointOptions.Bind(builder.Configuration);
builder.UseOrleans(silo => silo
    .UseBatchEndpoints(endpoints)
    .AddOrleansBatch(builder.Configuration));
await builder.Build().RunAsync();
