using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Kaze.Http.Protocol;
using Kaze.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Yarp.ReverseProxy.Forwarder;

namespace Kaze.Http.Tests.Gateway;

/// <summary>
/// What another sidecar sends the gateway is checked before use (docs/http.md, "Limits"): a
/// malformed head is answered 400, one over the limits 431, one too many RESOURCE_EXHAUSTED; body
/// bytes beyond the granted credit reset the exchange; packets for no exchange are dropped, and
/// their sender is told to stop. Nothing of it reaches the app.
/// </summary>
public sealed class GatewayHostileInputTests : IAsyncLifetime
{
    private static readonly Ident Self = Ident.Parse("0.0.3.1");
    private static readonly Ident Peer = Ident.Parse("0.0.3.2");

    // An app that accepts connections and never answers: exchanges stay in flight.
    private readonly TcpListener _silentApp = new(IPAddress.Loopback, 0);
    private readonly MemoryPort _port = new(Self);
    private readonly List<Socket> _accepted = [];
    private HttpGateway _gateway = null!;
    private ServiceProvider _services = null!;

    public Task InitializeAsync()
    {
        _silentApp.Start();
        _ = AcceptForeverAsync();
        _services = new ServiceCollection().AddLogging().AddHttpForwarder().BuildServiceProvider();
        var options = new HttpGatewayOptions { AppPort = ((IPEndPoint)_silentApp.LocalEndpoint).Port, MaxExchanges = 2, Window = 1024 };
        _gateway = new HttpGateway(options, _services.GetRequiredService<IHttpForwarder>(), NullLoggerFactory.Instance, _services);
        _gateway.Connect(_port);
        return _gateway.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _silentApp.Stop();
        foreach (Socket socket in _accepted)
        {
            socket.Dispose();
        }

        await _services.DisposeAsync();
    }

    [Theory]
    [InlineData(null, "/x", "1024", "no :method")]
    [InlineData("GET", "no-slash", "1024", "origin form")]
    [InlineData("GET", "/x", null, ":window")]
    [InlineData("GET", "/x", "-5", ":window")]
    public void MalformedHead_Answered400_SayingWhy(string? method, string? path, string? window, string expected)
    {
        _gateway.Deliver(Head(1, method, path, window));

        Packet answer = _port.Next("the answer to a malformed head");
        Assert.Equal(HttpBodyTypes.Response, answer.Header.BodyType);
        Assert.Equal(1u, answer.Header.Rsp);
        Assert.Equal(Peer.Value, answer.Header.DstIdent);
        Assert.Equal("400", answer.Header.Headers[HttpEntries.Status].ToStringUtf8());
        Assert.True(HttpEntries.HasEnd(answer.Header.Headers));
        Assert.Contains(expected, System.Text.Encoding.UTF8.GetString(answer.BodySpan));
        Assert.Equal(1, _gateway.Counters.IngressRefusals);
    }

    [Fact]
    public void HeadWithBadFields_Answered400Or431()
    {
        Packet bad = Head(1, "GET", "/x", "1024");
        bad.Header.Headers["x-bad"] = ByteString.CopyFromUtf8("a\rb");
        _gateway.Deliver(bad);
        Assert.Equal("400", _port.Next("the answer to a head with a CR in a field").Header.Headers[HttpEntries.Status].ToStringUtf8());

        Packet big = Head(2, "GET", "/x", "1024");
        big.Header.Headers["x-big"] = ByteString.CopyFrom(new byte[HttpLimits.MaxFieldBytes + 1]);
        _gateway.Deliver(big);
        Assert.Equal("431", _port.Next("the answer to a head over the field limit").Header.Headers[HttpEntries.Status].ToStringUtf8());
    }

    [Fact]
    public void HeadWithoutTimeout_IsDroppedUnanswered()
    {
        Packet head = Head(1, "GET", "/x", "1024");
        head.Header.Timeout = 0;

        _gateway.Deliver(head);

        Assert.False(_port.Sent.TryTake(out _, TimeSpan.FromMilliseconds(200)), "a notify head was answered");
        Assert.Equal(1, _gateway.Counters.IngressRefusals);
    }

    [Fact]
    public void MoreExchangesThanTheLimit_AnsweredResourceExhausted()
    {
        _gateway.Deliver(Head(1, "GET", "/a", "1024"));
        _gateway.Deliver(Head(2, "GET", "/b", "1024"));
        _gateway.Deliver(Head(3, "GET", "/c", "1024"));

        Packet answer = _port.Next("the answer to the third exchange");
        Assert.Equal(3u, answer.Header.Rsp);
        Assert.Equal((uint)RetCode.ResourceExhausted, answer.Header.RetCode);
    }

    [Fact]
    public void BodyBeyondTheGrantedCredit_ResetsTheExchange()
    {
        // The head ends nothing: the gateway grants one window (1024 bytes) for the rest.
        _gateway.Deliver(Head(1, "POST", "/upload", "1024", end: false));
        Packet grant = _port.Next("the first grant of request body");
        Assert.Equal("1024", grant.Header.Headers[HttpEntries.Credit].ToStringUtf8());

        _gateway.Deliver(Up(1, new byte[2000]));

        Packet reset = _port.Next("the reset of an exchange sent too much");
        Assert.Equal(HttpBodyTypes.Down, reset.Header.BodyType);
        Assert.Contains("more request body than granted", reset.Header.Headers[HttpEntries.Reset].ToStringUtf8());
        Assert.Equal(1, _gateway.Counters.ProtocolViolations);
    }

    [Fact]
    public void BodyForNoExchange_DroppedAndTheSenderToldToStop_ButNeverAResetForAReset()
    {
        _gateway.Deliver(Up(77, new byte[10]));
        Packet reset = _port.Next("the reset for a stray body");
        Assert.Equal("77", reset.Header.Headers[HttpEntries.Stream].ToStringUtf8());
        Assert.True(reset.Header.Headers.ContainsKey(HttpEntries.Reset));

        Packet strayReset = Up(78, []);
        HttpEntries.PutText(strayReset.Header.Headers, HttpEntries.Reset, "bye");
        _gateway.Deliver(strayReset);
        Packet down = Packet.Create(new Hdr { BodyType = HttpBodyTypes.Down, SrcIdent = Peer.Value, DstIdent = Self.Value }, new byte[5]);
        HttpEntries.PutNumber(down.Header.Headers, HttpEntries.Stream, 79);
        _gateway.Deliver(down);
        Packet upReset = _port.Next("the reset for a stray down packet");
        Assert.Equal(HttpBodyTypes.Up, upReset.Header.BodyType);
        Assert.False(_port.Sent.TryTake(out _, TimeSpan.FromMilliseconds(200)), "a reset was answered");
        Assert.Equal(3, _gateway.Counters.StrayPackets);
    }

    [Fact]
    public void ExchangePacketWithoutAnId_Dropped()
    {
        var up = Packet.Create(new Hdr { BodyType = HttpBodyTypes.Up, SrcIdent = Peer.Value }, new byte[3]);
        up.Header.Headers[HttpEntries.Stream] = ByteString.CopyFromUtf8("x1");

        _gateway.Deliver(up);

        Assert.False(_port.Sent.TryTake(out _, TimeSpan.FromMilliseconds(200)), "a packet without an id was answered");
        Assert.Equal(1, _gateway.Counters.ProtocolViolations);
    }

    private static Packet Head(uint sid, string? method, string? path, string? window, bool end = true)
    {
        var header = new Hdr { BodyType = HttpBodyTypes.Request, Version = 1, SrcIdent = Peer.Value, DstIdent = Self.Value, Req = sid, Timeout = 10_000 };
        if (method is not null)
        {
            header.Headers[HttpEntries.Method] = ByteString.CopyFromUtf8(method);
        }

        if (path is not null)
        {
            header.Headers[HttpEntries.Path] = ByteString.CopyFromUtf8(path);
        }

        if (window is not null)
        {
            header.Headers[HttpEntries.Window] = ByteString.CopyFromUtf8(window);
        }

        if (end)
        {
            HttpEntries.PutEnd(header.Headers);
        }

        return Packet.Create(header, []);
    }

    private static Packet Up(uint sid, byte[] body)
    {
        var header = new Hdr { BodyType = HttpBodyTypes.Up, Version = 1, SrcIdent = Peer.Value, DstIdent = Self.Value };
        HttpEntries.PutNumber(header.Headers, HttpEntries.Stream, sid);
        return Packet.Create(header, body);
    }

    private async Task AcceptForeverAsync()
    {
        try
        {
            while (true)
            {
                Socket socket = await _silentApp.AcceptSocketAsync();
                lock (_accepted)
                {
                    _accepted.Add(socket);
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Stopped.
        }
    }
}
