using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Kaze.Cli.Tests.Infrastructure;
using Xunit.Sdk;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>
/// One node of a <see cref="LoopbackMesh"/>: a real `kaze run` on a loopback port with a
/// Kaze.MeshHost under it, which the test drives through its control socket (one command, one
/// answer line; see tests/Kaze.MeshHost/README.md).
/// </summary>
internal sealed class MeshNode(string ident, int port, string controlPath, IReadOnlyList<string> options)
{
    /// <summary>The node's ident, dotted, e.g. "0.0.1.1".</summary>
    public string Ident { get; } = ident;

    /// <summary>The sidecar's listen port; a restarted node keeps it.</summary>
    public int Port { get; } = port;

    /// <summary>"127.0.0.1:PORT": its --listen, and its address in the other nodes' --node.</summary>
    public string Address => "127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The host's control socket.</summary>
    public string ControlPath { get; } = controlPath;

    /// <summary>Options of this node's `kaze run` besides ident, listen, metrics, channel and nodes (e.g. --secret-file).</summary>
    public IReadOnlyList<string> Options { get; } = options;

    /// <summary>The current kaze process (a new one after a restart).</summary>
    public KazeProcess Kaze { get; set; } = null!;

    /// <summary>The current host's pid, from its "ready PID" line.</summary>
    public int HostPid { get; set; }

    /// <summary>"node:IDENT": the route to this node, as the host's commands write it.</summary>
    public string Route => "node:" + Ident;

    public override string ToString() => Ident;

    /// <summary>Sends the host one command and returns its answer line; an "error ..." answer fails the test.</summary>
    public async Task<string> CommandAsync(string command, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? Deadline.Long;
        using var cts = new CancellationTokenSource(limit);
        string? answer;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(ControlPath), cts.Token);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await stream.WriteAsync(Encoding.UTF8.GetBytes(command + "\n"), cts.Token);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            answer = await reader.ReadLineAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new XunitException($"Timed out after {limit.TotalSeconds:0.###} s waiting for {Ident}'s host to answer '{command}' ({what}).\n{Kaze.Describe()}");
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            throw new XunitException($"Cannot talk to {Ident}'s host for '{command}' ({what}): {e.Message}\n{Kaze.Describe()}");
        }

        if (answer is null)
        {
            throw new XunitException($"{Ident}'s host hung up without answering '{command}' ({what}).\n{Kaze.Describe()}");
        }

        return answer.StartsWith("error ", StringComparison.Ordinal)
            ? throw new XunitException($"{Ident}'s host refused '{command}' ({what}): {answer}")
            : answer;
    }

    /// <summary><paramref name="count"/> echo calls along <paramref name="route"/>, <paramref name="inflight"/> at a time, each with its own timeout.</summary>
    public async Task<CallSummary> CallAsync(string route, int count, int inflight = 1, int timeoutMs = 5000, TimeSpan? within = null) =>
        CallSummary.Parse(await CommandAsync(
            FormattableString.Invariant($"call {route} {count} {inflight} {timeoutMs}"),
            $"{count} echo calls from {Ident} to {route}",
            within ?? Deadline.Long));

    /// <summary>A "mark" notify along <paramref name="route"/>, with <paramref name="tag"/> as its body.</summary>
    public async Task NotifyAsync(string route, string tag)
    {
        string answer = await CommandAsync($"notify {route} {tag}", $"{Ident} to send a notify to {route}");
        if (answer != "notify sent=True")
        {
            throw new XunitException($"{Ident} could not send its notify to {route}: {answer}");
        }
    }

    /// <summary>A "mark" (or <paramref name="bodyType"/>) request along <paramref name="route"/>; the answer line (<c>request code=.. source=.. local=.. body=..</c>).</summary>
    public Task<string> RequestAsync(string route, string tag, int timeoutMs = 5000, string bodyType = "mark") =>
        CommandAsync(FormattableString.Invariant($"request {route} {tag} {timeoutMs} {bodyType}"), $"{Ident}'s {bodyType} request to {route}");

    /// <summary>The "mark" packets this host received with <paramref name="tag"/>: "SOURCE/notify" or "SOURCE/request", sorted.</summary>
    public async Task<IReadOnlyList<string>> MarksAsync(string tag)
    {
        string answer = await CommandAsync("marks " + tag, $"the marks {Ident} received");
        string from = Fields.Get(answer, "from");
        return from == "none" ? [] : from.Split(',');
    }

    /// <summary>Starts echo calls along <paramref name="route"/>, one at a time, until <see cref="StopTrafficAsync"/>.</summary>
    public Task StartTrafficAsync(string name, string route, int timeoutMs, int intervalMs) =>
        CommandAsync(FormattableString.Invariant($"traffic-start {name} {route} {timeoutMs} {intervalMs}"), $"{Ident} to start traffic to {route}");

    public async Task<CallSummary> TrafficAsync(string name) =>
        CallSummary.Parse(await CommandAsync("traffic-status " + name, $"the state of {Ident}'s traffic {name}"));

    /// <summary>Stops the traffic; returns once its last call has ended (bounded by that call's timeout).</summary>
    public async Task<CallSummary> StopTrafficAsync(string name) =>
        CallSummary.Parse(await CommandAsync("traffic-stop " + name, $"{Ident}'s traffic {name} to stop"));
}
