using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Batch.Grains.Hosting;
using Orleans.Configuration;
using BatchSilo = Orleans.Batch.Grains.Hosting.SiloBuilderExtensions;

namespace Orleans.Batch.Tests.Grains.Hosting;

/// <summary>The directory cache's size a silo gets from <see cref="BatchSilo.AddOrleansBatch"/>; the host is built, never started.</summary>
public sealed class SiloDirectoryCacheTests
{
    [Fact]
    public void AddOrleansBatch_NoSetting_CachesTheDocumentedNumberOfAddresses() =>
        Assert.Equal(BatchSilo.DirectoryCacheSize, CacheSize(null));

    [Fact]
    public void AddOrleansBatch_CacheSizeSet_TakesTheSetting() => Assert.Equal(2500, CacheSize("2500"));

    private static int CacheSize(string? setting)
    {
        var builder = Host.CreateApplicationBuilder();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = "127.0.0.1:1",
            ["ConnectionStrings:Postgres"] = "Host=127.0.0.1;Port=1;Username=postgres;Database=none",
        };
        if (setting is not null)
        {
            settings["GrainDirectory:CacheSize"] = setting;
        }

        builder.Configuration.AddInMemoryCollection(settings);
        builder.UseOrleans(silo => silo.AddOrleansBatch(builder.Configuration));
        using var host = builder.Build();
        return host.Services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value.CacheSize;
    }
}
