// The smallest Kaze host: it answers "greet" requests and calls itself once through its sidecar.
// Run it under a sidecar:  kaze run -- dotnet Kaze.Quickstart.dll [--serve]
using System.Runtime.InteropServices;
using System.Text;
using Kaze.Core;
using Kaze.Host;
using Kaze.Protocol;

try
{
    // KAZE_CHANNEL, KAZE_IDENT and KAZE_SIDECAR_PID come from `kaze run`.
    await using KazeClient client = KazeClient.ConnectFromEnvironment();

    // A handler per body type: it gets the request and returns the reply (here at once).
    client.AddHandler("greet", (request, cancellationToken) =>
    {
        string name = Encoding.UTF8.GetString(request.Body.Span);
        return ValueTask.FromResult(KazeReply.Ok(Encoding.UTF8.GetBytes("hello, " + name), "greet"));
    });
    client.Start();

    // Ident.Any (0.0.0.0) is this host itself; another node would be e.g. Ident.Parse("0.0.0.2").
    KazeResponse response = await client.CallAsync(Ident.Any, "greet", Encoding.UTF8.GetBytes("world"), TimeSpan.FromSeconds(2));
    if (!response.IsOk)
    {
        Console.Error.WriteLine($"quickstart: the call failed: {response}");
        return 1;
    }

    Console.WriteLine(Encoding.UTF8.GetString(response.Body.Span));

    if (args is ["--serve"])
    {
        // Serve until the sidecar's kaze.exit notify or the end of the channel. kaze passes
        // SIGTERM and SIGINT on before it sends kaze.exit: keep them from ending the process.
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => context.Cancel = true);
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => context.Cancel = true);
        await Task.WhenAny(Task.Delay(Timeout.Infinite, client.ExitRequested), client.Completion);
        await client.StopAsync();   // waits for handlers and queued packets, then closes the channel
    }

    return 0;
}
catch (Exception e) when (e is KazeHostException or ChannelException)
{
    // Not started under `kaze run`, or no usable channel: the message says which and what to do.
    Console.Error.WriteLine("quickstart: " + e.Message);
    return 2;
}
