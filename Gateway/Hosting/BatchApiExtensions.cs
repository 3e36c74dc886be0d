using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Orleans.Batch.Gateway.Http;

namespace Orleans.Batch.Gateway.Hosting;

public static class BatchApiExtensions
{
    /// <summary>The HTTP API: its limits, validated at start-up, and problem details for every error.</summary>
    public static WebApplicationBuilder AddBatchApi(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<BatchApiOptions>()
            .Bind(builder.Configuration.GetSection(BatchApiOptions.Section))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<BatchApiOptions>, OptionsValidator<BatchApiOptions>>();
        builder.Services.AddSingleton<IConfigureOptions<KestrelServerOptions>, KestrelLimits>();
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.DefaultIgnoreCondition =
            System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull);
        return builder;
    }

    private sealed class KestrelLimits(IOptions<BatchApiOptions> options) : IConfigureOptions<KestrelServerOptions>
    {
        public void Configure(KestrelServerOptions kestrel)
        {
            kestrel.Limits.MaxRequestBodySize = options.Value.MaxRequestBytes;
            RequestLimits.Configure(kestrel.Limits);
            kestrel.ConfigureEndpointDefaults(KestrelErrorBodies.Use);
        }
    }
}

/// <summary>Options of the gateway that list their own problems, one message per invalid setting.</summary>
internal interface IValidatedOptions
{
    IEnumerable<string> Validate();
}

/// <summary>Validates <typeparamref name="T"/> at start-up with its own <see cref="IValidatedOptions.Validate"/>.</summary>
internal sealed class OptionsValidator<T> : IValidateOptions<T>
    where T : class, IValidatedOptions
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var failures = options.Validate().ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
