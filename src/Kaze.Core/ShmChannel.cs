using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Kaze.Core.Native;
using static Kaze.Core.ChannelLayout;

namespace Kaze.Core;

/// <summary>
/// A shared-memory channel between a sidecar and its host: one file under /dev/shm holding two
/// single-producer single-consumer byte rings. The sidecar <see cref="Create"/>s it, the host
/// <see cref="Open"/>s it by name. The format is specified in docs/shm-format.md.
/// </summary>
/// <remarks>
/// Dispose only after the threads using <see cref="Writer"/> and <see cref="Reader"/> have
/// stopped: spans they hold point into the mapping. Waits blocked in other threads are woken and
/// return <see cref="ChannelStatus.Closed"/> before the mapping goes away.
/// </remarks>
public sealed unsafe class ShmChannel : IDisposable
{
    /// <summary>Where channel files live.</summary>
    public const string Directory = "/dev/shm";

    /// <summary>Prefix of a channel's file name: the file of channel "x" is /dev/shm/kaze-x.</summary>
    public const string FilePrefix = "kaze-";

    /// <summary>Longest accepted channel name.</summary>
    public const int MaxNameLength = 200;

    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    // This side's state word and the peer's state word in the header.
    private readonly int* _ownState;
    private readonly int* _peerState;
    private readonly int* _peerPid;
    private readonly ulong* _peerStartTime;
    // Set once by Close/Dispose; read on hot paths instead of the shared word.
    private volatile bool _closed;
    private int _disposed;
    // Blocking waits in progress; Dispose waits for them to leave before unmapping.
    private int _activeWaits;
    // Wakes this side's waiters the moment the peer process dies.
    private readonly Waiting.PeerMonitor _peerMonitor;
    // The two rings, located once from validated capacities.
    private readonly byte* _ring0;
    private readonly byte* _ring1;
    // Why a ring was found corrupt (the first violation); null while the channel is sound.
    private string? _corruption;

    private ShmChannel(string name, string path, ChannelSide side, MemoryMappedFile file, MemoryMappedViewAccessor view, int cap0, int cap1)
    {
        Name = name;
        FilePath = path;
        Side = side;
        _peerMonitor = new Waiting.PeerMonitor(this);
        _file = file;
        _view = view;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + view.PointerOffset;

        // The capacities and ring offsets come from what this process wrote or validated, never
        // from the mapping again: the other side can rewrite the header at any time.
        _ring0 = _base + Ring0Offset;
        _ring1 = _base + Ring1Offset(cap0);
        const string ToHost = "ring 0 (sidecar -> host)";
        const string FromHost = "ring 1 (host -> sidecar)";
        if (side == ChannelSide.Sidecar)
        {
            Writer = new RingWriter(this, _ring0, cap0, ToHost);
            Reader = new RingReader(this, _ring1, cap1, FromHost);
            _ownState = (int*)(_base + SidecarStateOffset);
            _peerState = (int*)(_base + HostStateOffset);
            _peerPid = (int*)(_base + HostPidOffset);
            _peerStartTime = (ulong*)(_base + HostStartTimeOffset);
        }
        else
        {
            Writer = new RingWriter(this, _ring1, cap1, FromHost);
            Reader = new RingReader(this, _ring0, cap0, ToHost);
            _ownState = (int*)(_base + HostStateOffset);
            _peerState = (int*)(_base + SidecarStateOffset);
            _peerPid = (int*)(_base + SidecarPidOffset);
            _peerStartTime = (ulong*)(_base + SidecarStartTimeOffset);
        }
    }

    /// <summary>The channel's name (what KAZE_CHANNEL holds).</summary>
    public string Name { get; }

    /// <summary>The channel's file.</summary>
    public string FilePath { get; }

    /// <summary>Which end this process holds.</summary>
    public ChannelSide Side { get; }

    /// <summary>The ring this side writes: sidecar → host for the sidecar, host → sidecar for the host.</summary>
    public RingWriter Writer { get; }

    /// <summary>The ring this side reads.</summary>
    public RingReader Reader { get; }

    /// <summary>The peer's pid as the file says (0 while no host has attached).</summary>
    public int PeerPid => _disposed != 0 ? 0 : Volatile.Read(ref *_peerPid);

    /// <summary>The file of channel <paramref name="name"/>.</summary>
    public static string GetPath(string name) => System.IO.Path.Combine(Directory, FilePrefix + name);

    /// <summary>Checks a channel name: 1-200 characters of [A-Za-z0-9._-], not "." or "..", no "..".</summary>
    public static bool IsValidName(string? name, out string reason)
    {
        if (string.IsNullOrEmpty(name))
        {
            reason = "channel name is empty";
            return false;
        }

        if (name.Length > MaxNameLength)
        {
            reason = $"channel name is {name.Length} characters long, at most {MaxNameLength} allowed";
            return false;
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                reason = $"channel name '{name}' has '{c}': only A-Z a-z 0-9 . _ - are allowed";
                return false;
            }
        }

        if (name.Contains("..", StringComparison.Ordinal) || name == ".")
        {
            reason = $"channel name '{name}' may not be '.' or contain '..'";
            return false;
        }

        reason = "";
        return true;
    }

    /// <summary>
    /// Creates the channel file as the sidecar. A stale file left by a dead sidecar is replaced;
    /// a file owned by a live one fails with <see cref="ChannelInUseException"/>.
    /// </summary>
    public static ShmChannel Create(string name, ChannelOptions? options = null)
    {
        options ??= new ChannelOptions();
        ValidateName(name);
        options.Validate();

        string path = GetPath(name);
        string temp = System.IO.Path.Combine(Directory, "." + FilePrefix + name + "." + Environment.ProcessId + ".tmp");
        int cap0 = options.SidecarToHostCapacity;
        int cap1 = options.HostToSidecarCapacity;
        long size = FileSize(cap0, cap1);

        MemoryMappedFile? file = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            File.Delete(temp);
            var stream = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.ReadWrite,
                Share = FileShare.ReadWrite | FileShare.Delete,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            stream.SetLength(size);
            file = MemoryMappedFile.CreateFromFile(stream, null, size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            view = file.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
            InitializeHeader(view, cap0, cap1);
            Publish(temp, path);
            var channel = new ShmChannel(name, path, ChannelSide.Sidecar, file, view, cap0, cap1);
            return channel;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            view?.Dispose();
            file?.Dispose();
            throw new ChannelException($"{path}: cannot create channel: {e.Message}", path, e);
        }
        catch
        {
            view?.Dispose();
            file?.Dispose();
            throw;
        }
        finally
        {
            LibC.Unlink(temp);
        }
    }

    /// <summary>
    /// Opens an existing channel as its host. Fails if the file is missing or not a channel of
    /// this layout version, or if another live host has it open.
    /// </summary>
    public static ShmChannel Open(string name)
    {
        ValidateName(name);
        string path = GetPath(name);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            throw new ChannelNotFoundException(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ChannelException($"{path}: cannot open channel: {e.Message}", path, e);
        }

        MemoryMappedFile? file = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            // The sidecar's file is this user's: one made by another user may be a forgery.
            if (LibC.TryGetOwner(stream.SafeFileHandle, out uint owner) && owner != FileOwner.CurrentUserId)
            {
                throw new ChannelOwnedByAnotherUserException(path, owner);
            }

            (long size, int cap0, int cap1) = ValidateHeader(path, stream);
            file = MemoryMappedFile.CreateFromFile(stream, null, size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            view = file.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
            var channel = new ShmChannel(name, path, ChannelSide.Host, file, view, cap0, cap1);
            try
            {
                channel.AttachHost();
            }
            catch
            {
                channel.Unmap();
                throw;
            }

            return channel;
        }
        catch
        {
            view?.Dispose();
            file?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    /// <summary>True while neither side has closed and the peer process is alive.</summary>
    public bool IsPeerAlive()
    {
        if (_disposed != 0)
        {
            return false;
        }

        int pid = Volatile.Read(ref *_peerPid);
        if (pid == 0)
        {
            // No host attached yet: nothing has died.
            return true;
        }

        if (_peerMonitor.IsDead(pid))
        {
            return false;
        }

        ulong start = Volatile.Read(ref *_peerStartTime);
        if (ProcessIdentity.IsAlive(pid, start))
        {
            return true;
        }

        // A host re-attaching writes its pid, then its start time: a mismatch may be that
        // moment. Believe it only if the pair read again says the same.
        return Volatile.Read(ref *_peerPid) != pid && ProcessIdentity.IsAlive(Volatile.Read(ref *_peerPid), Volatile.Read(ref *_peerStartTime));
    }

    /// <summary>
    /// Marks this side closed and wakes every waiter on both rings, here and in the peer. The peer
    /// still reads what was written before, then sees <see cref="ChannelStatus.Closed"/>.
    /// </summary>
    public void Close()
    {
        if (_closed || _disposed != 0)
        {
            return;
        }

        _closed = true;
        // Full fence before the wakes: a waiter that announced its sleep either sees the state or gets woken.
        Interlocked.Exchange(ref *_ownState, StateClosed);
        Writer.Wake();
        Reader.Wake();
        WakePeer();
    }

    /// <summary>
    /// Closes, waits (up to 2 s) for blocked waits to return, unmaps, and (on the sidecar side)
    /// deletes the file. A wait that has not returned by then keeps the mapping in place (as
    /// <see cref="Abandon"/> does): the mapping is never pulled from under a thread that may read it.
    /// </summary>
    public void Dispose() => Close(unmap: true);

    /// <summary>
    /// As <see cref="Dispose"/>, but leaves the file mapped until the process exits: for an owner
    /// whose reading or writing threads did not stop in time, and so may still touch the mapping.
    /// The channel is closed (the peer is told) and, on the sidecar side, the file deleted.
    /// </summary>
    public void Abandon() => Close(unmap: false);

    /// <summary>
    /// Why a ring of this channel was found corrupt — which ring, the field, its value and what
    /// was allowed — or null while it is sound. Set once, by the first violation, which also
    /// closes the channel.
    /// </summary>
    public string? Corruption => Volatile.Read(ref _corruption);

    /// <summary>Records the first violation and closes the channel: nothing more is read from a corrupt ring.</summary>
    internal void MarkCorrupt(string detail)
    {
        if (Interlocked.CompareExchange(ref _corruption, detail, null) is null)
        {
            Close();
        }
    }

    private void Close(bool unmap)
    {
        Close();
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _peerMonitor.Stop();
        Writer.StopWorker();
        Reader.StopWorker();
        SpinWait spin = default;
        long deadline = Environment.TickCount64 + 2000;
        while (Volatile.Read(ref _activeWaits) != 0 && Environment.TickCount64 < deadline)
        {
            Writer.Wake();
            Reader.Wake();
            spin.SpinOnce();
        }

        // A wait still inside reads the file: leave the mapping to the process's exit.
        if (unmap && Volatile.Read(ref _activeWaits) == 0)
        {
            Unmap();
        }

        if (Side == ChannelSide.Sidecar)
        {
            LibC.Unlink(FilePath);
        }
    }

    /// <summary>Fast check for the writer: this side open (process-local flag) and the peer not closed.</summary>
    internal bool IsOpenFast => !_closed && Volatile.Read(ref *_peerState) != StateClosed;

    /// <summary>Ok while both sides are open; Closed otherwise.</summary>
    internal ChannelStatus CheckOpen() =>
        _closed || _disposed != 0 || Volatile.Read(ref *_peerState) == StateClosed ? ChannelStatus.Closed : ChannelStatus.Ok;

    internal bool IsDisposed => _disposed != 0;

    /// <summary>Makes sure the peer process is watched (a pidfd poll); called before a wait sleeps.</summary>
    internal void WatchPeer()
    {
        if (_disposed == 0)
        {
            _peerMonitor.Watch(Volatile.Read(ref *_peerPid));
        }
    }

    /// <summary>True once the watcher saw the current peer process die: no /proc read needed.</summary>
    internal bool IsPeerKnownDead => _disposed == 0 && _peerMonitor.IsDead(Volatile.Read(ref *_peerPid));

    /// <summary>Wakes this process's waiters on both rings (the peer died).</summary>
    internal void WakeOwnWaiters()
    {
        if (_disposed == 0)
        {
            Writer.Wake();
            Reader.Wake();
        }
    }

    internal bool EnterWait()
    {
        Interlocked.Increment(ref _activeWaits);
        if (_disposed != 0)
        {
            Interlocked.Decrement(ref _activeWaits);
            return false;
        }

        return true;
    }

    internal void ExitWait() => Interlocked.Decrement(ref _activeWaits);

    private void WakePeer()
    {
        // The peer's waiters sleep on the other two futex words of the same rings.
        foreach (byte* ring in new[] { (nint)_ring0, (nint)_ring1 })
        {
            int* data = (int*)(ring + DataFutexOffset);
            int* space = (int*)(ring + SpaceFutexOffset);
            Interlocked.Exchange(ref *data, 0);
            Futex.WakeAll(data);
            Interlocked.Exchange(ref *space, 0);
            Futex.WakeAll(space);
        }
    }

    private void AttachHost()
    {
        int me = ProcessIdentity.CurrentPid;
        int* pid = (int*)(_base + HostPidOffset);
        int current = Volatile.Read(ref *pid);
        if (current != 0 && current != me)
        {
            // One host per channel: the sidecar ends with its host, and stops reading once the
            // host's end is closed, so a second host would talk to no one.
            bool closed = Volatile.Read(ref *(int*)(_base + HostStateOffset)) == StateClosed;
            if (closed)
            {
                throw new ChannelInUseException(FilePath, current, "closed");
            }

            if (ProcessIdentity.IsAlive(current, Volatile.Read(ref *(ulong*)(_base + HostStartTimeOffset))))
            {
                throw new ChannelInUseException(FilePath, "host", current);
            }

            throw new ChannelInUseException(FilePath, current, "host-gone");
        }

        if (current == me && Volatile.Read(ref *(int*)(_base + HostStateOffset)) == StateClosed)
        {
            throw new ChannelInUseException(FilePath, current, "closed");
        }

        if (Interlocked.CompareExchange(ref *pid, me, current) != current)
        {
            // Another host attached between our load and the swap.
            throw new ChannelInUseException(FilePath, "host", Volatile.Read(ref *pid));
        }

        Volatile.Write(ref *(ulong*)(_base + HostStartTimeOffset), ProcessIdentity.CurrentStartTime);
        // Full fence: the sidecar's waiters re-check host state after being woken below.
        Interlocked.Exchange(ref *(int*)(_base + HostStateOffset), StateOpen);
    }

    private void Unmap()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }

    private static void ValidateName(string name)
    {
        if (!IsValidName(name, out string reason))
        {
            throw new ArgumentException(reason, nameof(name));
        }
    }

    private static void InitializeHeader(MemoryMappedViewAccessor view, int cap0, int cap1)
    {
        // The file is not visible under its name yet, so plain writes suffice; the link() that
        // publishes it is a system call, which orders them.
        view.Write(MagicOffset, Magic);
        view.Write(VersionOffset, ChannelLayout.Version);
        view.Write(HeaderSizeOffset, (uint)HeaderSize);
        view.Write(FileSizeOffset, (ulong)FileSize(cap0, cap1));
        view.Write(Capacity0Offset, (uint)cap0);
        view.Write(Capacity1Offset, (uint)cap1);
        view.Write(Ring0OffsetOffset, (ulong)Ring0Offset);
        view.Write(Ring1OffsetOffset, (ulong)Ring1Offset(cap0));
        view.Write(SidecarPidOffset, ProcessIdentity.CurrentPid);
        view.Write(SidecarStartTimeOffset, ProcessIdentity.CurrentStartTime);
        view.Write(SidecarStateOffset, StateOpen);
        view.Flush();
    }

    /// <summary>Makes the finished temp file visible under its name with link(2), which never replaces.</summary>
    private static void Publish(string temp, string path)
    {
        for (int attempt = 0; attempt < 5; attempt++)
        {
            if (LibC.Link(temp, path) == 0)
            {
                return;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EEXIST)
            {
                throw new ChannelException($"{path}: cannot create channel: {Marshal.GetPInvokeErrorMessage(errno)}", path);
            }

            // Another user's file is never read, trusted or removed: it may be there to squat the name.
            if (FileOwner.Of(path) is uint owner && owner != FileOwner.CurrentUserId)
            {
                throw new ChannelOwnedByAnotherUserException(path, owner);
            }

            ChannelInfo existing;
            try
            {
                existing = ChannelInfo.Read(path);
            }
            catch (FileNotFoundException)
            {
                continue;
            }
            catch (ChannelFormatException e)
            {
                throw new ChannelException($"{path}: exists and is not a channel this kaze can replace ({e.Field} is {e.Actual}, expected {e.Expected}); remove it if it is stale", path, e);
            }

            if (existing.SidecarAlive)
            {
                throw new ChannelInUseException(path, "sidecar", existing.SidecarPid);
            }

            // Stale: its sidecar is dead. Replace it; link() again settles a race with another creator.
            LibC.Unlink(path);
        }

        throw new ChannelException($"{path}: cannot create channel: another process keeps creating it", path);
    }

    /// <summary>Checks the header read through the stream; returns the file size to map and the two capacities.</summary>
    internal static (long Size, int Capacity0, int Capacity1) ValidateHeader(string path, FileStream stream)
    {
        long length = stream.Length;
        Span<byte> header = stackalloc byte[64];
        if (length < header.Length)
        {
            throw new ChannelFormatException(path, "file size", $"at least {HeaderSize + 2 * (RingControlSize + MinCapacity)} bytes", $"{length} bytes");
        }

        stream.Position = 0;
        stream.ReadExactly(header);
        return ValidateHeader(path, header, length);
    }

    internal static (long Size, int Capacity0, int Capacity1) ValidateHeader(string path, ReadOnlySpan<byte> header, long length)
    {
        ulong magic = BinaryPrimitives.ReadUInt64LittleEndian(header[MagicOffset..]);
        if (magic != Magic)
        {
            throw new ChannelFormatException(path, "magic (offset 0)", $"0x{Magic:X16} (\"KAZECHAN\")", $"0x{magic:X16}");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[VersionOffset..]);
        if (version != ChannelLayout.Version)
        {
            throw new ChannelFormatException(path, "layout version (offset 8)", ChannelLayout.Version.ToString(), version.ToString());
        }

        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(header[HeaderSizeOffset..]);
        if (headerSize != HeaderSize)
        {
            throw new ChannelFormatException(path, "header size (offset 12)", HeaderSize.ToString(), headerSize.ToString());
        }

        uint cap0 = BinaryPrimitives.ReadUInt32LittleEndian(header[Capacity0Offset..]);
        uint cap1 = BinaryPrimitives.ReadUInt32LittleEndian(header[Capacity1Offset..]);
        foreach ((uint cap, string field) in new[] { (cap0, "ring 0 capacity (offset 24)"), (cap1, "ring 1 capacity (offset 28)") })
        {
            if (!IsValidCapacity(cap))
            {
                throw new ChannelFormatException(path, field, $"a power of two from {MinCapacity} to {MaxCapacity}", cap.ToString());
            }
        }

        ulong fileSize = BinaryPrimitives.ReadUInt64LittleEndian(header[FileSizeOffset..]);
        long expectedSize = FileSize((int)cap0, (int)cap1);
        if (fileSize != (ulong)expectedSize)
        {
            throw new ChannelFormatException(path, "file size field (offset 16)", $"{expectedSize} (from the capacities)", fileSize.ToString());
        }

        if (length != expectedSize)
        {
            throw new ChannelFormatException(path, "file size", $"{expectedSize} bytes (as its header says)", $"{length} bytes");
        }

        ulong r0 = BinaryPrimitives.ReadUInt64LittleEndian(header[Ring0OffsetOffset..]);
        ulong r1 = BinaryPrimitives.ReadUInt64LittleEndian(header[Ring1OffsetOffset..]);
        if (r0 != (ulong)Ring0Offset)
        {
            throw new ChannelFormatException(path, "ring 0 offset (offset 32)", Ring0Offset.ToString(), r0.ToString());
        }

        if (r1 != (ulong)Ring1Offset((int)cap0))
        {
            throw new ChannelFormatException(path, "ring 1 offset (offset 40)", Ring1Offset((int)cap0).ToString(), r1.ToString());
        }

        return (expectedSize, (int)cap0, (int)cap1);
    }
}
