using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kaze.Host;

namespace Kaze.MeshHost;

/// <summary>The commands of the control socket (see README.md), run against this host's client.</summary>
internal sealed class Node(KazeClient client, MarkBook marks)
{
    public const string EchoBodyType = "echo";
    public const string MarkBodyType = "mark";

    /// <summary>Recorded at once like <see cref="MarkBodyType"/>, answered after <see cref="SlowMarkDelay"/>: a member slower than a failure.</summary>
    public const string SlowMarkBodyType = "mark-slow";

    public static readonly TimeSpan SlowMarkDelay = TimeSpan.FromSeconds(1);

    /// <summary>Recorded at once, answered only after <see cref="HangMarkDelay"/>: a call that is still pending when its callee leaves.</summary>
    public const string HangMarkBodyType = "mark-hang";

    public static readonly TimeSpan HangMarkDelay = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, Traffic> _traffic = new(StringComparer.Ordinal);

    /// <summary>Runs one command line; the answer is one line.</summary>
    public async Task<string> ExecuteAsync(string line)
    {
        string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        KazeRoute route;
        string? error;
        switch (words)
        {
            case ["ident"]:
                return $"ident value={client.LocalIdent}";

            case ["call", string routeText, string countText, string inflightText, string timeoutText]:
                if (!RouteText.TryParse(routeText, out route, out error))
                {
                    return Error(error);
                }

                if (!TryCount(countText, out int count) || !TryCount(inflightText, out int inflight) || !TryCount(timeoutText, out int timeoutMs))
                {
                    return Error($"call: COUNT, INFLIGHT and TIMEOUT_MS must be whole numbers of at least 1: '{line}'");
                }

                return "call " + await CallManyAsync(route, count, Math.Min(inflight, count), TimeSpan.FromMilliseconds(timeoutMs));

            case ["notify", string routeText, string tag]:
                if (!RouteText.TryParse(routeText, out route, out error))
                {
                    return Error(error);
                }

                bool sent = await client.SendAsync(route, MarkBodyType, Encoding.UTF8.GetBytes(tag));
                return $"notify sent={sent}";

            case ["request", string routeText, string tag, string timeoutText, .. string[] rest] when rest.Length <= 1:
                if (!RouteText.TryParse(routeText, out route, out error))
                {
                    return Error(error);
                }

                if (!TryCount(timeoutText, out int requestTimeoutMs))
                {
                    return Error($"request: TIMEOUT_MS must be a whole number of at least 1: '{line}'");
                }

                string bodyType = rest is [string given] ? given : MarkBodyType;
                KazeResponse response = await client.CallAsync(route, bodyType, Encoding.UTF8.GetBytes(tag), TimeSpan.FromMilliseconds(requestTimeoutMs));
                string body = response.Body.IsEmpty ? "none" : Encoding.UTF8.GetString(response.Body.Span);
                return $"request code={response.Code} source={response.Source} local={response.IsLocal} body={body}";

            case ["marks", string tag]:
                return "marks " + marks.Describe(tag);

            case ["traffic-start", string name, string routeText, string timeoutText, string intervalText]:
                if (!RouteText.TryParse(routeText, out route, out error))
                {
                    return Error(error);
                }

                if (!TryCount(timeoutText, out int trafficTimeoutMs) || !int.TryParse(intervalText, NumberStyles.None, CultureInfo.InvariantCulture, out int intervalMs))
                {
                    return Error($"traffic-start: TIMEOUT_MS must be at least 1 and INTERVAL_MS at least 0: '{line}'");
                }

                var traffic = new Traffic();
                if (!_traffic.TryAdd(name, traffic))
                {
                    return Error($"traffic '{name}' exists already");
                }

                traffic.Start(() => TrafficLoopAsync(traffic, route, TimeSpan.FromMilliseconds(trafficTimeoutMs), intervalMs));
                return $"traffic-start name={name}";

            case ["traffic-status", string name]:
                return _traffic.TryGetValue(name, out Traffic? running)
                    ? $"traffic running={!running.Loop.IsCompleted} {running.Stats.Describe()}"
                    : Error($"no traffic '{name}'");

            case ["traffic-stop", string name]:
                if (!_traffic.TryGetValue(name, out Traffic? stopping))
                {
                    return Error($"no traffic '{name}'");
                }

                await stopping.StopAsync();
                return $"traffic running=False {stopping.Stats.Describe()}";

            default:
                return Error($"unknown command '{line}'");
        }
    }

    public Task StopTrafficAsync() => Task.WhenAll(_traffic.Values.Select(t => t.StopAsync()));

    private async Task<string> CallManyAsync(KazeRoute route, int count, int inflight, TimeSpan timeout)
    {
        var stats = new CallStats();
        int next = -1;
        Task[] workers = [.. Enumerable.Range(0, inflight).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await CallOnceAsync(route, i, timeout, stats);
            }
        }))];
        await Task.WhenAll(workers);
        return stats.Describe();
    }

    private async Task TrafficLoopAsync(Traffic traffic, KazeRoute route, TimeSpan timeout, int intervalMs)
    {
        CancellationToken stop = traffic.Stopping;
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            await CallOnceAsync(route, i, timeout, traffic.Stats);
            if (intervalMs > 0)
            {
                try
                {
                    // Paces the load (a failing peer answers at once); not a synchronisation.
                    await Task.Delay(intervalMs, stop);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private async Task CallOnceAsync(KazeRoute route, int index, TimeSpan timeout, CallStats stats)
    {
        // 1 to 3000 bytes, random, with the call's index first: a crossed or damaged answer cannot pass.
        byte[] body = new byte[1 + (int)(index * 389L % 3000)];
        Random.Shared.NextBytes(body);
        BitConverter.TryWriteBytes(body, index);
        long start = Stopwatch.GetTimestamp();
        KazeResponse response = await client.CallAsync(route, EchoBodyType, body, timeout);
        double milliseconds = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        stats.Add(response, response.Body.Span.SequenceEqual(body), milliseconds);
    }

    private static bool TryCount(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= 1;

    private static string Error(string message) => "error message=" + message;

    /// <summary>A call loop running until stopped.</summary>
    private sealed class Traffic
    {
        private readonly CancellationTokenSource _stop = new();

        public CallStats Stats { get; } = new();

        public Task Loop { get; private set; } = Task.CompletedTask;

        public CancellationToken Stopping => _stop.Token;

        public void Start(Func<Task> loop) => Loop = Task.Run(loop);

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await Loop;
        }
    }
}
