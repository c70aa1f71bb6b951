using Kaze.Core.Tests.Infrastructure;
using Xunit;

namespace Kaze.Core.Tests;

/// <summary>Create / Open / Dispose rules of a channel file.</summary>
public sealed class ShmChannelTests : IDisposable
{
    private readonly TestChannels _channels = new();

    public void Dispose() => _channels.Dispose();

    [Theory]
    [InlineData("a/b", "'/'")]
    [InlineData("/etc/passwd", "'/'")]
    [InlineData("..", "..")]
    [InlineData("a..b", "..")]
    [InlineData(".", "'.'")]
    [InlineData("has space", "' '")]
    [InlineData("tab\there", "only")]
    [InlineData("", "empty")]
    [InlineData("ünïcode", "only")]
    public void Create_InvalidName_ThrowsArgumentExceptionSayingWhy(string name, string reasonPart)
    {
        var e = Assert.Throws<ArgumentException>(() => ShmChannel.Create(name));

        Assert.Equal("name", e.ParamName);
        Assert.Contains(reasonPart, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("has space")]
    [InlineData("")]
    public void Open_InvalidName_ThrowsArgumentException(string name)
    {
        var e = Assert.Throws<ArgumentException>(() => ShmChannel.Open(name));

        Assert.Equal("name", e.ParamName);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void Create_NullName_ThrowsArgumentException()
    {
        var e = Assert.Throws<ArgumentException>(() => ShmChannel.Create(null!));

        Assert.Contains("empty", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_NameLongerThan200Characters_ThrowsArgumentExceptionNamingTheLimit()
    {
        string name = new('a', ShmChannel.MaxNameLength + 1);

        var e = Assert.Throws<ArgumentException>(() => ShmChannel.Create(name));

        Assert.Contains("201", e.Message, StringComparison.Ordinal);
        Assert.Contains("200", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(ShmChannel.GetPath(name)));
    }

    [Fact]
    public void Create_NameOf200Characters_Works()
    {
        string name = _channels.NewName(ShmChannel.MaxNameLength);

        _channels.Create(name);

        Assert.True(File.Exists(ShmChannel.GetPath(name)));
    }

    [Fact]
    public void Create_NewChannel_FileIsMode0600()
    {
        string name = _channels.NewName();

        _channels.Create(name);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ShmChannel.GetPath(name)));
    }

    [Fact]
    public void Create_NewChannel_LeavesNoTempFile()
    {
        string name = _channels.NewName();

        _channels.Create(name);

        Assert.Empty(Directory.EnumerateFiles(ShmChannel.Directory, "." + ShmChannel.FilePrefix + name + "*"));
    }

    [Fact]
    public void Create_OverAChannelOfALiveSidecarInThisProcess_ThrowsChannelInUseNamingThePid()
    {
        string name = _channels.NewName();
        ShmChannel first = _channels.Create(name);
        string path = ShmChannel.GetPath(name);

        var e = Assert.Throws<ChannelInUseException>(() => _channels.Create(name));

        Assert.Equal(Environment.ProcessId, e.OwnerPid);
        Assert.Contains($"pid {Environment.ProcessId}", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Equal(path, e.FilePath);
        // The first channel is untouched and still works.
        ShmChannel host = _channels.Open(name);
        Assert.Equal(ChannelStatus.Ok, first.Writer.TryWrite("still here"u8));
        Assert.Equal(ChannelStatus.Ok, host.Reader.TryRead(out ReadOnlySpan<byte> record));
        Assert.True(record.SequenceEqual("still here"u8));
    }

    [Fact]
    public void Create_OverAStaleFileWithADeadPid_ReplacesIt()
    {
        string name = _channels.NewName();
        string path = ShmChannel.GetPath(name);
        const int deadPid = 0x7FFF_FFF0;
        RawChannelFile.Write(path, RawChannelFile.ValidChannel(64, 64, deadPid));
        Assert.False(ChannelInfo.Read(path).SidecarAlive);

        _channels.Create(name, 4096, 4096);

        Assert.Equal(Environment.ProcessId, (int)RawChannelFile.U32(path, 128));
        Assert.Equal(RawChannelFile.DocumentedFileSize(4096, 4096), new FileInfo(path).Length);
    }

    [Fact]
    public void Create_OverAFileWithThisPidButAnotherStartTime_TreatsItAsARecycledPidAndReplacesIt()
    {
        string name = _channels.NewName();
        string path = ShmChannel.GetPath(name);
        ulong otherStart = RawChannelFile.ProcessStartTime(Environment.ProcessId) + 12345;
        RawChannelFile.Write(path, RawChannelFile.ValidChannel(64, 64, Environment.ProcessId, otherStart));

        _channels.Create(name, 4096, 4096);

        Assert.Equal(RawChannelFile.ProcessStartTime(Environment.ProcessId), RawChannelFile.U64(path, 136));
        Assert.Equal(RawChannelFile.DocumentedFileSize(4096, 4096), new FileInfo(path).Length);
    }

    [Fact]
    public void Create_OverTheFileOfASidecarProcessThatExited_ReplacesIt()
    {
        string name = _channels.NewName();
        string path = ShmChannel.GetPath(name);
        int deadPid;
        using (var peer = TestPeerProcess.Start("create-and-exit", name))
        {
            deadPid = peer.WaitForReady(Deadline.Short);
            Assert.True(peer.WaitForExit(Deadline.Short, "create-and-exit to exit without closing") == 0, peer.Diagnostics());
        }

        Assert.Equal(deadPid, (int)RawChannelFile.U32(path, 128));
        Assert.False(ChannelInfo.Read(path).SidecarAlive, $"pid {deadPid} has exited, but the file's sidecar looks alive");

        ShmChannel sidecar = _channels.Create(name);

        Assert.Equal(Environment.ProcessId, (int)RawChannelFile.U32(path, 128));
        ShmChannel host = _channels.Open(name);
        Assert.Equal(ChannelStatus.Ok, sidecar.Writer.TryWrite("fresh"u8));
        Assert.Equal(ChannelStatus.Ok, host.Reader.TryRead(out _));
    }

    [Fact]
    public void Create_OverAFileThatIsNotAChannel_ThrowsAndLeavesTheFile()
    {
        string name = _channels.NewName();
        string path = ShmChannel.GetPath(name);
        byte[] text = new byte[8000];
        text.AsSpan().Fill((byte)'x');
        RawChannelFile.Write(path, text);

        var e = Assert.Throws<ChannelException>(() => _channels.Create(name));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Equal(text, RawChannelFile.Read(path));
    }

    [Fact]
    public void Open_MissingChannel_ThrowsChannelNotFoundNamingTheFile()
    {
        string name = _channels.NewName();

        var e = Assert.Throws<ChannelNotFoundException>(() => ShmChannel.Open(name));

        Assert.Equal(ShmChannel.GetPath(name), e.FilePath);
        Assert.Contains(ShmChannel.GetPath(name), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_WhileALiveHostProcessIsAttached_ThrowsChannelInUseNamingItsPid()
    {
        string name = _channels.NewName();
        _channels.Create(name);
        using var peer = TestPeerProcess.Start("hold-host", name);
        int peerPid = peer.WaitForReady(Deadline.Short);

        var e = Assert.Throws<ChannelInUseException>(() => _channels.Open(name));

        Assert.Equal(peerPid, e.OwnerPid);
        Assert.Contains($"pid {peerPid}", e.Message, StringComparison.Ordinal);
        Assert.Contains("host", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_AfterTheHostProcessExited_IsRefusedNamingItAndTheStateHostGone()
    {
        string name = _channels.NewName();
        ShmChannel sidecar = _channels.Create(name);
        int peerPid;
        using (var peer = TestPeerProcess.Start("hold-host", name))
        {
            peerPid = peer.WaitForReady(Deadline.Short);
            Assert.Equal(peerPid, sidecar.PeerPid);
            peer.Kill();
            peer.WaitForExit(Deadline.Short, "the killed host");
        }

        var e = Assert.Throws<ChannelInUseException>(() => _channels.Open(name));

        Assert.Equal(peerPid, e.OwnerPid);
        Assert.Equal($"{ShmChannel.GetPath(name)}: channel already served its host, pid {peerPid}, which is gone (state host-gone); a channel serves one host: start the program under its own `kaze run`", e.Message);
        Assert.Equal(peerPid, sidecar.PeerPid);
    }

    [Fact]
    public void Open_AfterTheHostClosedItsEnd_IsRefusedWithTheStateClosed()
    {
        string name = _channels.NewName();
        ShmChannel sidecar = _channels.Create(name);
        using (var peer = TestPeerProcess.Start("hold-host", name))
        {
            int peerPid = peer.WaitForReady(Deadline.Short);
            // As a host does when it closes (state 2) and its process goes on (a wrapper script).
            RawChannelFile.WriteU32At(ShmChannel.GetPath(name), 260, 2);

            var e = Assert.Throws<ChannelInUseException>(() => _channels.Open(name));

            Assert.Equal(peerPid, e.OwnerPid);
            Assert.Contains($"pid {peerPid}, which closed its end (state closed)", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Dispose_Sidecar_RemovesTheFile()
    {
        string name = _channels.NewName();
        ShmChannel sidecar = _channels.Create(name);
        Assert.True(File.Exists(ShmChannel.GetPath(name)));

        sidecar.Dispose();

        Assert.False(File.Exists(ShmChannel.GetPath(name)));
    }

    [Fact]
    public void Dispose_Host_LeavesTheFileAndTheSidecarSeesClosed()
    {
        string name = _channels.NewName();
        ShmChannel sidecar = _channels.Create(name);
        ShmChannel host = _channels.Open(name);

        host.Dispose();

        Assert.True(File.Exists(ShmChannel.GetPath(name)));
        Assert.Equal(ChannelStatus.Closed, sidecar.Reader.TryRead(out _));
        Assert.Equal(ChannelStatus.Closed, sidecar.Writer.TryClaim(1, out _));
    }

    [Fact]
    public void Dispose_Twice_IsHarmless()
    {
        ChannelPair pair = _channels.CreatePair();

        pair.Host.Dispose();
        pair.Host.Dispose();
        pair.Sidecar.Dispose();
        pair.Sidecar.Dispose();

        Assert.False(File.Exists(ShmChannel.GetPath(pair.Name)));
    }

    [Fact]
    public void PeerPid_BeforeAndAfterTheHostAttaches_IsZeroThenTheHostPid()
    {
        string name = _channels.NewName();
        ShmChannel sidecar = _channels.Create(name);
        Assert.Equal(0, sidecar.PeerPid);

        ShmChannel host = _channels.Open(name);

        Assert.Equal(Environment.ProcessId, sidecar.PeerPid);
        Assert.Equal(Environment.ProcessId, host.PeerPid);
        Assert.Equal(ChannelSide.Sidecar, sidecar.Side);
        Assert.Equal(ChannelSide.Host, host.Side);
    }

    [Fact]
    public void Create_InvalidCapacities_ThrowsArgumentExceptionListingEveryProblem()
    {
        string name = _channels.NewName();

        var e = Assert.Throws<ArgumentException>(() => ShmChannel.Create(name, new ChannelOptions { SidecarToHostCapacity = 1000, HostToSidecarCapacity = 32 }));

        Assert.Contains("SidecarToHostCapacity is 1000", e.Message, StringComparison.Ordinal);
        Assert.Contains("HostToSidecarCapacity is 32", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(ShmChannel.GetPath(name)));
    }

    [Fact]
    public void ChannelInfoRead_LiveChannel_ReportsPidsCapacitiesAndUsedBytes()
    {
        string name = _channels.NewName();
        ShmChannel sidecar = _channels.Create(name, 4096, 8192);
        _channels.Open(name);
        Assert.Equal(ChannelStatus.Ok, sidecar.Writer.TryWrite(new byte[20]));

        ChannelInfo info = ChannelInfo.Read(ShmChannel.GetPath(name));

        Assert.Equal(name, info.Name);
        Assert.Equal(Environment.ProcessId, info.SidecarPid);
        Assert.True(info.SidecarAlive);
        Assert.Equal(Environment.ProcessId, info.HostPid);
        Assert.True(info.HostAlive);
        Assert.False(info.Closed);
        Assert.Equal(4096, info.SidecarToHostCapacity);
        Assert.Equal(8192, info.HostToSidecarCapacity);
        Assert.Equal(24, info.SidecarToHostUsed);
        Assert.Equal(0, info.HostToSidecarUsed);
    }

    /// <summary>
    /// Each ring-end operation once, after Dispose, on the disposing thread, in a peer process (an
    /// access to the unmapped file kills the process, which must not be the test host). Expected:
    /// Closed, or ObjectDisposedException (ThrowHelper.ThrowDisposed exists for it), or for
    /// UsedBytes any number; never a crash.
    /// </summary>
    [Theory]
    [InlineData("TryClaim")]
    [InlineData("Claim")]
    [InlineData("WaitToWriteAsync")]
    [InlineData("WriterUsedBytes")]
    [InlineData("TryRead")]
    [InlineData("WaitToRead")]
    [InlineData("WaitToReadAsync")]
    [InlineData("ReaderUsedBytes")]
    public void RingEnd_UsedAfterDispose_ReturnsClosedOrThrowsObjectDisposedInsteadOfCrashing(string operation)
    {
        string name = _channels.NewName();
        using var peer = TestPeerProcess.Start("use-after-dispose", name, operation);

        int exitCode = peer.WaitForExit(Deadline.Short, $"{operation} after Dispose");

        Assert.True(exitCode == 0, $"{operation} after Dispose killed the process (exit code {exitCode}) instead of returning Closed or throwing ObjectDisposedException.{peer.Diagnostics()}");
        Assert.Matches($"ok {operation}=(Closed|ObjectDisposedException|[0-9]+)", peer.Output);
    }
}
