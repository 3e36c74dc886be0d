using Orleans.Batch.Gateway.Endpoints;
using Orleans.Batch.Gateway.Http;
using Orleans.Batch.Gateway.Quotas;
using Orleans.Batch.Gateway.Security;
using Orleans.Batch.Grains.Interfaces.Text;
using Orleans.Dashboard;

namespace Orleans.Batch.Gateway.Hosting;

/// <summary>Builds the gateway: the HTTP front of the cluster. Tests build the very same app.</summary>
public static class GatewayApp
{
    /// <param name="args">Command-line arguments, e.g. <c>--urls</c>.</param>
    /// <param name="overrides">Configuration that wins over every other source (tests use it).</param>
    public static WebApplicationBuilder CreateBuilder(string[] args, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        // The content root is the binaries' directory, not the working directory: configuration files are watched
        // for changes recursively under it, and a checkout's working directory holds PostgreSQL's data files.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.AddBatchApi();
        builder.AddBatchSecurity();
        builder.AddTenantRateLimits();
        builder.AddBatchOrleansClient();
        return builder;
    }

    public static WebApplication Build(WebApplicationBuilder builder)
    {
        var app = builder.Build();
        app.Use(RequestLimits.InvokeAsync);
        app.UseExceptionHandler();
        // A status set with no body (an unrouted path, a wrong method) is answered as problem details too.
        app.UseStatusCodePages(context => ProblemResponses.WriteAsync(context.HttpContext, ApiProblems.ForStatus(
            context.HttpContext.Response.StatusCode, context.HttpContext.Request.Method, StorableText.Printable(context.HttpContext.Request.Path.Value ?? "/"))));
        app.UseBatchSecurity();
        app.Use(TenantRateLimits.InvokeAsync);
        app.MapHealthEndpoints();
        app.MapAdminEndpoints();
        app.MapBatchEndpoints();
        app.MapImportEndpoints();
        app.MapResourceEndpoints();
        app.MapOrleansDashboard(routePrefix: "/dashboard").RequireAuthorization(SecurityPolicies.Admin);
        return app;
    }
}
