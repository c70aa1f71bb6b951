"""Atomics and futexes for a language without them (docs/shm-format.md, "Languages without atomics").

Python has no atomic compare-and-swap, no release store and no memory fence. The channel needs
three of them: publishing a position (a release store followed by a full fence), storing 1 into a
futex word before sleeping (a store followed by a full fence), and compare-and-swapping the host
pid. This module gets them from a few instructions of machine code per architecture, written
into a page that is then mapped executable and called through ctypes.

How the page is made (the first that works is used):
1. a memfd holding the code, mapped PROT_READ|PROT_EXEC: what a dynamic loader does with a shared
   library, so the kernel keeps the instruction cache coherent on arm64 as it does for ld.so;
2. an anonymous page written, then mprotect()ed to PROT_READ|PROT_EXEC.
If neither works (a W^X policy, vm.memfd_noexec=2), or KAZE_PY_ATOMICS=fallback is set, the
module runs in *fallback* mode on x86-64 (see `FALLBACK` below); on arm64 it refuses to run
without the code, because plain stores there do not order the record bytes before the position.

The functions (System V / AAPCS64 calling conventions):
  xchg64(p, v) -> old    atomic exchange, release + full fence       (publish a tail or head)
  xchg32(p, v) -> old    the same on a 32-bit word                   (futex words, state words)
  cas32(p, e, d) -> old  compare-and-swap with a full fence          (attach: the host pid)
  load64(p) -> v         acquire load                                (the peer's position)
  load32(p) -> v         acquire load                                (state words)
  spin64(p, v, n) -> cur spin while *p == v, at most n rounds of pause/isb, acquire-loading *p
spin64 is called with the GIL released (ctypes.CFUNCTYPE), so other Python threads run while the
reader polls; the others keep the GIL (ctypes.PYFUNCTYPE), which is cheaper for a few instructions.

Futexes go through libc's syscall(2): FUTEX_WAIT and FUTEX_WAKE without FUTEX_PRIVATE_FLAG
(shared: the other side is another process), and futex_waitv(2) (Linux 5.16+) to wait on two
words at once.
"""

import ctypes
import ctypes.util
import errno
import mmap
import os
import platform
import struct
import sys

__all__ = [
    "ARCH", "FALLBACK", "xchg64", "xchg32", "cas32", "load64", "load32", "spin64",
    "futex_wait", "futex_wake", "futex_waitv", "HAVE_FUTEX_WAITV", "address_of",
]

_MACHINE = platform.machine().lower()
if _MACHINE in ("x86_64", "amd64"):
    ARCH = "x86_64"
elif _MACHINE in ("aarch64", "arm64"):
    ARCH = "arm64"
else:
    ARCH = _MACHINE

# Syscall numbers: x86-64 has its own table; arm64 uses the generic one.
_SYS_FUTEX = {"x86_64": 202, "arm64": 98}.get(ARCH, -1)
_SYS_FUTEX_WAITV = 449  # the same on both (added in 5.16 to every table)
_FUTEX_WAIT = 0
_FUTEX_WAKE = 1
_FUTEX2_SIZE_U32 = 0x02
_CLOCK_MONOTONIC = 1
_INT_MAX = 0x7FFFFFFF

# --- machine code -------------------------------------------------------------------------------
# x86-64: every locked instruction (xchg with memory is implicitly locked) is a full fence, and
# plain loads are acquire loads (TSO), so load64/load32 are plain movs.
_X86_64 = {
    # mov rax, rsi; xchg [rdi], rax; ret
    "xchg64": bytes.fromhex("4889f0" "488707" "c3"),
    # mov eax, esi; xchg [rdi], eax; ret
    "xchg32": bytes.fromhex("89f0" "8707" "c3"),
    # mov eax, esi; lock cmpxchg [rdi], edx; ret   (eax = the old value either way)
    "cas32": bytes.fromhex("89f0" "f00fb117" "c3"),
    # mov rax, [rdi]; ret
    "load64": bytes.fromhex("488b07" "c3"),
    # mov eax, [rdi]; ret
    "load32": bytes.fromhex("8b07" "c3"),
    # loop: mov rax,[rdi]; cmp rax,rsi; jne done; pause; dec rdx; jnz loop; done: ret
    "spin64": bytes.fromhex("488b07" "4839f0" "7507" "f390" "48ffca" "75f1" "c3"),
}


def _a64(*words):
    return b"".join(struct.pack("<I", w) for w in words)


# arm64 (ARMv8.0: no LSE atomics needed). ldaxr/stlxr loops are the exchange and the CAS; the
# dmb ish after them makes them full fences for the plain loads Python does next (stlxr alone
# is only a release). Encodings are from the Arm ARM (DDI 0487), section C6; the table in
# hosts/python/README.md ("arm64") lists them one by one.
_ARM64 = {
    # 0: ldaxr x2,[x0]; stlxr w3,x1,[x0]; cbnz w3,0; dmb ish; mov x0,x2; ret
    "xchg64": _a64(0xC85FFC02, 0xC803FC01, 0x35FFFFC3, 0xD5033BBF, 0xAA0203E0, 0xD65F03C0),
    # 0: ldaxr w2,[x0]; stlxr w3,w1,[x0]; cbnz w3,0; dmb ish; mov w0,w2; ret
    "xchg32": _a64(0x885FFC02, 0x8803FC01, 0x35FFFFC3, 0xD5033BBF, 0x2A0203E0, 0xD65F03C0),
    # 0: ldaxr w3,[x0]; cmp w3,w1; b.ne 20; stlxr w4,w2,[x0]; cbnz w4,0; 20: dmb ish; mov w0,w3; ret
    "cas32": _a64(0x885FFC03, 0x6B01007F, 0x54000061, 0x8804FC02, 0x35FFFF84, 0xD5033BBF, 0x2A0303E0, 0xD65F03C0),
    # ldar x0,[x0]; ret
    "load64": _a64(0xC8DFFC00, 0xD65F03C0),
    # ldar w0,[x0]; ret
    "load32": _a64(0x88DFFC00, 0xD65F03C0),
    # 0: ldar x3,[x0]; cmp x3,x1; b.ne 24; isb; subs x2,x2,#1; b.ne 0; 24: mov x0,x3; ret
    "spin64": _a64(0xC8DFFC03, 0xEB01007F, 0x54000081, 0xD5033FDF, 0xF1000442, 0x54FFFF61, 0xAA0303E0, 0xD65F03C0),
}

_PROTOS = {
    "xchg64": (ctypes.PYFUNCTYPE, ctypes.c_uint64, (ctypes.c_void_p, ctypes.c_uint64)),
    "xchg32": (ctypes.PYFUNCTYPE, ctypes.c_uint32, (ctypes.c_void_p, ctypes.c_uint32)),
    "cas32": (ctypes.PYFUNCTYPE, ctypes.c_uint32, (ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32)),
    "load64": (ctypes.PYFUNCTYPE, ctypes.c_uint64, (ctypes.c_void_p,)),
    "load32": (ctypes.PYFUNCTYPE, ctypes.c_uint32, (ctypes.c_void_p,)),
    "spin64": (ctypes.CFUNCTYPE, ctypes.c_uint64, (ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64)),
}

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_libc.mprotect.restype = ctypes.c_int
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_MAP_FAILED = ctypes.c_void_p(-1).value

# How the code page was made, for diagnostics: "memfd", "mprotect", or why there is none.
CODE_PAGE = None


def _map_code(code):
    """Maps `code` executable and returns its address, or raises OSError."""
    global CODE_PAGE
    size = mmap.PAGESIZE
    prot_rx = mmap.PROT_READ | mmap.PROT_EXEC
    errors = []
    if hasattr(os, "memfd_create"):
        fd = -1
        try:
            fd = os.memfd_create("kaze-atomics", getattr(os, "MFD_CLOEXEC", 1))
            os.write(fd, code.ljust(size, b"\0"))
            addr = _libc.mmap(None, size, prot_rx, mmap.MAP_PRIVATE, fd, 0)
            if addr not in (None, _MAP_FAILED):
                CODE_PAGE = "memfd"
                return addr
            errors.append("memfd mmap: " + os.strerror(ctypes.get_errno()))
        except OSError as e:
            errors.append("memfd: " + str(e))
        finally:
            if fd >= 0:
                os.close(fd)
    addr = _libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if addr in (None, _MAP_FAILED):
        raise OSError(ctypes.get_errno(), "mmap: " + os.strerror(ctypes.get_errno()))
    ctypes.memmove(addr, code, len(code))
    if _libc.mprotect(addr, size, prot_rx) != 0:
        errors.append("mprotect: " + os.strerror(ctypes.get_errno()))
        raise OSError(errno.EACCES, "; ".join(errors))
    CODE_PAGE = "mprotect"
    return addr


def _load_functions():
    table = {"x86_64": _X86_64, "arm64": _ARM64}.get(ARCH)
    if table is None:
        raise OSError(errno.ENOSYS, "no machine code for " + ARCH)
    code = b""
    offsets = {}
    for name, body in table.items():
        offsets[name] = len(code)
        code += body
        code += b"\0" * (-len(code) % 16)
    base = _map_code(code)
    functions = {}
    for name, (kind, restype, argtypes) in _PROTOS.items():
        functions[name] = kind(restype, *argtypes)(base + offsets[name])
    return functions


if sys.byteorder != "little":
    raise ImportError("kaze: the channel is little-endian; this Python runs big-endian")
if _SYS_FUTEX < 0:
    raise ImportError("kaze: Linux on x86-64 or arm64 is required, this is %s on %s" % (sys.platform, _MACHINE))

FALLBACK = os.environ.get("KAZE_PY_ATOMICS", "") == "fallback"
_functions = None
if not FALLBACK:
    try:
        _functions = _load_functions()
    except OSError as e:
        CODE_PAGE = "none (%s)" % e
        if ARCH != "x86_64":
            raise ImportError("kaze: cannot map the atomics' machine code (%s); on %s there is no safe fallback" % (e, ARCH))
        FALLBACK = True
else:
    CODE_PAGE = "none (KAZE_PY_ATOMICS=fallback)"
    if ARCH != "x86_64":
        raise ImportError("kaze: KAZE_PY_ATOMICS=fallback is only safe on x86-64 (plain stores there keep their order)")


def address_of(buffer):
    """The address of a writable buffer's first byte (a mmap); keep the returned holder alive."""
    holder = ctypes.c_char.from_buffer(buffer)
    return ctypes.addressof(holder), holder


def futex_wait(addr, expected, timeout_s):
    """FUTEX_WAIT (shared): sleeps while *addr == expected, at most timeout_s. Releases the GIL."""
    ts = _timespec(timeout_s)
    _syscall(ctypes.c_long(_SYS_FUTEX), ctypes.c_void_p(addr), ctypes.c_long(_FUTEX_WAIT),
             ctypes.c_long(expected), ctypes.byref(ts), ctypes.c_void_p(0), ctypes.c_long(0))


def futex_wake(addr, count=_INT_MAX):
    """FUTEX_WAKE (shared): wakes up to `count` waiters (all by default). Returns how many."""
    return _syscall(ctypes.c_long(_SYS_FUTEX), ctypes.c_void_p(addr), ctypes.c_long(_FUTEX_WAKE),
                    ctypes.c_long(count), ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_long(0))


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _FutexWaitv(ctypes.Structure):
    _fields_ = [("val", ctypes.c_uint64), ("uaddr", ctypes.c_uint64), ("flags", ctypes.c_uint32), ("reserved", ctypes.c_uint32)]


def _timespec(seconds):
    if seconds < 0:
        seconds = 0
    sec = int(seconds)
    return _Timespec(sec, int((seconds - sec) * 1e9))


HAVE_FUTEX_WAITV = True


def futex_waitv(words, timeout_s):
    """futex_waitv(2): sleeps while every (addr, expected) pair holds, at most timeout_s.

    Returns False if the kernel has no futex_waitv (before 5.16): the caller must wait another way.
    """
    global HAVE_FUTEX_WAITV
    if not HAVE_FUTEX_WAITV:
        return False
    arr = (_FutexWaitv * len(words))()
    for i, (addr, expected) in enumerate(words):
        arr[i].val = expected
        arr[i].uaddr = addr
        arr[i].flags = _FUTEX2_SIZE_U32  # shared: no FUTEX2_PRIVATE
    # The timeout of futex_waitv is absolute, on the clock given.
    ts = _timespec(time_monotonic() + timeout_s)
    r = _syscall(ctypes.c_long(_SYS_FUTEX_WAITV), arr, ctypes.c_long(len(words)), ctypes.c_long(0),
                 ctypes.byref(ts), ctypes.c_long(_CLOCK_MONOTONIC))
    if r < 0 and ctypes.get_errno() == errno.ENOSYS:
        HAVE_FUTEX_WAITV = False
        return False
    return True


def time_monotonic():
    # time.monotonic() is CLOCK_MONOTONIC on Linux, the clock futex_waitv is given.
    import time
    return time.monotonic()


if _functions is not None:
    xchg64 = _functions["xchg64"]
    xchg32 = _functions["xchg32"]
    cas32 = _functions["cas32"]
    load64 = _functions["load64"]
    load32 = _functions["load32"]
    spin64 = _functions["spin64"]
else:
    # Fallback (x86-64 only): plain stores and loads through ctypes, each a single aligned mov.
    # On x86-64 they are release stores and acquire loads already (TSO); what is missing is the
    # full fence after a store (StoreLoad) and an atomic compare-and-swap. The ring code makes up
    # for the fence by always waking (docs/shm-format.md, "Languages without atomics"): the
    # FUTEX_WAKE system call is made after every publish and release, whatever the futex word
    # says, and a sleeping side wakes at least every 10 ms to look again. The host pid is written
    # with a plain store and read back (see channel.py).
    def xchg64(addr, value):
        p = ctypes.c_uint64.from_address(addr)
        old = p.value
        p.value = value
        return old

    def xchg32(addr, value):
        p = ctypes.c_uint32.from_address(addr)
        old = p.value
        p.value = value
        return old

    def cas32(addr, expected, desired):
        p = ctypes.c_uint32.from_address(addr)
        old = p.value
        if old == expected:
            p.value = desired
        return old

    def load64(addr):
        return ctypes.c_uint64.from_address(addr).value

    def load32(addr):
        return ctypes.c_uint32.from_address(addr).value

    def spin64(addr, value, rounds):
        p = ctypes.c_uint64.from_address(addr)
        for _ in range(min(rounds, 64)):
            v = p.value
            if v != value:
                return v
        return p.value
