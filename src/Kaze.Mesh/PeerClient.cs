using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Kaze.Mesh.Connections;
using Kaze.Mesh.Tls;
using Kaze.Mesh.Sessions;
using Kaze.Protocol;
using Kaze.Resolver;

namespace Kaze.Mesh;

/// <summary>
/// One connection to one sidecar, opened as a peer of the mesh by a program that is not a sidecar
/// itself (<c>kaze send</c>): the corral's handshake, then packets both ways on this connection only.
/// </summary>
/// <remarks>
/// <para>
/// The sidecar treats the client as any other peer with the client's ident: packets for that
/// ident — the answers to the client's requests — go back over this connection while it is open.
/// Nothing ever dials the client, so its ident needs no address. Two clients with the same ident
/// at the same sidecar replace each other (the corral keeps one connection per ident).
/// </para>
/// <para>
/// The handshake is the corral's own (<see cref="Handshake.NegotiateAsync"/>, the same code a
/// sidecar runs; see <see cref="Handshake"/> for the frames), except that the sidecar's ident is
/// learnt from its hello instead of being checked against the ident that was dialled. Not thread-safe: one sender
/// and one receiver at a time.
/// </para>
/// </remarks>
public sealed class PeerClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _network;

    // The network stream, or TLS over it (CorralOptions.Tls); what _input reads.
    private Stream _stream;
    private PipeReader _input;
    private SslStream? _tls;

    // The sidecar's identity from its certificate, with TLS.
    private MeshIdentity? _certified;
    private readonly ArrayBufferWriter<byte> _output = new(4096);
    private readonly CorralOptions _options;
    private int _disposed;

    private PeerClient(Socket socket, NodeAddress address, Ident self, CorralOptions options)
    {
        _socket = socket;
        _network = new NetworkStream(socket, ownsSocket: false);
        _stream = _network;
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(leaveOpen: true));
        Address = address;
        Self = self;
        _options = options;
    }

    /// <summary>The address connected to.</summary>
    public NodeAddress Address { get; }

    /// <summary>This client's ident, sent in its hello.</summary>
    public Ident Self { get; }

    /// <summary>The sidecar's ident, from its hello.</summary>
    public Ident PeerIdent { get; private set; }

    /// <summary>The protocol version in the sidecar's hello.</summary>
    public uint PeerVersion { get; private set; }

    /// <summary>The frame limit agreed in the handshake: the smaller of both sides' maximum.</summary>
    public int MaxFrameSize { get; private set; }

    /// <summary>Connects to the sidecar at <paramref name="address"/> and completes the handshake as <paramref name="self"/>.</summary>
    /// <param name="address">The sidecar's listen address.</param>
    /// <param name="self">This client's ident; not 0.0.0.0, and not the sidecar's own.</param>
    /// <param name="options">
    /// Used: <see cref="CorralOptions.Tls"/> (the sidecar's certificate must be of the same mesh CA; <paramref name="self"/> must be the ident of this client's certificate),
    /// <see cref="CorralOptions.Secret"/> (must match the sidecar's), <see cref="CorralOptions.ConnectTimeout"/>,
    /// <see cref="CorralOptions.HandshakeTimeout"/> and <see cref="CorralOptions.MaxFrameSize"/>.
    /// </param>
    /// <param name="ct">Cancels the attempt.</param>
    /// <returns>A client with the handshake done; dispose it.</returns>
    /// <exception cref="PeerClientException">
    /// The connection cannot be made, or the handshake fails; <see cref="PeerClientException.Failure"/>
    /// says which, the message says why in words for a person.
    /// </exception>
    /// <exception cref="ArgumentException">The options are invalid, or <paramref name="self"/> is 0.0.0.0.</exception>
    public static async Task<PeerClient> ConnectAsync(NodeAddress address, Ident self, CorralOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid options: " + string.Join(" ", problems), nameof(options));
        }

        if (self == Ident.Any)
        {
            throw new ArgumentException("A peer needs an ident other than 0.0.0.0.", nameof(self));
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            timeout.CancelAfter(options.ConnectTimeout);
            try
            {
                await socket.ConnectAsync(address.Host, address.Port, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                socket.Dispose();
                throw new PeerClientException(ConnectionFailure.ConnectFailed, $"cannot connect to {address}: no answer within {Seconds(options.ConnectTimeout)}");
            }
            catch (Exception e) when (e is SocketException or ArgumentException)
            {
                socket.Dispose();
                throw new PeerClientException(ConnectionFailure.ConnectFailed, $"cannot connect to {address}: {e.Message}", e);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        var client = new PeerClient(socket, address, self, options);
        try
        {
            if (options.Tls is { } tls)
            {
                await client.StartTlsAsync(tls, ct).ConfigureAwait(false);
            }

            await client.HandshakeAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return client;
    }

    /// <summary>Sends one packet. The packet is not disposed.</summary>
    /// <param name="packet">The packet; its header is sent as it is (<see cref="Hdr.SrcIdent"/> included).</param>
    /// <param name="ct">Cancels the send; the connection is then unusable.</param>
    /// <returns>A task that completes once the frame is handed to the operating system.</returns>
    /// <exception cref="PeerClientException">
    /// The frame is over <see cref="MaxFrameSize"/> (<see cref="ConnectionFailure.FrameTooLarge"/>), or the
    /// connection failed (<see cref="ConnectionFailure.PeerClosed"/>).
    /// </exception>
    public async Task SendAsync(Packet packet, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(packet);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        long total = packet.BodyLength > MaxFrameSize ? packet.BodyLength : TcpFraming.GetFrameSize(packet.Header, packet.BodyLength) - sizeof(uint);
        if (total > MaxFrameSize)
        {
            throw new PeerClientException(ConnectionFailure.FrameTooLarge, $"the packet's frame is {total} bytes, over the {MaxFrameSize} bytes agreed with {Describe()}");
        }

        try
        {
            await SendFrameAsync(packet.Header, packet.Body, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            throw new PeerClientException(ConnectionFailure.PeerClosed, $"the connection with {Describe()} failed while sending: {e.Message}", e);
        }
    }

    /// <summary>Waits for the next packet from the sidecar.</summary>
    /// <param name="ct">Cancels the wait (e.g. a timeout); dispose the client after that.</param>
    /// <returns>The packet, which the caller owns and disposes; null once the sidecar has closed the connection.</returns>
    /// <exception cref="PeerClientException">Bytes that are not a frame, or the connection was reset.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled.</exception>
    public async Task<Packet?> ReceiveAsync(CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        try
        {
            return await ReadFrameAsync(_options.MaxFrameSize, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException and not PeerClientException)
        {
            throw new PeerClientException(ConnectionFailure.PeerClosed, $"the connection with {Describe()} failed: {e.InnerException?.Message ?? e.Message}", e);
        }
    }

    /// <summary>Closes the connection.</summary>
    /// <returns>A task that completes when the socket is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        await _input.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        await _network.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }

    private static string Seconds(TimeSpan time) => $"{time.TotalSeconds:0.###} s";

    private string Describe() => $"the sidecar at {Address}" + (PeerIdent == Ident.Any ? "" : $" ({PeerIdent})");

    private async Task StartTlsAsync(TlsCredentials credentials, CancellationToken ct)
    {
        TlsIdentitySnapshot own = credentials.Current;
        if (own.Ident != Self)
        {
            throw new ArgumentException($"This client's ident {Self} is not the one its certificate binds ({own.Ident}).", nameof(credentials));
        }

        string? refusal = null;
        var tls = new SslStream(_network, leaveInnerStreamOpen: true);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "kaze-mesh",
            ClientCertificateContext = own.Context,
            EnabledSslProtocols = SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is null)
                {
                    refusal = "it presented no certificate";
                    return false;
                }

                X509Certificate2 peer = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                refusal = TlsPeerValidator.Check(peer, own.Ca, out _certified);
                return refusal is null;
            },
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.HandshakeTimeout);
        try
        {
            await tls.AuthenticateAsClientAsync(options, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new PeerClientException(ConnectionFailure.HandshakeTimeout, $"no TLS handshake with {Describe()} within {Seconds(_options.HandshakeTimeout)} (does it run with --tls?)");
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw new PeerClientException(ConnectionFailure.TlsFailed, refusal is null
                ? $"the TLS handshake with {Describe()} failed: {e.InnerException?.Message ?? e.Message} (does it run with --tls?)"
                : $"{Describe()} is refused: {refusal}", e);
        }

        await _input.CompleteAsync().ConfigureAwait(false);
        _tls = tls;
        _stream = tls;
        _input = PipeReader.Create(tls, new StreamPipeReaderOptions(leaveOpen: true));
    }

    private async Task HandshakeAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.HandshakeTimeout);
        bool withSecret = _options.Secret is not null;
        var transport = new Transport(this, withSecret);
        try
        {
            HandshakeResult result = await Handshake.NegotiateAsync(transport, Self, _options, dialled: null, timeout.Token).ConfigureAwait(false);
            if (result.Hello is { } hello)
            {
                PeerIdent = hello.Ident;
                PeerVersion = hello.Version;
            }

            if (result.Refusal != HandshakeRefusal.None)
            {
                throw new PeerClientException(result.Failure, Wording(result));
            }

            if (_certified is { Ident: { } certified } && PeerIdent != certified)
            {
                throw new PeerClientException(ConnectionFailure.BadHello, $"{Describe()} says it is {PeerIdent} but its certificate is for {certified}");
            }

            MaxFrameSize = result.MaxFrameSize;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            string stage = transport.Reads <= 1 ? "hello" : "auth frame";
            throw new PeerClientException(ConnectionFailure.HandshakeTimeout, $"no {stage} from {Describe()} within {Seconds(_options.HandshakeTimeout)} (is it a kaze sidecar's listen address?)");
        }
        catch (Exception e) when (e is SocketException or IOException and not PeerClientException)
        {
            throw new PeerClientException(ConnectionFailure.PeerClosed, $"the connection with {Describe()} failed during the handshake: {e.InnerException?.Message ?? e.Message}{RefusalHint(withSecret)}", e);
        }
    }

    private string Wording(HandshakeResult result) => result.Refusal switch
    {
        HandshakeRefusal.NotAHello => $"{Describe()} did not answer with a kaze hello: {result.Problem}",
        HandshakeRefusal.OwnIdent => $"{Describe()} has this client's own ident {Self}",
        HandshakeRefusal.SecretOnlyThere => $"{Describe()} requires the mesh's shared secret, and none was given",
        HandshakeRefusal.SecretOnlyHere => $"{Describe()} has no shared secret, but one was given; connect without it",
        HandshakeRefusal.OtherAuthScheme => $"{Describe()} offers auth '{result.Hello!.AuthScheme}', not {Handshake.AuthScheme}",
        HandshakeRefusal.BadAuthFrame => $"{Describe()} sent '{result.AuthFrameType}' with {result.AuthFrameLength} bytes instead of its {Handshake.AuthBodyType} proof",
        HandshakeRefusal.WrongProof => $"wrong secret: the proof from {Describe()} does not match this secret (the sidecar refuses this client too)",
        _ => $"{Describe()} refused the handshake: {result.Refusal}",
    };

    private async Task<Packet> ReadHandshakeFrameAsync(bool withSecret, CancellationToken ct)
    {
        Packet? packet = await ReadFrameAsync(Handshake.MaxHandshakeFrameSize, ct).ConfigureAwait(false);
        return packet ?? throw new PeerClientException(ConnectionFailure.PeerClosed, $"{Describe()} closed the connection during the handshake{RefusalHint(withSecret)}");
    }

    // The sidecar closes without a word when it refuses a peer; its log says why.
    private static string RefusalHint(bool withSecret) => withSecret
        ? ": it refused this client (a secret that differs from the sidecar's? see the sidecar's log)"
        : ": it refused this client (see the sidecar's log)";

    private async Task<Packet?> ReadFrameAsync(int maxFrameSize, CancellationToken ct)
    {
        while (true)
        {
            ReadResult read = await _input.ReadAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            TcpFrameReadResult frame = TcpFraming.ReadFrame(buffer, maxFrameSize, read.IsCompleted);
            if (frame.IsComplete)
            {
                _input.AdvanceTo(frame.Consumed);
                return frame.Packet;
            }

            if (frame.Status == TcpFrameStatus.Invalid)
            {
                _input.AdvanceTo(buffer.Start);
                throw new PeerClientException(
                    frame.Error == DecodeError.FrameTooLarge ? ConnectionFailure.FrameTooLarge : ConnectionFailure.BadFrame,
                    $"{Describe()} sent bytes that are not a kaze frame: {frame.Error.ToMessage()}");
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted)
            {
                return null;
            }
        }
    }

    private async Task SendFrameAsync(Hdr header, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        _output.ResetWrittenCount();
        TcpFraming.Write(_output, header, body.Span);
        ReadOnlyMemory<byte> data = _output.WrittenMemory;

        if (_tls is { } tls)
        {
            await tls.WriteAsync(data, ct).ConfigureAwait(false);
            return;
        }

        // A stream socket may take part of the buffer; send the rest.
        while (!data.IsEmpty)
        {
            int sent = await _socket.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    /// <summary>The handshake's frames over this client's connection; a closed connection throws, as the client's other reads do.</summary>
    private sealed class Transport(PeerClient client, bool withSecret) : IHandshakeTransport
    {
        /// <summary>Frames the handshake has started to read: 1 while it waits for the hello, 2 for the proof.</summary>
        public int Reads { get; private set; }

        public async ValueTask<bool> SendAsync(Hdr header, ReadOnlyMemory<byte> body, CancellationToken ct)
        {
            await client.SendFrameAsync(header, body, ct).ConfigureAwait(false);
            return true;
        }

        public async ValueTask<Packet?> ReadAsync(CancellationToken ct)
        {
            Reads++;
            return await client.ReadHandshakeFrameAsync(withSecret, ct).ConfigureAwait(false);
        }
    }
}

/// <summary>A <see cref="PeerClient"/> could not connect, complete its handshake, or use its connection.</summary>
public sealed class PeerClientException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="failure">What went wrong, in the corral's terms.</param>
    /// <param name="message">Why, for a person: names the address and the reason.</param>
    /// <param name="inner">The socket error, if any.</param>
    public PeerClientException(ConnectionFailure failure, string message, Exception? inner = null)
        : base(message, inner)
    {
        Failure = failure;
    }

    /// <summary>What went wrong: <see cref="ConnectionFailure.ConnectFailed"/>, <see cref="ConnectionFailure.HandshakeTimeout"/>,
    /// <see cref="ConnectionFailure.BadHello"/>, <see cref="ConnectionFailure.AuthFailed"/>, <see cref="ConnectionFailure.BadFrame"/>,
    /// <see cref="ConnectionFailure.FrameTooLarge"/>, <see cref="ConnectionFailure.TlsFailed"/> or <see cref="ConnectionFailure.PeerClosed"/>.</summary>
    public ConnectionFailure Failure { get; }
}
