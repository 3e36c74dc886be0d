using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>
/// A TCP proxy in front of the test PostgreSQL, on a port of its own: silos given <see cref="ConnectionString"/> reach the
/// database only through it, so a test can take the database away from them (<see cref="CutAsync"/>: every connection
/// ended as a PostgreSQL shutdown ends it, new ones refused) and give it back (<see cref="RestoreAsync"/>).
/// </summary>
public sealed class PostgresProxy : IAsyncDisposable
{
    private readonly string _direct;
    private readonly IPEndPoint _target;
    private readonly ConcurrentDictionary<Socket, byte> _open = new();

    /// <summary>The proxy's own connections to PostgreSQL, whose local ports name their backends.</summary>
    private readonly ConcurrentDictionary<Socket, int> _upstream = new();
    private readonly CancellationTokenSource _disposed = new();
    private TcpListener? _listener;

    public PostgresProxy(string connectionString)
    {
        _direct = connectionString;
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        _target = new IPEndPoint(IPAddress.Parse(builder.Host!), builder.Port);
        // Port 0 lets the system pick a free port; Restore listens on that same port again.
        Port = Listen(0);
        builder.Host = "127.0.0.1";
        builder.Port = Port;
        ConnectionString = builder.ConnectionString;
    }

    public int Port { get; }

    /// <summary>The test database's connection string, through this proxy.</summary>
    public string ConnectionString { get; }

    public bool IsCut => _listener is null;

    /// <summary>
    /// Stops listening, so new connections are refused; ends the backends of the open ones as a shutdown does (each client
    /// reads error 57P01), then resets whatever is left.
    /// </summary>
    public async Task CutAsync()
    {
        _listener?.Stop();
        _listener = null;
        var ports = _upstream.Values.ToArray();
        if (ports.Length > 0)
        {
            await using var direct = new NpgsqlConnection(_direct);
            await direct.OpenAsync();
            await using var terminate = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE client_port = ANY($1)", direct);
            terminate.Parameters.AddWithValue(ports);
            await terminate.ExecuteScalarAsync();
            // The error reaches each client through the proxy before it resets the connection.
            await Task.Delay(100);
        }

        foreach (var socket in _open.Keys)
        {
            Reset(socket);
        }
    }

    /// <summary>Listens again on <see cref="Port"/>.</summary>
    public Task RestoreAsync()
    {
        if (_listener is null)
        {
            Listen(Port);
        }

        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync();
        await CutAsync();
        _disposed.Dispose();
    }

    private int Listen(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        _listener = listener;
        _ = AcceptAsync(listener);
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (!_disposed.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(_disposed.Token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
            {
                return;
            }

            _ = ForwardAsync(client);
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        var server = new Socket(SocketType.Stream, ProtocolType.Tcp);
        _open.TryAdd(client, 0);
        _open.TryAdd(server, 0);
        try
        {
            await server.ConnectAsync(_target, _disposed.Token);
            if (IsCut)
            {
                return;
            }

            _upstream[server] = ((IPEndPoint)server.LocalEndPoint!).Port;

            // Either direction ending ends both: the other side then sees the connection go, as it would with the server.
            await Task.WhenAny(PumpAsync(client, server), PumpAsync(server, client));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            _upstream.TryRemove(server, out _);
            Reset(client);
            Reset(server);
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await from.ReceiveAsync(buffer, SocketFlags.None, _disposed.Token) is > 0 and var read)
            {
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _disposed.Token);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
    }

    /// <summary>Closes with a reset, not a graceful end: the peer's next read or write fails at once.</summary>
    private void Reset(Socket socket)
    {
        if (_open.TryRemove(socket, out _))
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            socket.Dispose();
        }
    }
}
