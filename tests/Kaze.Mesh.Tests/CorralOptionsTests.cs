using System.Net;
using System.Net.Sockets;
using Kaze.Mesh;
using Kaze.Mesh.Tests.Infrastructure;
using Kaze.Protocol;
using Kaze.Resolver;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kaze.Mesh.Tests;

public sealed class CorralOptionsTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public void Validate_Defaults_NoProblems()
    {
        var options = new CorralOptions();

        Assert.Empty(options.Validate());
        Assert.Equal(new NodeAddress("127.0.0.1", 6081), options.Listen);
        Assert.Equal(TimeSpan.FromSeconds(5), options.HandshakeTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromSeconds(60), options.IdleTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.ReconnectMin);
        Assert.Equal(TimeSpan.FromSeconds(10), options.ReconnectMax);
        Assert.Equal(TcpFraming.DefaultMaxFrameSize, options.MaxFrameSize);
        Assert.Equal(10_000, options.MaxQueuedPackets);
        Assert.Equal(64L * 1024 * 1024, options.MaxQueuedBytes);
        Assert.Null(options.Secret);
    }

    [Fact]
    public void Validate_ManyProblems_ListsEveryOne()
    {
        var options = new CorralOptions
        {
            Listen = new NodeAddress("", 70000),
            Secret = [],
            HandshakeTimeout = TimeSpan.Zero,
            ReconnectMin = TimeSpan.FromSeconds(20),
            MaxFrameSize = 10,
            MaxQueuedPackets = 0,
            MaxQueuedBytes = 0,
        };

        List<string> problems = options.Validate();

        Assert.Equal(8, problems.Count);
        Assert.Contains(problems, p => p.Contains("no host", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("70000", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Secret is empty", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("HandshakeTimeout", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("ReconnectMin", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("MaxFrameSize", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("MaxQueuedPackets", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("MaxQueuedBytes", StringComparison.Ordinal));
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsWithEveryProblem()
    {
        var options = new CorralOptions { MaxQueuedPackets = 0, IdleTimeout = TimeSpan.Zero };

        var e = Assert.Throws<ArgumentException>(() => new PeerCorral(options, new Ident(1), new TestResolver(), (p, _) => p.Dispose(), (p, _) => p.Dispose(), NullLoggerFactory.Instance));

        Assert.Contains("MaxQueuedPackets", e.Message, StringComparison.Ordinal);
        Assert.Contains("IdleTimeout", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("s3cret\n")]
    [InlineData("s3cret\r\n")]
    [InlineData("s3cret")]
    public void LoadSecret_TrailingNewline_Trimmed(string content)
    {
        using var dir = new TempDirectory();
        string path = dir.WriteFile("secret", content, OwnerOnly);

        Assert.Equal("s3cret"u8.ToArray(), CorralOptions.LoadSecret(path));
    }

    [Fact]
    public void LoadSecret_EmptyFile_RefusedNamingTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteFile("secret", "\n", OwnerOnly);

        var e = Assert.Throws<InvalidOperationException>(() => CorralOptions.LoadSecret(path));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("empty", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadSecret_ReadableByEveryone_Refused()
    {
        using var dir = new TempDirectory();
        string path = dir.WriteFile("secret", "s3cret", OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var e = Assert.Throws<InvalidOperationException>(() => CorralOptions.LoadSecret(path));

        Assert.Contains("chmod 600", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoadSecret_SymlinkToPrivateFile_ReadsTheTarget()
    {
        // As a Kubernetes secret volume lays it out: the name is a symlink (mode 0777) to the data.
        using var dir = new TempDirectory();
        string target = dir.WriteFile("data", "s3cret\n", OwnerOnly);
        string link = dir.File("secret");
        File.CreateSymbolicLink(link, target);

        Assert.Equal("s3cret"u8.ToArray(), CorralOptions.LoadSecret(link));
    }

    [Fact]
    public void LoadSecret_MissingFile_RefusedNamingTheFile()
    {
        using var dir = new TempDirectory();

        var e = Assert.Throws<InvalidOperationException>(() => CorralOptions.LoadSecret(dir.File("nope")));

        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_PortInUse_ThrowsNamingTheAddress()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        var options = new CorralOptions { Listen = new NodeAddress("127.0.0.1", port) };
        await using var corral = new PeerCorral(options, new Ident(1), new TestResolver(), (p, _) => p.Dispose(), (p, _) => p.Dispose(), NullLoggerFactory.Instance);

        var e = await Assert.ThrowsAsync<CorralListenException>(() => corral.StartAsync(CancellationToken.None));

        Assert.Contains($"127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
        Assert.Contains("in use", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(port, e.Address.Port);
    }

    [Fact]
    public async Task StartAsync_PortZero_LocalEndPointHasTheBoundPort()
    {
        var options = new CorralOptions { Listen = new NodeAddress("127.0.0.1", 0) };
        await using var corral = new PeerCorral(options, new Ident(1), new TestResolver(), (p, _) => p.Dispose(), (p, _) => p.Dispose(), NullLoggerFactory.Instance);

        await corral.StartAsync(CancellationToken.None);

        Assert.NotEqual(0, corral.LocalEndPoint.Port);
        Assert.Equal(IPAddress.Loopback, corral.LocalEndPoint.Address);
    }
}
