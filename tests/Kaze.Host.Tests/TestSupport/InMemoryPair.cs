using Kaze.Host.Testing;
using Kaze.Protocol;
using Microsoft.Extensions.Logging;

namespace Kaze.Host.Tests.TestSupport;

/// <summary>
/// An in-memory sidecar and the one client connected to it: the setup the KazeClient tests share.
/// <see cref="Start"/> for a running client; <see cref="Create"/> to add handlers before starting
/// it. Dispose closes the client, then the sidecar.
/// </summary>
internal sealed class InMemoryPair : IAsyncDisposable
{
    private InMemoryPair(InMemorySidecar sidecar, KazeClient client)
    {
        Sidecar = sidecar;
        Client = client;
    }

    /// <summary>The sidecar the test plays: it maps fake nodes, calls the host, and records what the client sent.</summary>
    public InMemorySidecar Sidecar { get; }

    /// <summary>The client under test.</summary>
    public KazeClient Client { get; }

    /// <summary>A sidecar with <paramref name="ident"/> and <paramref name="maxPacketSize"/> (the in-memory sidecar's defaults if not given), and its client, connected but not started.</summary>
    /// <param name="options">The client's settings; null for the defaults.</param>
    /// <param name="loggerFactory">Where the client logs; null for nowhere. Not disposed here.</param>
    public static InMemoryPair Create(Ident? ident = null, int maxPacketSize = InMemorySidecar.DefaultMaxPacketSize, KazeClientOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        var sidecar = new InMemorySidecar(ident, maxPacketSize);
        return new InMemoryPair(sidecar, sidecar.CreateClient(options, loggerFactory));
    }

    /// <summary>A sidecar with <paramref name="ident"/> and its client with the default settings, started.</summary>
    public static InMemoryPair Start(Ident ident)
    {
        InMemoryPair pair = Create(ident);
        pair.Client.Start();
        return pair;
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Sidecar.DisposeAsync();
    }
}
