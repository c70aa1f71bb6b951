using Kaze.Protocol;
using Kaze.Resolver;

namespace Kaze.Mesh;

/// <summary>Settings of the <see cref="PeerCorral"/>: where it listens, the shared secret, timeouts and queue limits.</summary>
/// <remarks>
/// Defaults: listen on 127.0.0.1:6081; no secret; handshake timeout 5 s; connect timeout 3 s; idle
/// timeout 60 s; reconnect backoff from 100 ms doubling to 10 s (with jitter); close timeout 2 s;
/// maximum frame 16 MiB (<see cref="TcpFraming.DefaultMaxFrameSize"/>); per peer at most 10,000
/// queued packets or 64 MiB, whichever comes first; burst window 20 µs; at most 4,096 connections,
/// 128 of them in their handshake; a started frame complete within 10 s; 256 MiB of receive
/// buffers beyond each connection's first 64 KiB.
/// </remarks>
public sealed class CorralOptions
{
    /// <summary>The smallest <see cref="MaxFrameSize"/> accepted, here and in a peer's hello: room for any handshake frame.</summary>
    public const int MinMaxFrameSize = 1024;

    // A secret file larger than this is almost certainly the wrong file.
    private const int MaxSecretFileSize = 64 * 1024;

    /// <summary>Where to accept connections from other sidecars (<c>--listen HOST:PORT</c>). Port 0 picks a free port. Default 127.0.0.1:6081.</summary>
    public NodeAddress Listen { get; set; } = new("127.0.0.1", 6081);

    /// <summary>
    /// The shared secret every sidecar of the mesh must know, or null for none. Each side of a
    /// connection proves it knows the secret with an HMAC over the other side's random challenge;
    /// the secret itself never crosses the wire. See <see cref="LoadSecret"/>. Default: null.
    /// </summary>
    public byte[]? Secret { get; set; }

    /// <summary>
    /// The node's TLS credentials (<c>--tls DIR</c>): with them every connection, in and out, is
    /// TLS 1.3 with client certificates of the mesh CA, and a peer's ident is the one its
    /// certificate binds. Default: null (plaintext; for one trusted machine only).
    /// </summary>
    public Tls.TlsCredentials? Tls { get; set; }

    /// <summary>How long a new connection may take to complete the handshake (TLS included) before it is closed. Default 5 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long resolving and connecting to a peer may take. Default 3 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>A connection that carried no bytes either way for this long is closed quietly. Default 60 s.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The first wait after a failed connection attempt; it doubles with each failure in a row. Default 100 ms.</summary>
    public TimeSpan ReconnectMin { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest wait between connection attempts. Default 10 s.</summary>
    public TimeSpan ReconnectMax { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a connection being closed on purpose (idle, duplicate, shutdown) may take to finish
    /// its current write and to receive the rest of what the peer sent. Default 2 s.
    /// </summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The largest frame (its total length field) this sidecar receives; sent in the hello. A
    /// connection uses the smaller of both sides' values. Default 16 MiB.
    /// </summary>
    public int MaxFrameSize { get; set; } = TcpFraming.DefaultMaxFrameSize;

    /// <summary>
    /// A packet sent to a peer less than this long after the last write to it completed is taken as
    /// part of a burst: instead of being written at once by the sender, it is written by the
    /// connection's writer thread together with those that follow while that thread gets going (one system
    /// call for many frames rather than one each). An isolated packet is always written at once, and
    /// so is each packet of a caller that waits for every answer: this is below a TCP round trip.
    /// Zero writes every packet at once. A sender that knows where its bursts end uses
    /// <see cref="PeerCorral.BeginBatch"/> instead, which delays nothing. Default 20 µs; at most 1 s.
    /// </summary>
    public TimeSpan BurstWindow { get; set; } = TimeSpan.FromMicroseconds(20);

    /// <summary>At most this many packets wait for one peer; beyond it sends to that peer fail with <see cref="SendResult.QueueFull"/>. Default 10,000.</summary>
    public int MaxQueuedPackets { get; set; } = 10_000;

    /// <summary>At most this many bytes (as frames) wait for one peer. Default 64 MiB.</summary>
    public long MaxQueuedBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// At most this many connections, in either direction, handshaking ones included; an inbound
    /// connection past it is closed at accept and counted (<see cref="ConnectionFailure.ConnectionLimit"/>).
    /// Default 4,096.
    /// </summary>
    public int MaxConnections { get; set; } = 4096;

    /// <summary>
    /// At most this many inbound connections still in their handshake; one past it is closed at
    /// accept and counted (<see cref="ConnectionFailure.HandshakeLimit"/>). Default 128.
    /// </summary>
    public int MaxHandshaking { get; set; } = 128;

    /// <summary>
    /// A frame whose first bytes have arrived must be complete within this; else the connection is
    /// closed (<see cref="ConnectionFailure.SlowFrame"/>): a peer cannot hold a connection, or a
    /// large buffer, by trickling bytes. Default 10 s.
    /// </summary>
    public TimeSpan FrameTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The receive memory all connections together may hold beyond their first 64 KiB each: a
    /// frame larger than that needs a buffer of its size, taken from this budget and given back
    /// (to the operating system) once the frame is decoded. A frame that does not fit closes its
    /// connection (<see cref="ConnectionFailure.ReceiveBudget"/>). A connection's own budget is its
    /// frame limit (<see cref="MaxFrameSize"/>, 16 KiB until the handshake completes). Default 256 MiB.
    /// </summary>
    public long ReceiveBudget { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Reads a shared secret from <paramref name="path"/>: the file's bytes, less trailing line
    /// breaks (so <c>echo secret &gt; file</c> works).
    /// </summary>
    /// <param name="path">The secret file.</param>
    /// <returns>The secret.</returns>
    /// <exception cref="InvalidOperationException">
    /// The file cannot be read, is empty (after trimming), is over 64 KiB, or can be read by other
    /// users; the message names the file and what to do.
    /// </exception>
    public static byte[] LoadSecret(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            // One open, then checks on the opened file: a symlink (as in a Kubernetes secret
            // volume) is judged by its target, and nothing can swap the file in between.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if ((File.GetUnixFileMode(stream.SafeFileHandle) & UnixFileMode.OtherRead) != 0)
            {
                throw new InvalidOperationException(
                    $"The secret file '{path}' can be read by every user; restrict it (chmod 600, or defaultMode 0400 for a Kubernetes secret volume).");
            }

            if (stream.Length > MaxSecretFileSize)
            {
                throw new InvalidOperationException($"The secret file '{path}' has {stream.Length} bytes; a secret file has at most {MaxSecretFileSize}.");
            }

            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidOperationException($"The secret file '{path}' does not exist.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Cannot read the secret file '{path}': {e.Message}", e);
        }

        int length = bytes.Length;
        while (length > 0 && bytes[length - 1] is (byte)'\n' or (byte)'\r')
        {
            length--;
        }

        if (length == 0)
        {
            throw new InvalidOperationException($"The secret file '{path}' is empty; put the mesh's shared secret in it (e.g. 32 random bytes).");
        }

        byte[] secret = bytes.AsSpan(0, length).ToArray();
        Array.Clear(bytes);
        return secret;
    }

    /// <summary>Every problem with these options at once; empty when they are valid.</summary>
    /// <returns>One sentence per problem.</returns>
    public List<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Listen.Host))
        {
            problems.Add("Listen has no host.");
        }

        if (Listen.Port is < 0 or > 65535)
        {
            problems.Add($"Listen port {Listen.Port} is not 0-65535.");
        }

        if (Secret is { Length: 0 })
        {
            problems.Add("Secret is empty; leave it null for no secret.");
        }

        Positive(problems, nameof(HandshakeTimeout), HandshakeTimeout);
        Positive(problems, nameof(ConnectTimeout), ConnectTimeout);
        Positive(problems, nameof(IdleTimeout), IdleTimeout);
        Positive(problems, nameof(ReconnectMin), ReconnectMin);
        Positive(problems, nameof(ReconnectMax), ReconnectMax);
        Positive(problems, nameof(CloseTimeout), CloseTimeout);
        if (BurstWindow < TimeSpan.Zero || BurstWindow > TimeSpan.FromSeconds(1))
        {
            problems.Add($"BurstWindow ({BurstWindow}) must be between zero and one second.");
        }

        if (ReconnectMin > ReconnectMax)
        {
            problems.Add($"ReconnectMin ({ReconnectMin}) is above ReconnectMax ({ReconnectMax}).");
        }

        if (MaxFrameSize is < MinMaxFrameSize or > TcpFraming.MaxSupportedFrameSize)
        {
            problems.Add($"MaxFrameSize {MaxFrameSize} is not {MinMaxFrameSize}-{TcpFraming.MaxSupportedFrameSize}.");
        }

        if (MaxQueuedPackets < 1)
        {
            problems.Add($"MaxQueuedPackets {MaxQueuedPackets} is below 1.");
        }

        if (MaxConnections < 1)
        {
            problems.Add($"MaxConnections {MaxConnections} is below 1.");
        }

        if (MaxHandshaking < 1)
        {
            problems.Add($"MaxHandshaking {MaxHandshaking} is below 1.");
        }

        Positive(problems, nameof(FrameTimeout), FrameTimeout);
        if (ReceiveBudget < 0)
        {
            problems.Add($"ReceiveBudget {ReceiveBudget} is below 0.");
        }

        if (MaxQueuedBytes < 1)
        {
            problems.Add($"MaxQueuedBytes {MaxQueuedBytes} is below 1.");
        }

        return problems;
    }

    private static void Positive(List<string> problems, string name, TimeSpan value)
    {
        // Timers take milliseconds as an int: keep every timeout within what CancelAfter accepts.
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
        {
            problems.Add($"{name} ({value}) must be above zero and below 24 days.");
        }
    }
}
