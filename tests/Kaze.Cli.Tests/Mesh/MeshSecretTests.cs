using System.Security.Cryptography;
using Xunit;
using Xunit.Abstractions;

namespace Kaze.Cli.Tests.Mesh;

/// <summary>
/// The shared secret between real sidecars: 0.0.1.1 and 0.0.1.2 with secret A, 0.0.1.3 with
/// secret B. A and B nodes cannot connect, so calls between them are answered UNREACHABLE at once
/// (not left to time out); A with A works; kaze says on stderr that the authentication failed.
/// </summary>
[Collection(MeshCollection.Name)]
public sealed class MeshSecretTests(ITestOutputHelper output) : IDisposable
{
    private readonly LoopbackMesh _mesh = new(output.WriteLine);

    public void Dispose() => _mesh.Dispose();

    [Fact]
    public async Task DifferentSecrets_CallsAcrossThemUnreachableAtOnce_SameSecretWorks_StderrSaysAuthFailed()
    {
        string a = WriteSecret("a.secret");
        string b = WriteSecret("b.secret");
        await _mesh.StartAsync(
        [
            new("0.0.1.1", "--secret-file", a),
            new("0.0.1.2", "--secret-file", a),
            new("0.0.1.3", "--secret-file", b),
        ]);
        MeshNode a1 = _mesh["0.0.1.1"];
        MeshNode a2 = _mesh["0.0.1.2"];
        MeshNode b3 = _mesh["0.0.1.3"];

        CallSummary same = await a1.CallAsync(a2.Route, 50, inflight: 4);
        output.WriteLine($"{a1} -> {a2} (same secret): {same}");
        Assert.True(same.Ok == 50 && same.Mismatches == 0, $"calls between two nodes with the same secret: {same}");

        foreach ((MeshNode from, MeshNode to) in new[] { (a1, b3), (b3, a1), (a2, b3), (b3, a2) })
        {
            CallSummary across = await from.CallAsync(to.Route, 5, timeoutMs: 10_000);
            output.WriteLine($"{from} -> {to} (other secret): {across}");
            Assert.True(across.Count("Unreachable") == 5, $"calls from {from} to {to}, whose secret differs, must all be Unreachable: {across}");
            Assert.True(across.MaxMilliseconds < 3000, $"Unreachable must come at once, not near the 10 s timeout: {across}");
        }

        // Each side checks the other's proof; whichever closes first, at least one says why.
        string[] authFailures = await Eventually.UntilAsync(
            () => Task.FromResult(AuthFailureLines(a1).Concat(AuthFailureLines(b3)).ToArray()),
            lines => lines.Length > 0,
            $"an auth_failed warning on {a1}'s or {b3}'s stderr",
            TimeSpan.FromSeconds(10),
            _ => $"\n{a1.Kaze.Describe()}\n{b3.Kaze.Describe()}");
        foreach (string line in authFailures)
        {
            output.WriteLine(line);
        }

        Assert.Contains(authFailures, l => l.Contains("wrong proof: the peer does not know the shared secret", StringComparison.Ordinal));

        CallSummary stillSame = await a2.CallAsync(a1.Route, 20, inflight: 4);
        Assert.True(stillSame.Ok == 20, $"calls between the two nodes with the same secret, afterwards: {stillSame}");
    }

    private static IEnumerable<string> AuthFailureLines(MeshNode node) =>
        node.Kaze.Stderr.Lines.Where(l => l.Contains("auth_failed", StringComparison.Ordinal));

    private string WriteSecret(string name)
    {
        string path = Path.Combine(_mesh.Directory, name);
        File.WriteAllText(path, Convert.ToHexString(RandomNumberGenerator.GetBytes(32)) + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
