using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Orleans.Batch.Tests.Infrastructure;

/// <summary>
/// A TCP relay between a fixture's silos and the test PostgreSQL that a test can cut (every connection dropped, new ones
/// refused, as when the server stops) and restore. Silos reach the database through <see cref="ConnectionString"/>.
/// </summary>
public sealed class PostgresProxy : IAsyncDisposable
{
    private readonly IPEndPoint _upstream;
    private readonly Lock _gate = new();
    private readonly List<TcpClient> _open = [];
    private TcpListener? _listener;

    /// <param name="port">Where the proxy listens on 127.0.0.1 (a test's own port).</param>
    public PostgresProxy(int port)
    {
        var target = new NpgsqlConnectionStringBuilder(TestEnvironment.Postgres);
        _upstream = new IPEndPoint(IPAddress.Parse(target.Host is "localhost" or null ? "127.0.0.1" : target.Host), target.Port);
        Port = port;
        ConnectionString = new NpgsqlConnectionStringBuilder(TestEnvironment.Postgres) { Host = "127.0.0.1", Port = port }.ConnectionString;
    }

    public int Port { get; }

    /// <summary>The test database's connection string, through the proxy.</summary>
    public string ConnectionString { get; }

    /// <summary>Starts (again) relaying connections.</summary>
    public void Restore()
    {
        lock (_gate)
        {
            if (_listener is not null)
            {
                return;
            }

            var listener = new TcpListener(IPAddress.Loopback, Port);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start();
            _listener = listener;
            _ = AcceptAsync(listener);
        }
    }

    /// <summary>Drops every relayed connection and refuses new ones until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        lock (_gate)
        {
            _listener?.Stop();
            _listener = null;
            _open.ForEach(client => client.Dispose());
            _open.Clear();
        }
    }

    public ValueTask DisposeAsync()
    {
        Cut();
        return ValueTask.CompletedTask;
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = RelayAsync(listener, client);
        }
    }

    private async Task RelayAsync(TcpListener listener, TcpClient client)
    {
        var server = new TcpClient();
        lock (_gate)
        {
            if (!ReferenceEquals(_listener, listener))
            {
                client.Dispose();
                server.Dispose();
                return;
            }

            _open.Add(client);
            _open.Add(server);
        }

        try
        {
            await server.ConnectAsync(_upstream);
            var (a, b) = (client.GetStream(), server.GetStream());
            await Task.WhenAny(a.CopyToAsync(b), b.CopyToAsync(a));
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The connection was cut, or one side closed it.
        }
        finally
        {
            client.Dispose();
            server.Dispose();
        }
    }
}
