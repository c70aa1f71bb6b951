"""The channel file: where it is, checking its header, attaching as the host, liveness, closing
(docs/shm-format.md, "Lifecycle" and "Liveness"; docs/host-protocol.md section 1).

Error messages are Kaze.Host's (src/Kaze.Host, src/Kaze.Core) word for word where the condition
is the same, so a user sees the same sentence from a .NET and a Python host.
"""

import logging
import mmap
import os
import re
import struct
import time

from . import _native
from .errors import (ChannelError, ChannelFormatError, ChannelInUseError, ChannelNotFoundError,
                     ChannelVersionError, KazeEnvironmentError, SidecarGoneError)
from .header import format_ident, parse_ident
from .ring import MAX_CAPACITY, MIN_CAPACITY, RingReader, RingWriter

__all__ = ["Endpoint", "Channel", "channel_path", "validate_name", "process_alive", "start_time"]

_log = logging.getLogger("kaze")

DIRECTORY = "/dev/shm"
PREFIX = "kaze-"
MAX_NAME_LENGTH = 200

MAGIC = 0x4E414843455A414B  # "KAZECHAN"
LAYOUT_VERSION = 1
HEADER_SIZE = 4096
RING_CONTROL = 512
SIDECAR_PID, SIDECAR_STATE, SIDECAR_START = 128, 132, 136
HOST_PID, HOST_STATE, HOST_START = 256, 260, 264
STATE_NONE, STATE_OPEN, STATE_CLOSED = 0, 1, 2

_HINT = "start this program under `kaze run -- <command>`"
_NAME_CHARS = re.compile(r"[A-Za-z0-9._-]")


def channel_path(name):
    return os.path.join(DIRECTORY, PREFIX + name)


def validate_name(name):
    """Returns None for a good channel name, else the reason (Kaze's wording)."""
    if not name:
        return "channel name is empty"
    if len(name) > MAX_NAME_LENGTH:
        return "channel name is %d characters long, at most %d allowed" % (len(name), MAX_NAME_LENGTH)
    for c in name:
        if not (c.isascii() and _NAME_CHARS.match(c)):
            return "channel name '%s' has '%s': only A-Z a-z 0-9 . _ - are allowed" % (name, c)
    if ".." in name or name == ".":
        return "channel name '%s' may not be '.' or contain '..'" % name
    return None


class Endpoint:
    """KAZE_CHANNEL, KAZE_IDENT and KAZE_SIDECAR_PID, as `kaze run` sets them."""

    __slots__ = ("channel", "ident", "sidecar_pid")

    def __init__(self, channel, ident, sidecar_pid):
        self.channel = channel
        self.ident = ident
        self.sidecar_pid = sidecar_pid

    @classmethod
    def from_environment(cls, environ=None):
        """Reads the three variables; raises KazeEnvironmentError naming every bad one."""
        env = os.environ if environ is None else environ
        problems = []
        variables = []
        channel = env.get("KAZE_CHANNEL")
        if not channel:
            variables.append("KAZE_CHANNEL")
            problems.append("KAZE_CHANNEL is not set")
        else:
            reason = validate_name(channel)
            if reason:
                variables.append("KAZE_CHANNEL")
                problems.append("KAZE_CHANNEL is invalid: " + reason)
        ident_text = env.get("KAZE_IDENT")
        ident = 0
        if not ident_text:
            variables.append("KAZE_IDENT")
            problems.append("KAZE_IDENT is not set")
        else:
            try:
                ident = parse_ident(ident_text)
            except ValueError as e:
                variables.append("KAZE_IDENT")
                problems.append("KAZE_IDENT is invalid: %s" % e)
        pid_text = env.get("KAZE_SIDECAR_PID")
        pid = 0
        if not pid_text:
            variables.append("KAZE_SIDECAR_PID")
            problems.append("KAZE_SIDECAR_PID is not set")
        else:
            if pid_text.isascii() and pid_text.isdigit() and len(pid_text) <= 10:
                pid = int(pid_text)
            if not 0 < pid <= 0x7FFFFFFF:
                echoed = pid_text if len(pid_text) <= 32 else pid_text[:32] + "..."
                variables.append("KAZE_SIDECAR_PID")
                problems.append("KAZE_SIDECAR_PID is invalid: '%s' is not a process id" % echoed)
        if problems:
            raise KazeEnvironmentError(variables, "; ".join(problems) + ": " + _HINT)
        return cls(channel, ident, pid)

    def __repr__(self):
        return "Endpoint(channel=%r, ident=%s, sidecar_pid=%d)" % (self.channel, format_ident(self.ident), self.sidecar_pid)


def start_time(pid):
    """(state, start time) of a process from /proc/<pid>/stat (fields 3 and 22), or None if it does not exist."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            text = f.read()
    except OSError:
        return None
    close = text.rfind(b")")
    if close < 0:
        return None
    fields = text[close + 2:].split(b" ")
    if len(fields) < 20 or not fields[0] or not fields[19].isdigit():
        return None
    return chr(fields[0][0]), int(fields[19])


def process_alive(pid, recorded_start):
    """True while the process exists, is not a zombie, and (if recorded_start is not 0) started then."""
    if pid <= 0:
        return False
    st = start_time(pid)
    if st is None:
        if os.path.isdir("/proc/self"):
            return False
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    state, start = st
    if state in ("Z", "X", "x"):
        return False
    return recorded_start == 0 or start == recorded_start


_SELF_START = None


def self_start_time():
    global _SELF_START
    if _SELF_START is None:
        st = start_time(os.getpid())
        _SELF_START = st[1] if st else 0
    return _SELF_START


def _file_size(cap0, cap1):
    return HEADER_SIZE + 2 * RING_CONTROL + cap0 + cap1


def _valid_capacity(cap):
    return MIN_CAPACITY <= cap <= MAX_CAPACITY and cap & (cap - 1) == 0


def validate_header(path, header, length):
    """Checks the first 64 bytes of a channel file and its size; returns the size to map."""
    if length < 64 or len(header) < 64:
        raise ChannelFormatError(path, "file size", "at least %d bytes" % (HEADER_SIZE + 2 * (RING_CONTROL + MIN_CAPACITY)), "%d bytes" % length)
    magic, version, header_size, file_size, cap0, cap1, r0, r1 = struct.unpack_from("<QIIQIIQQ", header, 0)
    if magic != MAGIC:
        raise ChannelFormatError(path, "magic (offset 0)", '0x%016X ("KAZECHAN")' % MAGIC, "0x%016X" % magic)
    if version != LAYOUT_VERSION:
        raise ChannelVersionError(path, "layout version (offset 8)", str(LAYOUT_VERSION), str(version))
    if header_size != HEADER_SIZE:
        raise ChannelFormatError(path, "header size (offset 12)", str(HEADER_SIZE), str(header_size))
    for cap, field in ((cap0, "ring 0 capacity (offset 24)"), (cap1, "ring 1 capacity (offset 28)")):
        if not _valid_capacity(cap):
            raise ChannelFormatError(path, field, "a power of two from %d to %d" % (MIN_CAPACITY, MAX_CAPACITY), str(cap))
    expected = _file_size(cap0, cap1)
    if file_size != expected:
        raise ChannelFormatError(path, "file size field (offset 16)", "%d (from the capacities)" % expected, str(file_size))
    if length != expected:
        raise ChannelFormatError(path, "file size", "%d bytes (as its header says)" % expected, "%d bytes" % length)
    if r0 != HEADER_SIZE:
        raise ChannelFormatError(path, "ring 0 offset (offset 32)", str(HEADER_SIZE), str(r0))
    if r1 != HEADER_SIZE + RING_CONTROL + cap0:
        raise ChannelFormatError(path, "ring 1 offset (offset 40)", str(HEADER_SIZE + RING_CONTROL + cap0), str(r1))
    return expected, cap0, cap1


class Channel:
    """The host's end of a channel, opened by name: reads ring 0 (sidecar -> host), writes ring 1."""

    def __init__(self, name, path, mm, cap0, cap1):
        self.name = name
        self.path = path
        self._mm = mm
        self.mv = memoryview(mm)
        self.u32 = self.mv.cast("I")
        self.u64 = self.mv.cast("Q")
        self.base, self._holder = _native.address_of(mm)
        self.reader = RingReader(self.mv, self.u32, self.u64, self.base, HEADER_SIZE, cap0)
        self.writer = RingWriter(self.mv, self.u32, self.u64, self.base, HEADER_SIZE + RING_CONTROL + cap0, cap1)
        self.sidecar_pid = self.u32[SIDECAR_PID >> 2]
        self.sidecar_start = self.u64[SIDECAR_START >> 3]
        self.closed = False
        self.unmapped = False

    @classmethod
    def open(cls, name, expected_sidecar_pid=0):
        """Opens, validates and attaches to channel `name` (shm-format.md "Open (host)")."""
        reason = validate_name(name)
        if reason:
            raise ValueError(reason)
        path = channel_path(name)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ChannelNotFoundError(path) from None
        except OSError as e:
            raise ChannelError("%s: cannot open channel: %s" % (path, e.strerror), path) from None
        try:
            st = os.fstat(fd)
            if st.st_uid != os.geteuid():
                # /dev/shm is shared: another user's file may be a forgery (shm-format.md, "Ownership").
                raise ChannelError("%s: belongs to %s, not to this user (%s); kaze never uses or removes another user's file: "
                                   "choose another channel name" % (path, _describe_user(st.st_uid), _describe_user(os.geteuid())), path)
            length = st.st_size
            header = os.pread(fd, 64, 0)
            size, cap0, cap1 = validate_header(path, header, length)
            try:
                mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            except OSError as e:
                raise ChannelError("%s: cannot open channel: %s" % (path, e.strerror), path) from None
        finally:
            os.close(fd)
        channel = cls(name, path, mm, cap0, cap1)
        try:
            channel._check_sidecar(expected_sidecar_pid)
            channel._attach()
        except BaseException:
            channel.unmap()
            raise
        return channel

    def _load32(self, offset):
        return _native.load32(self.base + offset)

    def _check_sidecar(self, expected_pid):
        """The sidecar must be open and alive; KAZE_SIDECAR_PID should be the header's (a warning if not)."""
        pid = self.sidecar_pid
        state = self._load32(SIDECAR_STATE)
        if state == STATE_CLOSED:
            raise SidecarGoneError("%s: the sidecar (pid %d) has closed this channel" % (self.path, pid), self.path)
        if state != STATE_OPEN:
            raise ChannelFormatError(self.path, "sidecar state (offset 132)", "1 (open)", str(state))
        if not process_alive(pid, self.sidecar_start):
            raise SidecarGoneError("%s: the sidecar (pid %d) is not running: the channel is stale; start the program under `kaze run`" % (self.path, pid), self.path)
        if expected_pid and expected_pid != pid:
            _log.warning("KAZE_SIDECAR_PID is %d but channel %s belongs to pid %d; using the channel anyway", expected_pid, self.name, pid)

    def _attach(self):
        me = os.getpid()
        pid_addr = self.base + HOST_PID
        # One host per channel (shm-format.md, "Open (host)" 4): any host before us, alive, closed
        # or dead, means the channel is taken.
        current = self._load32(HOST_PID)
        closed = self._load32(HOST_STATE) == STATE_CLOSED
        if current != 0 and current != me:
            if closed:
                raise ChannelInUseError(self.path, "host", current, "closed")
            if process_alive(current, self.u64[HOST_START >> 3]):
                raise ChannelInUseError(self.path, "host", current)
            raise ChannelInUseError(self.path, "host", current, "host-gone")
        if current == me and closed:
            raise ChannelInUseError(self.path, "host", current, "closed")
        if _native.cas32(pid_addr, current, me) != current:
            raise ChannelInUseError(self.path, "host", self._load32(HOST_PID))
        if _native.FALLBACK:
            # No compare-and-swap: the store above was plain. A host attaching at the same moment
            # would have overwritten it; read it back after a moment to find out.
            time.sleep(0.002)
            other = self._load32(HOST_PID)
            if other != me:
                raise ChannelInUseError(self.path, "host", other)
        self.u64[HOST_START >> 3] = self_start_time()
        # Full fence: the sidecar's waiters re-check the host state after being woken.
        _native.xchg32(self.base + HOST_STATE, STATE_OPEN)

    def sidecar_closed(self):
        return self._load32(SIDECAR_STATE) == STATE_CLOSED

    def sidecar_alive(self):
        return process_alive(self.sidecar_pid, self.sidecar_start)

    def close(self):
        """Host state 2 with a full fence, then every futex word set to 0 and woken."""
        if self.closed or self.unmapped:
            return
        self.closed = True
        _native.xchg32(self.base + HOST_STATE, STATE_CLOSED)
        for ring in (self.reader, self.writer):
            for addr in (ring.data_futex_addr, ring.space_futex_addr):
                _native.xchg32(addr, 0)
                _native.futex_wake(addr)

    def wake_own(self):
        """Wakes this process's waiters (a thread sleeping on the data or space futex)."""
        if not self.unmapped:
            for addr in (self.reader.data_futex_addr, self.writer.space_futex_addr):
                _native.xchg32(addr, 0)
                _native.futex_wake(addr)

    def unmap(self):
        """Unmaps the file. Never deletes it: it is the sidecar's."""
        if self.unmapped:
            return
        self.unmapped = True
        self.reader = self.writer = None
        try:
            del self._holder
            self.u32.release()
            self.u64.release()
            self.mv.release()
            self._mm.close()
        except BufferError:
            # A view into the mapping is still held somewhere: leave the mapping to the process's exit.
            pass


def _describe_user(uid):
    """"user NAME (uid N)", as Kaze.Core words it; "uid N" when the name is unknown."""
    try:
        import pwd
        return "user %s (uid %d)" % (pwd.getpwuid(uid).pw_name, uid)
    except (ImportError, KeyError):
        return "uid %d" % uid
