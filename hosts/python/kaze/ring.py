"""The two byte rings of a channel (docs/shm-format.md, "Records" and "Producing and consuming").

All of the ring format is in this module, so a change to it (fragmented packets, issue #16)
touches one file. A ring at offset R of the file:

   R + 0    u64 tail         producer: bytes ever written (only grows)
   R + 128  u64 head         consumer: bytes ever consumed (only grows)
   R + 256  u32 data futex   1 = the consumer sleeps, or is about to
   R + 384  u32 space futex  1 = the producer sleeps, or is about to
   R + 512  cap bytes of records: [u32 length][payload][pad to 8]; length 0xFFFFFFFF = padding
            to the end of the data area

Memory ordering (docs/shm-format.md, "Languages without atomics"): positions are published with
`xchg64` (release + full fence) and read with `load64` (acquire); on x86-64 an aligned 8-byte load
through a memoryview is already an acquire load, so the hot path reads there without a call.
Records and length words are plain memoryview writes: the publish that follows orders them.
"""

from . import _native
from .errors import PacketTooLargeError

TAIL = 0
HEAD = 128
DATA_FUTEX = 256
SPACE_FUTEX = 384
CONTROL_SIZE = 512
PADDING = 0xFFFFFFFF
MIN_CAPACITY = 64
MAX_CAPACITY = 1 << 30

OK = "Ok"
EMPTY = "Empty"
CLOSED = "Closed"
PEER_GONE = "PeerGone"
CORRUPT = "Corrupt"

_xchg64 = _native.xchg64
_xchg32 = _native.xchg32
_load64 = _native.load64
_futex_wake = _native.futex_wake
_FALLBACK = _native.FALLBACK
# Plain 8-byte loads through a memoryview are acquire loads on x86-64 (TSO) and CPython reads a
# native 'Q' item with one aligned load; elsewhere every acquire load is an ldar through ctypes.
_PLAIN_ACQUIRE = _native.ARCH == "x86_64"


def max_record_length(capacity):
    """The largest payload of one record: capacity / 2 - 4."""
    return capacity // 2 - 4


def record_size(length):
    """Bytes a record with a payload of `length` bytes takes: 4 + length, rounded up to 8."""
    return (length + 11) & ~7


def wake(u32, index, addr):
    """After a publish or release: wakes every waiter on the futex word at `addr` (u32[index]) if
    the word says someone sleeps, resetting it to 0 first.

    The plain load is safe: the xchg64 before it was a full fence (on arm64 its dmb ish).
    """
    if _FALLBACK:
        # No full fence after our publish: wake whatever the word says (the system call is the fence).
        u32[index] = 0
        _futex_wake(addr)
    elif u32[index] != 0 and _xchg32(addr, 0) != 0:
        _futex_wake(addr)


class _Ring:
    __slots__ = ("capacity", "mask", "data", "base", "u32", "u64", "mv", "tail_addr", "head_addr",
                 "data_futex_addr", "space_futex_addr", "_tail_index", "_head_index", "max_record",
                 "data_futex_index", "space_futex_index")

    def __init__(self, mv, u32, u64, base_addr, offset, capacity):
        self.capacity = capacity
        self.mask = capacity - 1
        self.mv = mv
        self.u32 = u32
        self.u64 = u64
        self.base = offset
        self.data = offset + CONTROL_SIZE
        self.tail_addr = base_addr + offset + TAIL
        self.head_addr = base_addr + offset + HEAD
        self.data_futex_addr = base_addr + offset + DATA_FUTEX
        self.space_futex_addr = base_addr + offset + SPACE_FUTEX
        self.data_futex_index = (offset + DATA_FUTEX) >> 2
        self.space_futex_index = (offset + SPACE_FUTEX) >> 2
        self._tail_index = (offset + TAIL) >> 3
        self._head_index = (offset + HEAD) >> 3
        self.max_record = max_record_length(capacity)

    def load_tail(self):
        return self.u64[self._tail_index] if _PLAIN_ACQUIRE else _load64(self.tail_addr)

    def load_head(self):
        return self.u64[self._head_index] if _PLAIN_ACQUIRE else _load64(self.head_addr)


class RingWriter(_Ring):
    """The producing end: `try_write` copies a packet in, `publish` makes what was written visible.

    One producer: the caller serialises every call (the client holds a lock).
    """

    __slots__ = ("write_pos", "published_pos", "head_cache")

    def __init__(self, mv, u32, u64, base_addr, offset, capacity):
        super().__init__(mv, u32, u64, base_addr, offset, capacity)
        # Start where the file says: a host that replaces a dead one continues its stream.
        self.write_pos = self.load_tail()
        self.published_pos = self.write_pos
        self.head_cache = self.load_head()

    def fits_now(self, length):
        """Whether a record with a payload of `length` bytes fits now (acquire-reads the head)."""
        rec = (length + 11) & ~7
        pos = self.write_pos
        to_end = self.capacity - (pos & self.mask)
        need = rec if to_end >= rec else to_end + rec
        self.head_cache = self.load_head()
        return self.capacity - (pos - self.head_cache) >= need

    def try_write(self, hdr, body):
        """Writes the packet [u32 len(hdr)][hdr][body] as one record if it fits now; False if full.

        Raises PacketTooLargeError for a packet larger than a record can be. Not published yet.
        """
        lh = len(hdr)
        n = 4 + lh + len(body)
        if n > self.max_record:
            raise PacketTooLargeError("a packet of %d bytes (header and body) is more than the channel carries (%d bytes)" % (n, self.max_record))
        rec = (n + 11) & ~7
        pos = self.write_pos
        cap = self.capacity
        off = pos & self.mask
        to_end = cap - off
        need = rec if to_end >= rec else to_end + rec
        if cap - (pos - self.head_cache) < need:
            self.head_cache = self.load_head()
            if cap - (pos - self.head_cache) < need:
                return False
        u32 = self.u32
        if to_end < rec:
            # The wrap rule: a padding record fills the rest; the skipped bytes count as used.
            u32[(self.data + off) >> 2] = PADDING
            pos += to_end
            off = 0
        b = self.data + off
        i = b >> 2
        u32[i] = n
        u32[i + 1] = lh
        s = b + 8
        mv = self.mv
        mv[s:s + lh] = hdr
        if body:
            s += lh
            mv[s:s + len(body)] = body
        self.write_pos = pos + rec
        return True

    def publish(self):
        """Stores the tail (release + full fence) and wakes the consumer if it sleeps."""
        pos = self.write_pos
        if pos == self.published_pos:
            return
        self.published_pos = pos
        _xchg64(self.tail_addr, pos)
        wake(self.u32, self.data_futex_index, self.data_futex_addr)

    @property
    def pending(self):
        return self.write_pos != self.published_pos


class RingReader(_Ring):
    """The consuming end: `try_read` returns a memoryview of the next payload, `release` frees what was read.

    One consumer: only the client's reader thread calls it.
    """

    __slots__ = ("read_pos", "released_pos", "tail_cache")

    def __init__(self, mv, u32, u64, base_addr, offset, capacity):
        super().__init__(mv, u32, u64, base_addr, offset, capacity)
        self.read_pos = self.load_head()
        self.released_pos = self.read_pos
        self.tail_cache = self.read_pos

    def try_read(self):
        """The next payload as a memoryview into the mapping (valid until `release`), None if the
        ring is empty, or CORRUPT if it holds garbage."""
        cap = self.capacity
        while True:
            pos = self.read_pos
            if pos == self.tail_cache:
                tail = self.load_tail()
                if tail == pos:
                    return None
                if tail < pos or tail - pos > cap:
                    return CORRUPT
                self.tail_cache = tail
            off = pos & self.mask
            b = self.data + off
            length = self.u32[b >> 2]
            if length == PADDING:
                self.read_pos = pos + (cap - off)
                continue
            nxt = pos + ((length + 11) & ~7)
            if length > self.max_record or nxt > self.tail_cache:
                return CORRUPT
            self.read_pos = nxt
            return self.mv[b + 4:b + 4 + length]

    def has_record(self):
        pos = self.read_pos
        if pos != self.tail_cache:
            return True
        tail = self.load_tail()
        self.tail_cache = tail if tail >= pos else self.tail_cache
        return tail != pos

    def release(self):
        """Stores the head (release + full fence) and wakes the producer if it waits for space."""
        pos = self.read_pos
        if pos == self.released_pos:
            return
        self.released_pos = pos
        _xchg64(self.head_addr, pos)
        wake(self.u32, self.space_futex_index, self.space_futex_addr)
