using System.Globalization;
using Xunit;

namespace Kaze.Cli.Tests.Infrastructure;

/// <summary>
/// The per-test fixture: unique channel names (<c>test-</c> + a new Guid), a private working and
/// home directory (so no kaze.json but the test's is found), the kaze processes a test starts and
/// the child pids it learns. On <see cref="Dispose"/> — whether the test passed or not — every
/// process still running is SIGKILLed and every /dev/shm/kaze-&lt;name&gt; of the test's channels is
/// removed.
/// </summary>
/// <remarks>Use one per test: a field of the test class, disposed by the class's Dispose.</remarks>
internal sealed class KazeRuns : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<KazeProcess> _processes = [];
    private readonly List<string> _channels = [];
    private readonly List<int> _childPids = [];

    public KazeRuns()
    {
        Directory = Path.Combine(Path.GetTempPath(), "kaze-cli-tests-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    /// <summary>The working directory and HOME of every kaze started here; removed on Dispose.</summary>
    public string Directory { get; }

    public static string ChannelPath(string channel) => "/dev/shm/kaze-" + channel;

    /// <summary>A channel name no other test uses; its file is removed on Dispose.</summary>
    public string NewChannel()
    {
        string name = "test-" + Guid.NewGuid().ToString("N");
        lock (_gate)
        {
            _channels.Add(name);
        }

        return name;
    }

    /// <summary>
    /// <c>kaze run --listen off --metrics off --channel CHANNEL [options] -- command...</c>: no TCP
    /// port (neither the mesh's nor the metrics'), so tests can run in parallel. An option given in
    /// <paramref name="options"/> replaces the default (kaze refuses an option given twice).
    /// </summary>
    public KazeProcess Run(string channel, IReadOnlyList<string> options, params string[] command)
    {
        List<string> arguments = ["run"];
        foreach (string option in new[] { "--listen", "--metrics" })
        {
            if (!options.Contains(option))
            {
                arguments.AddRange([option, "off"]);
            }
        }

        return Start([.. arguments, "--channel", channel, .. options, "--", .. command]);
    }

    /// <summary><c>kaze run ... -- sh -c SCRIPT</c>.</summary>
    public KazeProcess RunSh(string channel, IReadOnlyList<string> options, string script) =>
        Run(channel, options, "sh", "-c", script);

    /// <summary><c>kaze run ... -- dotnet Kaze.Echo.dll ARGS</c>.</summary>
    public KazeProcess RunEcho(string channel, IReadOnlyList<string> options, params string[] echoArguments) =>
        Run(channel, options, [TestPrograms.Dotnet, TestPrograms.Echo, .. echoArguments]);

    /// <summary><c>kaze run ... -- dotnet Kaze.TestHost.dll ARGS</c>.</summary>
    public KazeProcess RunTestHost(string channel, IReadOnlyList<string> options, params string[] hostArguments) =>
        Run(channel, options, [TestPrograms.Dotnet, TestPrograms.TestHost, .. hostArguments]);

    /// <summary><c>dotnet kaze.dll ARGS</c>, exactly, with <paramref name="environment"/> added to kaze's environment.</summary>
    public KazeProcess Start(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        KazeProcess kaze = KazeProcess.Start(arguments, Directory, Directory, environment);
        lock (_gate)
        {
            _processes.Add(kaze);
        }

        return kaze;
    }

    /// <summary>
    /// Waits for a child's "ready PID" line (scripts here print <c>echo "ready $$"</c>) and returns the
    /// pid, which is then killed on Dispose if it is still running (a child can outlive a SIGKILLed kaze).
    /// </summary>
    public async Task<int> WaitForReadyChildAsync(KazeProcess kaze, string what)
    {
        string line = await kaze.Stdout.WaitForLineAsync(l => l.StartsWith("ready ", StringComparison.Ordinal), what);
        // "ready PID", perhaps followed by more words (the HTTP test app adds its KAZE_HTTP_PORT).
        int pid = int.Parse(line["ready ".Length..].Split(' ')[0], NumberStyles.None, CultureInfo.InvariantCulture);
        lock (_gate)
        {
            _childPids.Add(pid);
        }

        return pid;
    }

    /// <summary>The channel file must be gone: every exit path of kaze removes it.</summary>
    public static void AssertChannelGone(string channel, string after)
    {
        string path = ChannelPath(channel);
        Assert.False(File.Exists(path), $"{path} still exists {after}");
    }

    public void Dispose()
    {
        KazeProcess[] processes;
        int[] pids;
        string[] channels;
        lock (_gate)
        {
            processes = [.. _processes];
            pids = [.. _childPids];
            channels = [.. _channels];
        }

        foreach (KazeProcess kaze in processes)
        {
            kaze.Dispose();
        }

        foreach (int pid in pids)
        {
            if (Posix.IsRunning(pid))
            {
                Posix.Kill(pid, Posix.SIGKILL);
            }
        }

        foreach (string channel in channels)
        {
            File.Delete(ChannelPath(channel));
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A child killed just now may still be writing there; /tmp is cleaned eventually.
        }
    }
}
