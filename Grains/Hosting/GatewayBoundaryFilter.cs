using Microsoft.Extensions.Logging;
using Orleans.Batch.Grains.Database;
using Orleans.Batch.Grains.Interfaces.Batches;
using Orleans.Batch.Grains.Interfaces.Errors;
using Orleans.Batch.Grains.Interfaces.Health;
using Orleans.Batch.Grains.Interfaces.Operations;
using Orleans.Batch.Grains.Interfaces.Tenancy;

namespace Orleans.Batch.Grains.Hosting;

/// <summary>
/// Makes every exception that leaves a grain the gateway calls one the gateway can read and answer with its documented
/// status: a lost database a <see cref="DatabaseUnavailableException"/> (503), anything else that is not part of the
/// grains' contract a <see cref="ServerFailureException"/> (500) whose message holds only a reference to the original,
/// which is logged here. The gateway has no Npgsql, and a type it cannot load or decode would reach a client as a 500
/// naming it. Calls between grains inside the silo (a batch's chunks) keep their original exceptions, which their
/// callers tell apart.
/// </summary>
internal sealed partial class GatewayBoundaryFilter(ILogger<GatewayBoundaryFilter> logger) : IIncomingGrainCallFilter
{
    private static readonly HashSet<Type> GatewayFacing = [typeof(IBatchGrain), typeof(ISubmissionGrain), typeof(IOperationGrain), typeof(IHealthGrain),
        typeof(ITenantGrain), typeof(ITenantAdminGrain), typeof(IApiKeyGrain)];

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        // A lost database passes on to DatabaseExceptionFilter, registered before this one, which wraps every call.
        catch (Exception e) when (context.InterfaceMethod?.DeclaringType is { } type && GatewayFacing.Contains(type) && !IsContract(e)
            && !DatabaseAvailability.IsUnavailable(e))
        {
            var reference = Guid.NewGuid().ToString("N")[..12];
            LogServerFailure(context.InterfaceName, context.MethodName, reference, e);
            throw new ServerFailureException(reference);
        }
    }

    /// <summary>
    /// Exceptions the callers of these grains read as they are: the project's own errors, a caller's mistake or a call in
    /// the wrong state (argument and invalid-operation exceptions, which an import tells from failures worth retrying),
    /// a deleted batch (410) or a quota reached (429), a cancelled call, and the Orleans runtime's own failures of a call to another grain (not those of its providers, such as Redis
    /// clustering's, which have no codec).
    /// </summary>
    internal static bool IsContract(Exception exception) =>
        exception is DatabaseUnavailableException or ServerFailureException or ArgumentException or InvalidOperationException
            or OperationCanceledException or TimeoutException or BatchGoneException or TenantQuotaExceededException
        || (exception is OrleansException && exception.GetType().Assembly.GetName().Name is "Orleans.Core.Abstractions" or "Orleans.Core");

    [LoggerMessage(EventId = 1100, Level = LogLevel.Error, Message = "{Interface}.{Method} failed (reference {Reference}); the caller was told only the reference")]
    private partial void LogServerFailure(string @interface, string method, string reference, Exception exception);
}
