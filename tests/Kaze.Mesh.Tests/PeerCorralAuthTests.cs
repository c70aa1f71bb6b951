using System.Security.Cryptography;
using Kaze.Mesh;
using Kaze.Mesh.Tests.Infrastructure;
using Kaze.Protocol;

namespace Kaze.Mesh.Tests;

public sealed class PeerCorralAuthTests
{
    private static readonly byte[] Secret = "correct horse battery staple, 32b"u8.ToArray();

    [Fact]
    public async Task Handshake_MatchingSecrets_Connects()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.Secret = Secret);
        await using TestNode b = await TestNode.StartAsync(2, resolver, o => o.Secret = Secret);

        await a.SendAsync(b.Ident, a.Seq(b.Ident, 1), "a packet");
        (Packet packet, _) = await b.ReceiveAsync("the packet at B");
        packet.Dispose();

        Assert.Equal(1, a.Counters.ConnectionsOpen);
        Assert.Equal(0, a.Counters[ConnectionFailure.AuthFailed] + b.Counters[ConnectionFailure.AuthFailed]);
    }

    [Fact]
    public async Task Handshake_WrongSecret_RefusedAndCountedOnBothSides()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o =>
        {
            o.Secret = Secret;
            o.ReconnectMin = o.ReconnectMax = TimeSpan.FromSeconds(10);
        });
        await using TestNode b = await TestNode.StartAsync(2, resolver, o => o.Secret = "another secret"u8.ToArray());

        Assert.Equal(SendResult.Queued, a.Corral.TrySend(b.Ident, a.Seq(b.Ident, 1)));

        await Eventually.True(
            () => a.Counters[ConnectionFailure.AuthFailed] == 1 && b.Counters[ConnectionFailure.AuthFailed] == 1 && a.UndeliverableCount == 1,
            "auth_failed on both sides and the packet undeliverable",
            details: () => a.Describe() + Environment.NewLine + b.Describe());
        Assert.Equal(0, a.Counters.ConnectionsEstablished + b.Counters.ConnectionsEstablished);
        Assert.True(b.Logs.Contains("auth_failed", "ident 0.0.0.1", "127.0.0.1:"), b.Logs.Dump());
        using Packet refused = a.Seq(b.Ident, 2);
        Assert.Equal(SendResult.Unreachable, a.Corral.TrySend(b.Ident, refused));
    }

    [Fact]
    public async Task Handshake_SecretOnOneSideOnly_RefusedOnBothSides()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.Secret = Secret);
        await using TestNode b = await TestNode.StartAsync(2, resolver);

        Assert.Equal(SendResult.Queued, a.Corral.TrySend(b.Ident, a.Seq(b.Ident, 1)));

        await Eventually.True(
            () => a.Counters[ConnectionFailure.AuthFailed] == 1 && b.Counters[ConnectionFailure.AuthFailed] == 1,
            "auth_failed on both sides",
            details: () => a.Describe() + Environment.NewLine + b.Describe());
        Assert.True(a.Logs.Contains("has no shared secret"), a.Logs.Dump());
        Assert.True(b.Logs.Contains("requires a shared secret"), b.Logs.Dump());
        Assert.Equal(0, a.Counters.ConnectionsEstablished + b.Counters.ConnectionsEstablished);
    }

    [Fact]
    public async Task Handshake_RawPeerWithTheSecret_ProvesItAndTheSecretNeverCrossesTheWire()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.Secret = Secret);
        var self = new Ident(7);
        byte[] nonce = RandomNumberGenerator.GetBytes(16);
        using RawPeer raw = await RawPeer.ConnectAsync(a.EndPoint);

        // The handshake from its description: hello, then the proof over the corral's nonce.
        Hdr hello = await raw.HelloAsync(self, nonce, auth: true);
        Assert.Equal(a.Ident.Value, hello.SrcIdent);
        Assert.Equal(ProtocolVersion.Current, hello.Version);
        Assert.Equal("hmac-sha256", hello.Headers["auth"].ToStringUtf8());
        Assert.Equal(4, hello.Headers["max-frame"].Length);
        byte[] corralNonce = hello.Headers["nonce"].ToByteArray();
        Assert.Equal(16, corralNonce.Length);
        Assert.NotEqual(nonce, corralNonce);

        using (Packet auth = await raw.ReadFrameAsync("the corral's proof"))
        {
            Assert.Equal("kaze.auth", auth.Header.BodyType);
            Assert.Equal(RawPeer.Proof(Secret, nonce, corralNonce, a.Ident, self), auth.BodySpan.ToArray());
        }

        await raw.SendFrameAsync(new Hdr { BodyType = "kaze.auth", SrcIdent = self.Value }, RawPeer.Proof(Secret, corralNonce, nonce, self, a.Ident));

        // Accepted: the corral sends over this connection.
        await Eventually.True(() => a.Peer(self)?.State == PeerState.Connected, "the raw peer to be connected", details: a.Describe);
        Assert.Equal(SendResult.Queued, a.Corral.TrySend(self, a.Seq(self, 42, padding: 100)));
        using (Packet data = await raw.ReadFrameAsync("a packet after the handshake"))
        {
            Assert.Equal(42, TestNode.SequenceOf(data));
        }

        byte[] wire = raw.Received;
        Assert.Equal(-1, wire.AsSpan().IndexOf(Secret));
        Assert.Equal(-1, wire.AsSpan().IndexOf(Secret.AsSpan(0, 8)));
        Assert.Equal(0, a.Counters[ConnectionFailure.AuthFailed]);
    }

    [Fact]
    public async Task Handshake_RawPeerWithWrongProof_RefusedCountedAndLogged()
    {
        var resolver = new TestResolver();
        await using TestNode a = await TestNode.StartAsync(1, resolver, o => o.Secret = Secret);
        var self = new Ident(7);
        byte[] nonce = RandomNumberGenerator.GetBytes(16);
        using RawPeer raw = await RawPeer.ConnectAsync(a.EndPoint);

        Hdr hello = await raw.HelloAsync(self, nonce, auth: true);
        (await raw.ReadFrameAsync("the corral's proof")).Dispose();
        byte[] corralNonce = hello.Headers["nonce"].ToByteArray();
        await raw.SendFrameAsync(new Hdr { BodyType = "kaze.auth", SrcIdent = self.Value }, RawPeer.Proof("guess"u8.ToArray(), corralNonce, nonce, self, a.Ident));

        await raw.WaitClosedAsync("the corral to close the connection");
        await Eventually.True(() => a.Counters[ConnectionFailure.AuthFailed] == 1, "auth_failed counted", details: a.Describe);
        Assert.True(a.Logs.Contains("auth_failed", raw.LocalEndPoint.ToString(), "ident 0.0.0.7", "wrong proof"), a.Logs.Dump());
        Assert.Equal(0, a.Counters.ConnectionsEstablished);
    }
}
