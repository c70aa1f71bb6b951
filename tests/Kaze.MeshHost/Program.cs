using Kaze.Core;
using Kaze.Host;

namespace Kaze.MeshHost;

/// <summary>
/// A mesh node's host for the end-to-end mesh tests: answers <c>echo</c>, records <c>mark</c>
/// packets, and makes calls and notifies on any route when the test asks through its control socket.
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: kaze run -- dotnet Kaze.MeshHost.dll serve <control-socket-path>
          serve   answer `echo`, record `mark`, take commands on the Unix socket (see README.md);
                  prints "ready <pid>"; exits 0 on the sidecar's exit request, 1 if the sidecar is lost
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args is not ["serve", string socketPath])
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        try
        {
            return await ServeAsync(socketPath);
        }
        catch (Exception e) when (e is KazeHostException or ChannelException)
        {
            Console.Error.WriteLine("Kaze.MeshHost: " + e.Message);
            return 2;
        }
    }

    private static async Task<int> ServeAsync(string socketPath)
    {
        await using KazeClient client = KazeClient.ConnectFromEnvironment();
        var marks = new MarkBook();
        client.AddHandler(Node.EchoBodyType, static (request, _) => ValueTask.FromResult(KazeReply.Ok(request.Body, Node.EchoBodyType)));
        client.AddHandler(Node.MarkBodyType, marks.Handle(client.LocalIdent));
        client.AddHandler(Node.SlowMarkBodyType, marks.Handle(client.LocalIdent, Node.SlowMarkDelay));
        client.AddHandler(Node.HangMarkBodyType, marks.Handle(client.LocalIdent, Node.HangMarkDelay));
        client.Start();

        var node = new Node(client, marks);
        await using var control = ControlServer.Start(socketPath, node.ExecuteAsync);
        Console.Out.WriteLine($"ready {Environment.ProcessId}");
        Console.Out.Flush();

        var exitRequested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration onExit = client.ExitRequested.Register(() => exitRequested.TrySetResult());
        await Task.WhenAny(exitRequested.Task, client.Completion);
        await node.StopTrafficAsync();
        if (client.IsExitRequested)
        {
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.StopAsync(grace.Token);
            return 0;
        }

        Console.Error.WriteLine($"Kaze.MeshHost: the sidecar was lost ({client.Completion.Result})");
        return 1;
    }
}
