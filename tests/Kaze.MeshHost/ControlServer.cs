using System.Net.Sockets;
using System.Text;

namespace Kaze.MeshHost;

/// <summary>The test's way in: a Unix stream socket; each line received is a command, each answer one line back.</summary>
internal sealed class ControlServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _path;
    private readonly Func<string, Task<string>> _execute;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;

    private ControlServer(string path, Func<string, Task<string>> execute)
    {
        _path = path;
        _execute = execute;
        File.Delete(path);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(16);
        _accepting = Task.Run(AcceptLoopAsync);
    }

    public static ControlServer Start(string path, Func<string, Task<string>> execute) => new(path, execute);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Dispose();
        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        File.Delete(_path);
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(connection));
        }
    }

    private async Task ServeAsync(Socket connection)
    {
        await using var stream = new NetworkStream(connection, ownsSocket: true);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        await using var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        try
        {
            while (await reader.ReadLineAsync(_stopping.Token) is { } line)
            {
                string answer;
                try
                {
                    answer = await _execute(line);
                }
                catch (Exception e)
                {
                    answer = "error message=" + e.GetType().Name + ": " + e.Message.ReplaceLineEndings(" ");
                }

                await writer.WriteLineAsync(answer);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The test hung up, or this host is stopping.
        }
    }
}
