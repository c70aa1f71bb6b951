using System.Buffers.Binary;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>The mesh of <see cref="MeshBadFrameTests"/>: three sidecars logging at info, started once and warmed up.</summary>
public sealed class BadFrameMesh() : SharedMesh("--log-level", "info");

/// <summary>
/// Bytes that are not frames, and frames over the limit, from a raw TCP client to a sidecar's
/// listen port, before and after a valid handshake: the sidecar closes that connection at once
/// (well before its 5 s handshake timeout), logs a warning naming the peer's address and the
/// reason, and the calls between the sidecars go on, during and after, without a failure.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class MeshBadFrameTests(BadFrameMesh fixture, ITestOutputHelper output) : IClassFixture<BadFrameMesh>
{
    // The sidecar's handshake timeout is 5 s: a close within this comes from the bad bytes, not the timer.
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(3);

    private static readonly string[] CaseNames = [.. Cases.Select(row => (string)row[0])];

    private readonly LoopbackMesh _mesh = fixture.Mesh;

    public static TheoryData<string, bool, string> Cases => new()
    {
        // case, after a valid handshake, what the sidecar's warning says
        { "total-length-below-4", false, "bad_frame: the frame's total length is less than 4, the size of its header length field (during the handshake)" },
        { "http-request", false, "frame_too_large: the frame's total length is over the maximum frame size (during the handshake)" },
        { "oversized-before-hello", false, "frame_too_large: the frame's total length is over the maximum frame size (during the handshake)" },
        { "not-a-hello", false, "bad_hello: the first frame is 'junk', not kaze.hello" },
        { "oversized-after-hello", true, "frame_too_large: the frame's total length is over the maximum frame size (16777216 bytes)" },
        { "invalid-header-after-hello", true, "bad_frame: the header is not a valid protobuf kaze.Hdr" },
        { "header-length-beyond-frame-after-hello", true, "bad_frame: the header length is larger than the rest of the frame" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task RawConnection_SendsBadBytes_OnlyItIsClosedWithAWarningAndTheMeshKeepsCalling(string @case, bool afterHandshake, string reason)
    {
        MeshNode target = _mesh["0.0.1.1"];
        MeshNode caller = _mesh["0.0.1.2"];
        MeshNode callee = _mesh["0.0.1.3"];
        string traffic = "during-" + @case;
        await caller.StartTrafficAsync(traffic, target.Route, timeoutMs: 2000, intervalMs: 1);
        await target.StartTrafficAsync(traffic, callee.Route, timeoutMs: 2000, intervalMs: 1);
        CallSummary before = await Eventually.UntilAsync(() => caller.TrafficAsync(traffic), t => t.Ok >= 10, $"{caller}'s calls to {target} to flow", TimeSpan.FromSeconds(10));

        using RawPeer peer = await RawPeer.ConnectAsync(target.Port);
        uint ident = 0x0000_0200 + (uint)Array.IndexOf(CaseNames, @case) + 1; // 0.0.2.N: one per case
        if (afterHandshake)
        {
            await HandshakeAsync(peer, ident);
        }

        await peer.SendAsync(BadBytes(@case));
        string how = await peer.WaitForCloseAsync($"{target} to close the raw connection after '{@case}'", CloseTimeout);
        string who = $"127.0.0.1:{peer.LocalEndPoint.Port} (ident {(afterHandshake ? FormattableString.Invariant($"0.0.2.{ident & 0xFF}") : "unknown")})";
        string warning = await target.Kaze.Stderr.WaitForLineAsync(l => l.Contains("Closed the connection with " + who, StringComparison.Ordinal), $"{target}'s warning about {who}");
        output.WriteLine($"{@case}: closed by {target} ({how}); {warning}");
        Assert.Contains(": " + reason, warning, StringComparison.Ordinal);

        // The sidecars' own connections carry on: more calls after the bad bytes, and none failed.
        await Eventually.UntilAsync(() => caller.TrafficAsync(traffic), t => t.Ok >= before.Ok + 20, $"{caller}'s calls to {target} to go on after '{@case}'", TimeSpan.FromSeconds(10));
        foreach ((MeshNode node, string route) in new[] { (caller, target.ToString()), (target, callee.ToString()) })
        {
            CallSummary during = await node.StopTrafficAsync(traffic);
            output.WriteLine($"{node} -> {route} during: {during}");
            Assert.True(during.Failed == 0 && during.Mismatches == 0 && during.Ok > 0, $"calls from {node} to {route} failed while a raw client sent '{@case}' to {target}: {during}");
        }

        CallSummary after = await caller.CallAsync(target.Route, 20, inflight: 4);
        Assert.True(after.Ok == 20, $"calls from {caller} to {target} after '{@case}': {after}");
    }

    /// <summary>A hello, then an echo request to the sidecar's host: its answer proves the raw peer is a peer of the mesh now.</summary>
    private static async Task HandshakeAsync(RawPeer peer, uint ident)
    {
        byte[] body = Encoding.UTF8.GetBytes("raw peer " + Guid.NewGuid().ToString("N"));
        await peer.SendAsync([.. RawFrames.Hello(ident), .. RawFrames.EchoRequest(ident, 1, body)]);
        (byte[] helloHeader, _) = await peer.ReadFrameAsync("the sidecar's hello", TimeSpan.FromSeconds(10));
        Assert.Contains("kaze.hello", Encoding.ASCII.GetString(helloHeader), StringComparison.Ordinal);
        (_, byte[] answer) = await peer.ReadFrameAsync("the answer to the raw peer's echo request", TimeSpan.FromSeconds(10));
        Assert.Equal(body, answer);
    }

    private static byte[] BadBytes(string @case)
    {
        byte[] lengths = new byte[8];
        switch (@case)
        {
            case "total-length-below-4":
                return [0x02, 0x00, 0x00, 0x00, 0xAA, 0xBB];
            case "http-request":
                // "GET " read as a frame's total length is about 542 MB.
                return Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: kaze\r\n\r\n");
            case "oversized-before-hello":
            case "oversized-after-hello":
                // Only the length: the sidecar must refuse it before the rest could ever arrive.
                BinaryPrimitives.WriteUInt32LittleEndian(lengths, RawFrames.MaxFrame + 1);
                return [.. lengths.AsSpan(0, 4), .. new byte[64]];
            case "not-a-hello":
                return RawFrames.Notify("junk");
            case "invalid-header-after-hello":
                return RawFrames.Frame([0xFF, 0xFF, 0xFF, 0xFF], []);
            case "header-length-beyond-frame-after-hello":
                BinaryPrimitives.WriteUInt32LittleEndian(lengths, 8);
                BinaryPrimitives.WriteUInt32LittleEndian(lengths.AsSpan(4), 100);
                return [.. lengths, 1, 2, 3, 4];
            default:
                throw new ArgumentOutOfRangeException(nameof(@case), @case, "no such case");
        }
    }
}
