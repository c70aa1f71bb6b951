using System.Security.Cryptography.X509Certificates;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>
/// Mutual TLS between real sidecars: 0.0.1.1 and 0.0.1.2 with certificates of the mesh CA; a third
/// node whose certificate is refused (another CA, expired, not yet valid, issued for another
/// ident). Each refusal is asserted (UNREACHABLE at once, tls_failed or bad_hello in the log),
/// and so are the legitimate calls that go on meanwhile.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class MeshTlsTests(ITestOutputHelper output) : IDisposable
{
    private readonly LoopbackMesh _mesh = new(output.WriteLine);

    public void Dispose() => _mesh.Dispose();

    public static TheoryData<string> BadCertificates => ["other-ca", "expired", "not-yet-valid"];

    [Theory]
    [MemberData(nameof(BadCertificates))]
    public async Task BadCertificate_Refused_CountedAsTlsFailed_LegitimateCallsGoOn(string kind)
    {
        using X509Certificate2 ca = NewCa();
        string good1 = Issue(ca, "0.0.1.1", "n1");
        string good2 = Issue(ca, "0.0.1.2", "n2");
        DateTimeOffset now = DateTimeOffset.UtcNow;
        string bad = kind switch
        {
            "other-ca" => Issue(NewCa(), "0.0.1.3", "n3"),
            "expired" => Issue(ca, "0.0.1.3", "n3", now.AddDays(-10), now.AddDays(-1)),
            _ => Issue(ca, "0.0.1.3", "n3", now.AddDays(1), now.AddDays(10)),
        };

        await _mesh.StartAsync(
        [
            new("0.0.1.1", "--tls", good1),
            new("0.0.1.2", "--tls", good2),
            new("0.0.1.3", "--tls", bad),
        ]);
        MeshNode n1 = _mesh["0.0.1.1"];
        MeshNode n2 = _mesh["0.0.1.2"];
        MeshNode n3 = _mesh["0.0.1.3"];

        CallSummary good = await n1.CallAsync(n2.Route, 200, inflight: 8);
        output.WriteLine($"{n1} -> {n2} (TLS): {good}");
        Assert.True(good.Ok == 200 && good.Mismatches == 0, $"calls over TLS between two nodes of the mesh: {good}");

        // The refused node dials both ways, while a legitimate caller keeps calling.
        Task<CallSummary> meanwhile = n2.CallAsync(n1.Route, 400, inflight: 4);
        foreach ((MeshNode from, MeshNode to) in new[] { (n3, n1), (n1, n3), (n3, n2) })
        {
            CallSummary refused = await from.CallAsync(to.Route, 3, timeoutMs: 10_000);
            output.WriteLine($"{from} -> {to} ({kind}): {refused}");
            Assert.True(refused.Count("Unreachable") == 3, $"calls from {from} to {to} with a {kind} certificate on one side must be Unreachable: {refused}");
            Assert.True(refused.MaxMilliseconds < 5000, $"Unreachable must come at once, not near the 10 s timeout: {refused}");
        }

        CallSummary during = await meanwhile;
        Assert.True(during.Ok == 400, $"legitimate calls while the {kind} node was refused: {during}");

        string expected = kind switch
        {
            "other-ca" => "is not signed by this mesh's CA",
            "expired" => "expired at",
            _ => "is not valid before",
        };
        string[] lines = await Eventually.UntilAsync(
            () => Task.FromResult(TlsFailures(n1).Concat(TlsFailures(n2)).ToArray()),
            l => l.Any(x => x.Contains(expected, StringComparison.Ordinal)),
            $"a tls_failed warning saying '{expected}' on {n1}'s or {n2}'s stderr",
            TimeSpan.FromSeconds(10),
            _ => $"\n{n1.Kaze.Describe()}\n{n2.Kaze.Describe()}");
        output.WriteLine(lines[0]);
        Assert.Contains("127.0.0.1", lines.First(l => l.Contains(expected, StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CertificateForAnotherIdent_HelloClaimingAConnectedIdent_Refused_TrafficStaysWithTheRealNode()
    {
        using X509Certificate2 ca = NewCa();
        await _mesh.StartAsync(
        [
            new("0.0.1.1", "--tls", Issue(ca, "0.0.1.1", "n1")),
            new("0.0.1.2", "--tls", Issue(ca, "0.0.1.2", "n2")),
        ]);
        MeshNode n1 = _mesh["0.0.1.1"];
        MeshNode n2 = _mesh["0.0.1.2"];
        CallSummary before = await n1.CallAsync(n2.Route, 50, inflight: 4);
        Assert.True(before.Ok == 50, $"calls from {n1} to {n2} before the takeover attempt: {before}");

        // A member of the mesh (a valid certificate, for 0.0.1.4) says it is 0.0.1.2, which is connected.
        Task<CallSummary> meanwhile = n1.CallAsync(n2.Route, 400, inflight: 4);
        using (RawPeer intruder = await RawPeer.ConnectTlsAsync(n1.Port, Issue(ca, "0.0.1.4", "intruder")))
        {
            await intruder.SendAsync(RawFrames.Hello(0x0000_0102));
            string how = await intruder.WaitForCloseAsync($"{n1} to close a connection whose hello claims 0.0.1.2 with 0.0.1.4's certificate", TimeSpan.FromSeconds(3));
            output.WriteLine($"intruder's connection: {how}");
        }

        CallSummary during = await meanwhile;
        Assert.True(during.Ok == 400 && during.Mismatches == 0, $"calls from {n1} to {n2} while a peer claimed {n2}'s ident: {during}");
        Assert.Equal(400, during.Sources.GetValueOrDefault("0.0.1.2"));

        string[] lines = await Eventually.UntilAsync(
            () => Task.FromResult(n1.Kaze.Stderr.Lines.Where(l => l.Contains("certificate is for ident 0.0.1.4 but its hello says 0.0.1.2", StringComparison.Ordinal)).ToArray()),
            l => l.Length > 0,
            $"a bad_hello warning naming both idents on {n1}'s stderr",
            TimeSpan.FromSeconds(10),
            _ => $"\n{n1.Kaze.Describe()}");
        output.WriteLine(lines[0]);
    }

    [Fact]
    public async Task SrcIdentSpoofing_PacketDroppedAndLogged_OwnRequestsAnswered_LegitimateCallsGoOn()
    {
        using X509Certificate2 ca = NewCa();
        await _mesh.StartAsync(
        [
            new("0.0.1.1", "--tls", Issue(ca, "0.0.1.1", "n1")),
            new("0.0.1.2", "--tls", Issue(ca, "0.0.1.2", "n2")),
        ]);
        MeshNode n1 = _mesh["0.0.1.1"];
        MeshNode n2 = _mesh["0.0.1.2"];

        // A member (0.0.1.4, not a relay) sends a request "from 0.0.1.2", then one from itself.
        Task<CallSummary> meanwhile = n2.CallAsync(n1.Route, 400, inflight: 4);
        using (RawPeer member = await RawPeer.ConnectTlsAsync(n1.Port, Issue(ca, "0.0.1.4", "member")))
        {
            byte[] own = System.Text.Encoding.UTF8.GetBytes("from 0.0.1.4 itself");
            await member.SendAsync([.. RawFrames.Hello(0x0000_0104), .. RawFrames.EchoRequest(0x0000_0102, 1, "spoofed"u8), .. RawFrames.EchoRequest(0x0000_0104, 2, own)]);
            (byte[] hello, _) = await member.ReadFrameAsync($"{n1}'s hello", TimeSpan.FromSeconds(10));
            Assert.Contains("kaze.hello", System.Text.Encoding.ASCII.GetString(hello), StringComparison.Ordinal);
            (_, byte[] answer) = await member.ReadFrameAsync($"{n1}'s answer to the member's own request", TimeSpan.FromSeconds(10));
            Assert.Equal(own, answer);
        }

        CallSummary during = await meanwhile;
        Assert.True(during.Ok == 400 && during.Mismatches == 0, $"calls from {n2} to {n1} while a member spoofed {n2}'s ident: {during}");
        string[] lines = await Eventually.UntilAsync(
            () => Task.FromResult(n1.Kaze.Stderr.Lines.Where(l => l.Contains("its srcIdent 0.0.1.2 is not the ident of the peer's certificate", StringComparison.Ordinal)).ToArray()),
            l => l.Length > 0,
            $"a warning about the spoofed srcIdent on {n1}'s stderr",
            TimeSpan.FromSeconds(10),
            _ => $"\n{n1.Kaze.Describe()}");
        output.WriteLine(lines[0]);
        Assert.Contains("(ident 0.0.1.4)", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task CertificateForAnotherIdent_NodeRefusesToStart()
    {
        using X509Certificate2 ca = NewCa();
        string other = Issue(ca, "0.0.1.4", "n3");
        using var runs = new Infrastructure.KazeRuns();
        Infrastructure.KazeProcess kaze = runs.Start(["run", "--ident", "0.0.1.3", "--listen", "127.0.0.1:0", "--metrics", "off", "--tls", other, "--", "true"]);
        int code = await kaze.WaitForExitAndOutputAsync("kaze run with a certificate for another ident to exit", TimeSpan.FromSeconds(30));
        Assert.Equal(2, code);
        Assert.Contains(kaze.Stderr.Lines, l => l.Contains("is for ident 0.0.1.4, but this node's ident is 0.0.1.3", StringComparison.Ordinal));
    }

    private static IEnumerable<string> TlsFailures(MeshNode node) =>
        node.Kaze.Stderr.Lines.Where(l => l.Contains("tls_failed", StringComparison.Ordinal));

    private static X509Certificate2 NewCa() => TestCertificates.NewCa();

    private string Issue(X509Certificate2 ca, string ident, string dir, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null) =>
        TestCertificates.WriteNode(ca, ident, _mesh.Directory, dir, notBefore, notAfter);
}
