using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary><c>kaze cert init/issue/show</c> as a user runs them: files, modes, what show prints, and the refusals.</summary>
public sealed class CertCommandTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task InitIssueShow_MakeAUsableTlsDirectory_KeysAre0600_ShowNamesTheIdent()
    {
        string ca = Path.Combine(_runs.Directory, "ca");
        string node = Path.Combine(_runs.Directory, "n2");
        Assert.Equal(0, await RunAsync("cert", "init", ca));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(ca, "ca.key")));

        Assert.Equal(0, await RunAsync("cert", "issue", "--ca", ca, "--ident", "0.0.0.2", "--name", "echo", "--relay", "--out", node));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(node, "node.key")));
        Assert.Equal(File.ReadAllText(Path.Combine(ca, "ca.crt")), File.ReadAllText(Path.Combine(node, "ca.crt")));

        KazeProcess show = _runs.Start(["cert", "show", Path.Combine(node, "node.crt")]);
        Assert.Equal(0, await show.WaitForExitAndOutputAsync("kaze cert show"));
        string text = string.Join("\n", show.Stdout.Lines);
        Assert.Contains("ident:       0.0.0.2", text, StringComparison.Ordinal);
        Assert.Contains("names:       echo", text, StringComparison.Ordinal);
        Assert.Contains("relay:       yes", text, StringComparison.Ordinal);
        Assert.Contains("(valid)", text, StringComparison.Ordinal);

        // The directory is what --tls takes: a sidecar starts with it (and exits with its host).
        Assert.Equal(0, await RunAsync("run", "--ident", "0.0.0.2", "--listen", "127.0.0.1:0", "--metrics", "off", "--tls", node, "--", "true"));
    }

    [Fact]
    public async Task Refusals_ExistingCa_BadIdent_MissingCa_NotACertificate()
    {
        string ca = Path.Combine(_runs.Directory, "ca");
        Assert.Equal(0, await RunAsync("cert", "init", ca));
        string key = File.ReadAllText(Path.Combine(ca, "ca.key"));

        KazeProcess again = _runs.Start(["cert", "init", ca]);
        Assert.Equal(2, await again.WaitForExitAndOutputAsync("kaze cert init over an existing CA"));
        Assert.Contains(again.Stderr.Lines, l => l.Contains("exists already", StringComparison.Ordinal));
        Assert.Equal(key, File.ReadAllText(Path.Combine(ca, "ca.key")));

        KazeProcess any = _runs.Start(["cert", "issue", "--ca", ca, "--ident", "0.0.0.0", "--out", Path.Combine(_runs.Directory, "x")]);
        Assert.Equal(2, await any.WaitForExitAndOutputAsync("kaze cert issue --ident 0.0.0.0"));
        Assert.Contains(any.Stderr.Lines, l => l.Contains("0.0.0.0 is not a node's ident", StringComparison.Ordinal));

        KazeProcess noCa = _runs.Start(["cert", "issue", "--ca", Path.Combine(_runs.Directory, "none"), "--ident", "0.0.0.2", "--out", Path.Combine(_runs.Directory, "x")]);
        Assert.Equal(2, await noCa.WaitForExitAndOutputAsync("kaze cert issue with a missing CA"));
        Assert.Contains(noCa.Stderr.Lines, l => l.Contains("kaze cert init", StringComparison.Ordinal));

        string notCert = Path.Combine(_runs.Directory, "junk.crt");
        File.WriteAllText(notCert, "junk");
        KazeProcess show = _runs.Start(["cert", "show", notCert]);
        Assert.Equal(1, await show.WaitForExitAndOutputAsync("kaze cert show of a junk file"));
        Assert.Contains(show.Stderr.Lines, l => l.Contains("not a readable PEM certificate", StringComparison.Ordinal));
    }

    private async Task<int> RunAsync(params string[] arguments)
    {
        KazeProcess kaze = _runs.Start(arguments);
        return await kaze.WaitForExitAndOutputAsync("kaze " + string.Join(' ', arguments));
    }
}
