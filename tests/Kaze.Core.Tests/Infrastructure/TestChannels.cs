namespace Kaze.Core.Tests.Infrastructure;

/// <summary>
/// The per-test channel fixture: hands out unique channel names ("test-" + a new Guid), tracks the
/// channels a test makes, and on <see cref="Dispose"/> closes them and removes
/// /dev/shm/kaze-&lt;name&gt; (and any temp file of that name), whether the test passed or not.
/// </summary>
/// <remarks>
/// Use one per test: a field of the test class, disposed by the class's own Dispose (xunit makes
/// a new instance of the class for every test and disposes it after the test, even on failure).
/// </remarks>
internal sealed class TestChannels : IDisposable
{
    private readonly object _gate = new();
    private readonly List<string> _names = [];
    private readonly List<ShmChannel> _channels = [];

    /// <summary>A channel name no other test uses; its file is removed on Dispose.</summary>
    public string NewName(int length = 0)
    {
        string name = "test-" + Guid.NewGuid().ToString("N");
        if (length > name.Length)
        {
            name = name.PadRight(length, 'x');
        }

        lock (_gate)
        {
            _names.Add(name);
        }

        return name;
    }

    /// <summary>Creates channel <paramref name="name"/> as the sidecar, with small rings by default.</summary>
    public ShmChannel Create(string name, int sidecarToHost = 4096, int hostToSidecar = 4096) =>
        Track(ShmChannel.Create(name, new ChannelOptions { SidecarToHostCapacity = sidecarToHost, HostToSidecarCapacity = hostToSidecar }));

    /// <summary>Opens channel <paramref name="name"/> as the host.</summary>
    public ShmChannel Open(string name) => Track(ShmChannel.Open(name));

    /// <summary>Both ends of a new channel in this process: the sidecar writes ring 0, the host reads it.</summary>
    public ChannelPair CreatePair(int sidecarToHost = 4096, int hostToSidecar = 4096)
    {
        string name = NewName();
        ShmChannel sidecar = Create(name, sidecarToHost, hostToSidecar);
        ShmChannel host = Open(name);
        return new ChannelPair(sidecar, host);
    }

    public ShmChannel Track(ShmChannel channel)
    {
        lock (_gate)
        {
            _channels.Add(channel);
        }

        return channel;
    }

    public void Dispose()
    {
        ShmChannel[] channels;
        string[] names;
        lock (_gate)
        {
            channels = [.. _channels];
            names = [.. _names];
        }

        // Hosts were opened after their sidecars: dispose in reverse order.
        for (int i = channels.Length - 1; i >= 0; i--)
        {
            channels[i].Dispose();
        }

        foreach (string name in names)
        {
            RemoveFiles(name);
        }
    }

    /// <summary>Removes the channel file of <paramref name="name"/> and any temp file a Create left.</summary>
    public static void RemoveFiles(string name)
    {
        File.Delete(ShmChannel.GetPath(name));
        foreach (string temp in Directory.EnumerateFiles(ShmChannel.Directory, "." + ShmChannel.FilePrefix + name + ".*.tmp"))
        {
            File.Delete(temp);
        }
    }
}

/// <summary>Both ends of one channel held by this process; disposing it closes both and removes the file.</summary>
internal sealed class ChannelPair(ShmChannel sidecar, ShmChannel host) : IDisposable
{
    public ShmChannel Sidecar { get; } = sidecar;

    public ShmChannel Host { get; } = host;

    public string Name => Sidecar.Name;

    /// <summary>Ring 0's producer (the sidecar's writer).</summary>
    public RingWriter Writer => Sidecar.Writer;

    /// <summary>Ring 0's consumer (the host's reader).</summary>
    public RingReader Reader => Host.Reader;

    public void Dispose()
    {
        Host.Dispose();
        Sidecar.Dispose();
        TestChannels.RemoveFiles(Name);
    }
}
