#!/usr/bin/env python3
"""A hostile host for kaze's tests: it attaches to the channel of $KAZE_CHANNEL exactly as
docs/shm-format.md says, then breaks it in one of these ways (argv[1]):

  padding      a padding word (0xFFFFFFFF) at offset 0 and at the read position of ring 1,
               published with tail = head + 8; then sits there
  phantom      tail = head + 3 * capacity on ring 1; then sits there
  bad-records N  N well-framed records that are not packets (a header length past the record),
               written as the format says (waiting for space), then closes its end and exits 0
  never-reads N  N requests to itself (0.0.0.0, timeout 100 ms) that come back on ring 0, which
               it never reads; then sits idle for 4 s, closes and exits 0

It prints "ready PID" once attached and "done" when the hostile part is over. Plain stores and
loads (x86-64: stores are release stores, loads acquire loads); the futex wake after a publish
is a system call, which orders it (the format's "always wake" fallback).
"""
import ctypes
import mmap
import os
import struct
import sys
import time

HEADER = 4096
RING_CONTROL = 512
TAIL, HEAD, DATA_FUTEX, SPACE_FUTEX = 0, 128, 256, 384
HOST_PID, HOST_STATE, HOST_START = 256, 260, 264
SYS_FUTEX = 202 if os.uname().machine == "x86_64" else 98
FUTEX_WAKE = 1

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


class Ring:
    def __init__(self, mm, base_addr, offset, cap):
        self.mm, self.off, self.cap = mm, offset, cap
        self.addr = base_addr + offset
        self.data = offset + RING_CONTROL

    def load(self, field):
        return struct.unpack_from("<q", self.mm, self.off + field)[0]

    def store(self, field, value):
        struct.pack_into("<q", self.mm, self.off + field, value)

    def wake(self, futex):
        struct.pack_into("<i", self.mm, self.off + futex, 0)
        libc.syscall(SYS_FUTEX, ctypes.c_void_p(self.addr + futex), FUTEX_WAKE, 0x7FFFFFFF, None, None, 0)

    def publish(self, tail):
        self.store(TAIL, tail)
        self.wake(DATA_FUTEX)


def record_size(length):
    return (4 + length + 7) & ~7


def write_records(ring, payloads):
    """Writes each payload as a record, following the wrap rule, waiting (polling) for space."""
    tail = ring.load(TAIL)
    for payload in payloads:
        size = record_size(len(payload))
        while True:
            offset = tail & (ring.cap - 1)
            to_end = ring.cap - offset
            needed = size if to_end >= size else to_end + size
            if ring.cap - (tail - ring.load(HEAD)) >= needed:
                break
            ring.publish(tail)
            time.sleep(0.0005)
        if to_end < size:
            struct.pack_into("<I", ring.mm, ring.data + offset, 0xFFFFFFFF)
            tail += to_end
            offset = 0
        ring.mm[ring.data + offset + 4:ring.data + offset + 4 + len(payload)] = payload
        struct.pack_into("<I", ring.mm, ring.data + offset, len(payload))
        tail += size
        if (tail & 0xFFF) < size:
            ring.publish(tail)
    ring.publish(tail)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def request(seq):
    # Hdr: body_type "x" (1), timeout 100 ms (5), req = seq (6), dst_ident = 0 (10): to this host itself.
    hdr = b"\x0a\x01x" + b"\x28" + varint(100) + b"\x30" + varint(seq) + b"\x50\x00"
    return struct.pack("<I", len(hdr)) + hdr + b"body"


def sit():
    # Until kaze kills it.
    while True:
        time.sleep(60)


def main():
    mode = sys.argv[1]
    path = "/dev/shm/kaze-" + os.environ["KAZE_CHANNEL"]
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    base_addr = ctypes.addressof(ctypes.c_char.from_buffer(mm))
    cap0, cap1 = struct.unpack_from("<II", mm, 24)
    ring0 = Ring(mm, base_addr, HEADER, cap0)
    ring1 = Ring(mm, base_addr, HEADER + RING_CONTROL + cap0, cap1)

    # Attach: pid, start time, state 1.
    struct.pack_into("<i", mm, HOST_PID, os.getpid())
    struct.pack_into("<Q", mm, HOST_START, start_time(os.getpid()))
    struct.pack_into("<i", mm, HOST_STATE, 1)
    print("ready %d" % os.getpid(), flush=True)

    if mode == "padding":
        head = ring1.load(HEAD)
        struct.pack_into("<I", mm, ring1.data, 0xFFFFFFFF)
        struct.pack_into("<I", mm, ring1.data + (head & (cap1 - 1)), 0xFFFFFFFF)
        ring1.publish(head + 8)
        print("done", flush=True)
        sit()
    elif mode == "phantom":
        head = ring1.load(HEAD)
        ring1.publish(head + 3 * cap1)
        print("done", flush=True)
        sit()
    elif mode == "bad-records":
        count = int(sys.argv[2])
        # A header length of 0x7FFFFFF0 in a 12-byte record: framed as the ring says, not a packet.
        bad = struct.pack("<I", 0x7FFFFFF0) + b"garbage!"
        write_records(ring1, (bad for _ in range(count)))
        print("done", flush=True)
    elif mode == "never-reads":
        count = int(sys.argv[2])
        write_records(ring1, (request(i + 1) for i in range(count)))
        print("done", flush=True)
        time.sleep(4)
    else:
        sys.exit("unknown mode " + mode)

    # Close: state 2, wake every futex word.
    struct.pack_into("<i", mm, HOST_STATE, 2)
    for ring in (ring0, ring1):
        ring.wake(DATA_FUTEX)
        ring.wake(SPACE_FUTEX)
    return 0


if __name__ == "__main__":
    sys.exit(main())
