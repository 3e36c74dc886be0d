using Microsoft.Extensions.Options;

namespace Orleans.Batch.Grains.Hosting;

/// <summary>Options that list their own problems, one message per invalid setting.</summary>
public interface ISelfValidating
{
    IEnumerable<string> Problems();
}

/// <summary>Validates <typeparamref name="T"/> at start-up with its own <see cref="ISelfValidating.Problems"/>.</summary>
public sealed class SelfValidation<T> : IValidateOptions<T>
    where T : class, ISelfValidating
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var failures = options.Problems().ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
