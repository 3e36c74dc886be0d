using Microsoft.Extensions.Hosting;
using Orleans.Batch.Grains.Hosting;
using Orleans.Batch.Silo;

// The content root is the binaries' directory, not the working directory: configuration files are watched for
// changes recursively under it, and a checkout's working directory holds PostgreSQL's data files.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
var endpoints = SiloEndpointOptions.Bind(builder.Configuration);
builder.UseOrleans(silo => silo
    .UseBatchEndpoints(endpoints)
    .AddOrleansBatch(builder.Configuration));
await builder.Build().RunAsync();
