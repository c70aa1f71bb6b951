using Kaze.Cli.Tests.Infrastructure;
using Xunit;

namespace Kaze.Cli.Tests.Commands;

/// <summary>One `kaze run --ident 0.0.0.2 -- Kaze.Echo serve`, listening on a free port, for every test of the class.</summary>
public sealed class EchoSidecarFixture : IAsyncLifetime
{
    private readonly KazeRuns _runs = new();

    public string Via { get; private set; } = "";

    internal KazeProcess Sidecar { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        int port = OperatorCommandRuns.FreePort();
        Via = $"127.0.0.1:{port}";
        Sidecar = await OperatorCommandRuns.StartEchoSidecarAsync(_runs, "0.0.0.2", port);
    }

    public Task DisposeAsync()
    {
        _runs.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>`kaze send` through a real sidecar with the Echo host: what the answer looks like, and the exit code for each outcome.</summary>
public sealed class SendCommandTests(EchoSidecarFixture echo) : IClassFixture<EchoSidecarFixture>, IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Send_EchoRequest_PrintsTheBodyAndExits0()
    {
        (int code, KazeProcess send) = await OperatorCommandRuns.RunAsync(_runs, "kaze send to Echo", "send", "--via", echo.Via, "--to", "0.0.0.2", "--type", "echo", "--body", "hi");

        Assert.True(code == 0, $"expected 0, got {code}\n{send.Describe()}\n--- the sidecar:\n{echo.Sidecar.Describe()}");
        IReadOnlyList<string> lines = send.Stdout.Lines;
        Assert.StartsWith("OK (0) from 0.0.0.2 in ", lines[0], StringComparison.Ordinal);
        Assert.Contains("type: echo", lines);
        Assert.Contains("body: 2 bytes, UTF-8 text", lines);
        Assert.Equal("hi", lines[^1]);
        Assert.Empty(send.Stderr.Lines);
    }

    [Fact]
    public async Task Send_BodyThatIsNotText_PrintsItAsBase64()
    {
        string file = Path.Combine(_runs.Directory, "body.bin");
        File.WriteAllBytes(file, [0xFF, 0x00, 0x61, 0x62]);

        (int code, KazeProcess send) = await OperatorCommandRuns.RunAsync(_runs, "kaze send of a binary body to Echo", "send", "--via", echo.Via, "--to", "0.0.0.0", "--type", "echo", "--body-file", file);

        Assert.True(code == 0, $"expected 0, got {code}\n{send.Describe()}");
        Assert.Contains("body: 4 bytes, not text (invalid UTF-8 or control characters), as base64", send.Stdout.Lines);
        Assert.Equal(Convert.ToBase64String([0xFF, 0x00, 0x61, 0x62]), send.Stdout.Lines[^1]);
    }

    [Fact]
    public async Task Send_ToAnUnknownIdent_PrintsUnreachableAndExits1()
    {
        (int code, KazeProcess send) = await OperatorCommandRuns.RunAsync(_runs, "kaze send to an unknown node", "send", "--via", echo.Via, "--to", "0.0.0.9", "--type", "echo", "--body", "hi", "--timeout", "10000");

        Assert.True(code == 1, $"expected 1 (an answer that is not OK), got {code}\n{send.Describe()}");
        Assert.StartsWith("UNREACHABLE (1) from 0.0.0.2 in ", send.Stdout.Lines[0], StringComparison.Ordinal);
        Assert.Contains("body: empty", send.Stdout.Lines);
    }

    [Fact]
    public async Task Send_TypeWithoutAHandler_PrintsNoHandlerAndExits1()
    {
        (int code, KazeProcess send) = await OperatorCommandRuns.RunAsync(_runs, "kaze send of a type Echo does not handle", "send", "--via", echo.Via, "--to", "0.0.0.2", "--type", "no-such-type", "--body", "hi");

        Assert.True(code == 1, $"expected 1, got {code}\n{send.Describe()}");
        Assert.StartsWith("NO_HANDLER (4) from 0.0.0.2", send.Stdout.Lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_FromTheSidecarsOwnIdent_IsRefusedAndExits3()
    {
        (int code, KazeProcess send) = await OperatorCommandRuns.RunAsync(_runs, "kaze send --from the sidecar's own ident", "send", "--via", echo.Via, "--to", "0.0.0.2", "--from", "0.0.0.2", "--type", "echo", "--body", "hi");

        Assert.True(code == 3, $"expected 3, got {code}\n{send.Describe()}");
        string line = Assert.Single(send.Stderr.Lines);
        Assert.Contains("has this client's own ident 0.0.0.2; choose another with --from", line, StringComparison.Ordinal);
        Assert.Empty(send.Stdout.Lines);
    }
}

/// <summary>`kaze send` where no answer comes, nothing listens, or the options are wrong.</summary>
public sealed class SendCommandFailureTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    /// <summary>A host that never attaches (sh) leaves the request in the ring: no one answers, and the sidecar does not track requests from the network.</summary>
    [Fact]
    public async Task Send_NobodyAnswers_PrintsTimeoutAndExits4()
    {
        int port = OperatorCommandRuns.FreePort();
        string channel = _runs.NewChannel();
        KazeProcess sidecar = _runs.Start(["run", "--channel", channel, "--ident", "0.0.0.3", "--listen", $"127.0.0.1:{port}", "--metrics", "off", "--", "sh", "-c", """echo "ready $$"; exec sleep 60"""]);
        await _runs.WaitForReadyChildAsync(sidecar, "the silent host to start (the sidecar listens before it starts it)");

        (int code, KazeProcess send) = await OperatorCommandRuns.RunAsync(_runs, "kaze send to a host that never answers", "send", "--via", $"127.0.0.1:{port}", "--to", "0.0.0.3", "--type", "echo", "--body", "hi", "--timeout", "300");

        Assert.True(code == 4, $"expected 4, got {code}\n{send.Describe()}\n--- the sidecar:\n{sidecar.Describe()}");
        Assert.Equal(["timeout: no answer from 0.0.0.3 within 300 ms"], send.Stdout.Lines);
    }

    [Fact]
    public async Task Send_NothingListens_Exits3NamingTheAddress()
    {
        int port = OperatorCommandRuns.FreePort();

        (int code, KazeProcess send) = await OperatorCommandRuns.RunAsync(_runs, "kaze send to a port nothing listens on", "send", "--via", $"127.0.0.1:{port}", "--to", "0.0.0.2", "--type", "echo", "--body", "hi");

        Assert.True(code == 3, $"expected 3, got {code}\n{send.Describe()}");
        string line = Assert.Single(send.Stderr.Lines);
        Assert.StartsWith($"kaze send: cannot connect to 127.0.0.1:{port}: ", line, StringComparison.Ordinal);
        Assert.Contains("refused", line, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Send_BadOptions_Exits2ListingEveryProblem()
    {
        (int code, KazeProcess send) = await OperatorCommandRuns.RunAsync(
            _runs, "kaze send with bad options", "send", "--via", "nope", "--to", "1.2.3", "--from", "0.0.0.0", "--timeout", "soon", "--header", "no-equals");

        Assert.True(code == 2, $"expected 2, got {code}\n{send.Describe()}");
        string[] expected =
        [
            "kaze send: --via: 'nope' is not an address",
            "kaze send: --to: '1.2.3' is not an ident",
            "kaze send: --from: 0.0.0.0 cannot be a client's ident",
            "kaze send: --type BODY_TYPE is required",
            "kaze send: --body TEXT or --body-file FILE is required",
            "kaze send: --timeout: 'soon' is not a timeout",
            "kaze send: --header: 'no-equals' is not KEY=VALUE",
        ];
        foreach (string start in expected)
        {
            Assert.True(send.Stderr.Lines.Any(l => l.StartsWith(start, StringComparison.Ordinal)), $"no line starts with \"{start}\"\n{send.Describe()}");
        }

        Assert.Empty(send.Stdout.Lines);
    }

    /// <summary>System.CommandLine's own errors (here an unknown option) are bad options too: 2, not its usual 1, which means "not OK" here.</summary>
    [Fact]
    public async Task Send_UnknownOption_Exits2NamingIt()
    {
        (int code, KazeProcess send) = await OperatorCommandRuns.RunAsync(_runs, "kaze send with an unknown option", "send", "--via", "127.0.0.1:1", "--to", "0.0.0.2", "--type", "echo", "--body", "hi", "--bogus");

        Assert.True(code == 2, $"expected 2, got {code}\n{send.Describe()}");
        Assert.Contains("kaze send: unknown option or argument '--bogus'", send.Stderr.Lines);
        Assert.Empty(send.Stdout.Lines);
    }
}

/// <summary>`kaze send` to a sidecar that requires the mesh's shared secret.</summary>
public sealed class SendCommandSecretTests : IDisposable
{
    private readonly KazeRuns _runs = new();

    public void Dispose() => _runs.Dispose();

    [Fact]
    public async Task Send_SidecarWithASecret_OnlyTheRightSecretConnects()
    {
        string secret = SecretFile("secret", "the mesh's secret\n");
        string wrong = SecretFile("wrong", "another secret\n");
        int port = OperatorCommandRuns.FreePort();
        string via = $"127.0.0.1:{port}";
        KazeProcess sidecar = await OperatorCommandRuns.StartRelaySidecarAsync(_runs, "0.0.0.5", port, "--secret-file", secret);

        // The right secret: the handshake passes, and the relay (no host) answers UNREACHABLE itself.
        (int rightCode, KazeProcess right) = await OperatorCommandRuns.RunAsync(_runs, "kaze send with the right secret", "send", "--via", via, "--to", "0.0.0.5", "--type", "echo", "--body", "hi", "--secret-file", secret);
        Assert.True(rightCode == 1, $"expected 1 (UNREACHABLE from a relay without a host), got {rightCode}\n{right.Describe()}\n--- the sidecar:\n{sidecar.Describe()}");
        Assert.StartsWith("UNREACHABLE (1) from 0.0.0.5", right.Stdout.Lines[0], StringComparison.Ordinal);

        (int wrongCode, KazeProcess refused) = await OperatorCommandRuns.RunAsync(_runs, "kaze send with the wrong secret", "send", "--via", via, "--to", "0.0.0.5", "--type", "echo", "--body", "hi", "--secret-file", wrong);
        Assert.True(wrongCode == 3, $"expected 3, got {wrongCode}\n{refused.Describe()}");
        string wrongLine = Assert.Single(refused.Stderr.Lines);
        Assert.Contains("secret", wrongLine, StringComparison.Ordinal);
        Assert.Contains(via, wrongLine, StringComparison.Ordinal);
        Assert.Empty(refused.Stdout.Lines);

        (int noneCode, KazeProcess none) = await OperatorCommandRuns.RunAsync(_runs, "kaze send without a secret", "send", "--via", via, "--to", "0.0.0.5", "--type", "echo", "--body", "hi");
        Assert.True(noneCode == 3, $"expected 3, got {noneCode}\n{none.Describe()}");
        Assert.Equal(
            [$"kaze send: the sidecar at {via} (0.0.0.5) requires the mesh's shared secret, and none was given; give the secret with --secret-file FILE"],
            none.Stderr.Lines);
    }

    private string SecretFile(string name, string content)
    {
        string path = Path.Combine(_runs.Directory, name);
        File.WriteAllText(path, content);
        // Secret files readable by others are refused.
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
