"""The host's connection to its sidecar: send, call, serve, exit (docs/host-protocol.md).

Threads:
- one reader thread reads ring 0 (sidecar -> host), completes calls, runs synchronous handlers
  inline and writes their responses, drains packets that waited for ring space, times calls out,
  and sleeps on the ring's futex words when there is nothing to do;
- any thread may send and call; writes go straight into ring 1 under one lock, or into a bounded
  outbox when the ring is full (the reader never waits for ring space: docs/host-protocol.md 4);
- a small watcher thread holds a pidfd of the sidecar and wakes the reader the moment it dies.
"""

import asyncio
import inspect
import itertools
import logging
import math
import os
import select
import signal
import struct
import threading
import time
from collections import deque

from . import _native
from . import ring as _ring
from .channel import Channel, Endpoint
from .errors import ChannelClosedError, PacketTooLargeError, call_error
from .header import (DecodeError, RetCode, decode, encode_notify, encode_request, encode_response,
                     format_ident, parse_ident)

__all__ = ["Client", "Request", "Reply", "Response", "connect", "Route"]

_log = logging.getLogger("kaze")
_U32 = struct.Struct("<I")
_monotonic = time.monotonic

EXIT_BODY_TYPE = "kaze.exit"
LOG_BODY_TYPE = "log"

# Send outcomes.
_WRITTEN, _QUEUED, _CLOSED, _FULL = 0, 1, 2, 3

# The host's own timer fires this long after a call's timeout, so that the sidecar's TIMEOUT
# (it times the request too) normally arrives first (docs/host-protocol.md 3).
TIMEOUT_SLACK = 0.010
# A waiting reader checks the sidecar's pid at least this often (docs/shm-format.md "Liveness");
# with a pidfd watching the sidecar, its death wakes the reader at once and the check is a backstop.
LIVENESS_INTERVAL = 0.1
LIVENESS_INTERVAL_WITH_PIDFD = 1.0
# Rounds of pause (x86-64) / isb (arm64) per native spin call, between two yields of the core:
# a few microseconds.
_SPIN_ROUNDS = 128


class Route:
    """Routes other than one node (docs/host-protocol.md 2, "Routes"). A plain int or dotted
    string is one node (dstIdent); 0 / "0.0.0.0" is this host itself."""

    @staticmethod
    def node(ident):
        return ("ident", _ident(ident))

    @staticmethod
    def random(ident, mask):
        """One node, picked by the sidecar, among those with (node & mask) == ident."""
        return ("random", _ident(ident), _ident(mask))

    @staticmethod
    def broadcast(ident, mask):
        """Every node with (node & mask) == ident, except this one."""
        return ("broadcast", _ident(ident), _ident(mask))

    @staticmethod
    def multicast(*idents):
        """Each node of the list once."""
        return ("multicast", [_ident(i) for i in idents])


def _ident(value):
    if isinstance(value, str):
        return parse_ident(value)
    if isinstance(value, int) and 0 <= value <= 0xFFFFFFFF:
        return value
    raise ValueError("an ident is a uint32 or a dotted quad, not %r" % (value,))


def _route(dst):
    if isinstance(dst, tuple):
        return dst
    return _ident(dst)


class Response:
    """The outcome of a call: `code` (RetCode), `body` (bytes), `body_type`, `src_ident`,
    `headers` (dict or None); `local` is True when this host made it up (its own timer, or the
    channel ended) rather than the sidecar or the callee."""

    __slots__ = ("code", "body", "body_type", "src_ident", "headers", "local")

    def __init__(self, code, body=b"", body_type="", src_ident=0, headers=None, local=False):
        self.code = code
        self.body = body
        self.body_type = body_type
        self.src_ident = src_ident
        self.headers = headers
        self.local = local

    @property
    def ok(self):
        return self.code == RetCode.OK

    def __repr__(self):
        return "Response(%s, %d bytes%s)" % (RetCode.name(self.code), len(self.body), ", local" if self.local else "")


class Request:
    """What a handler gets: `body_type`, `body` (bytes), `src_ident`, `headers` (dict or None),
    `seq` (None for a notify), `timeout_ms`, `expects_response`, and `header` (the decoded header)."""

    __slots__ = ("body_type", "body", "src_ident", "headers", "seq", "timeout_ms", "header")

    def __init__(self, header, body):
        self.header = header
        self.body_type = header.body_type
        self.body = body
        self.src_ident = header.src_ident
        self.headers = header.headers
        self.seq = header.req
        self.timeout_ms = header.timeout

    @property
    def expects_response(self):
        return self.header.expects_response


class Reply:
    """A handler's answer when it is more than a body: a code, a body type, headers."""

    __slots__ = ("body", "code", "body_type", "headers")

    def __init__(self, body=b"", code=RetCode.OK, body_type=None, headers=None):
        self.body = body
        self.code = code
        self.body_type = body_type
        self.headers = headers


def _spin_budget():
    """Seconds the reader polls for the next record while records keep coming (KAZE_SPIN_MAX_US)."""
    text = os.environ.get("KAZE_SPIN_MAX_US")
    if text is not None:
        try:
            us = int(text)
            if 0 <= us <= 10000:
                return us / 1e6
        except ValueError:
            pass
        _log.warning("KAZE_SPIN_MAX_US is '%s': expected a whole number 0-10000; using the default", text[:32])
    try:
        cpus = len(os.sched_getaffinity(0))
    except OSError:
        cpus = os.cpu_count() or 1
    # With one CPU to run on, polling only keeps the sidecar from running.
    return 0.0 if cpus <= 1 else 300e-6


def connect(**options):
    """Connects to the sidecar named by KAZE_CHANNEL, KAZE_IDENT and KAZE_SIDECAR_PID (`kaze run`).

    Raises KazeEnvironmentError, ChannelNotFoundError, ChannelFormatError (ChannelVersionError),
    ChannelInUseError, SidecarGoneError or ChannelError. See Client for the options.
    """
    return Client.connect(**options)


class Client:
    """A host's connection to its sidecar. Thread-safe: any thread may send and call.

    Options: `max_queued` (packets waiting for ring space before senders wait; default 4096),
    `release_batch` (records read before one release; default 64), `default_timeout` (seconds,
    5), `spin_us` (microseconds the reader polls before sleeping while traffic flows; default from
    KAZE_SPIN_MAX_US, else 300, 0 on one CPU).
    """

    def __init__(self, channel, ident, max_queued=4096, release_batch=64, default_timeout=5.0, spin_us=None):
        if max_queued < 1 or release_batch < 1 or not 0.001 <= default_timeout <= 0xFFFFFFFF / 1000:
            raise ValueError("max_queued and release_batch must be at least 1, default_timeout from 0.001 to 4294967.295 s")
        self._channel = channel
        self.ident = ident
        self.channel_name = channel.name
        self.max_packet_size = channel.writer.max_record
        self._reader = channel.reader
        self._writer = channel.writer
        self._max_queued = max_queued
        self._release_batch = release_batch
        self.default_timeout = default_timeout
        self._spin_s = _spin_budget() if spin_us is None else spin_us / 1e6

        self._tx_lock = threading.Lock()
        self._space = threading.Condition(self._tx_lock)
        self._space_waiters = 0
        self._outbox = deque()
        self._tx_closed = False

        # seq -> (deadline, callback) of every call in flight.
        self._pending = {}
        # timeout in ms -> deque of (deadline, seq) in the order the calls were made: for one
        # timeout, that is deadline order, so the reader looks only at the heads. Answered calls'
        # entries are dropped when they reach the head.
        self._timers = {}
        self._timeout_ms_cache = (None, 0)
        self._seq = itertools.count(1)
        self._handlers = {}
        self._loop = None
        self._inflight = 0
        self._idle = threading.Condition(threading.Lock())

        self.exit_requested = threading.Event()
        self._exit_callbacks = []
        self._ended = threading.Event()
        self._ended_callbacks = []
        self.status = None  # the reader's last status once the channel has ended
        self._closing = False
        self._sidecar_dead = False
        self._thread = None
        self._reader_tid = None
        self._watcher = None
        self._watch_pipe = None
        self._closed = False
        self._unmap_on_reader = False
        self._last_activity = 0.0
        self._last_live_check = _monotonic()
        self._liveness_interval = LIVENESS_INTERVAL
        self._malformed = 0
        self.logs_dropped = 0
        _log.info("Connected to channel %s as %s", channel.name, format_ident(ident))

    # --- connecting ---------------------------------------------------------------------------

    @classmethod
    def connect(cls, endpoint=None, **options):
        endpoint = endpoint or Endpoint.from_environment()
        channel = Channel.open(endpoint.channel, endpoint.sidecar_pid)
        try:
            return cls(channel, endpoint.ident, **options)
        except BaseException:
            channel.close()
            channel.unmap()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- handlers -----------------------------------------------------------------------------

    def handle(self, body_type, handler=None):
        """Registers the handler of `body_type` (also usable as a decorator).

        A handler gets a Request and returns the response's body (bytes, bytearray, memoryview,
        str, or None for empty) or a Reply. It may be an `async def`: it then runs on the event
        loop of `run_async()`. A synchronous handler runs on the reader thread: keep it short.
        If it raises, the request is answered HANDLER_FAILED; a request for a body type without
        a handler is answered NO_HANDLER. Notifies reach the handler too; their reply is dropped.
        """
        if body_type == EXIT_BODY_TYPE:
            raise ValueError("kaze.exit is handled by the client itself: use on_exit()")

        def register(fn):
            if body_type in self._handlers:
                raise ValueError("the body type %r already has a handler" % body_type)
            handlers = dict(self._handlers)
            handlers[body_type] = fn
            self._handlers = handlers
            return fn

        return register if handler is None else register(handler)

    def remove_handler(self, body_type):
        handlers = dict(self._handlers)
        found = handlers.pop(body_type, None) is not None
        self._handlers = handlers
        return found

    def on_exit(self, callback):
        """Calls callback() (on a thread of its own) when the sidecar sends kaze.exit."""
        self._exit_callbacks.append(callback)
        if self.exit_requested.is_set():
            threading.Thread(target=callback, daemon=True).start()
        return callback

    # --- starting and stopping ----------------------------------------------------------------

    def start(self):
        """Starts the reader thread: from now on requests reach their handlers and calls get answers."""
        if self._closed:
            raise ChannelClosedError("the client is closed")
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._read_loop, name="kaze-read " + self.channel_name, daemon=True)
        self._thread.start()
        self._start_watcher()

    @property
    def ended(self):
        """True once the channel has ended (closed, or the sidecar gone) and every call failed."""
        return self._ended.is_set()

    def wait_ended(self, timeout=None):
        return self._ended.wait(timeout)

    @property
    def pending_calls(self):
        return len(self._pending)

    @property
    def queued_packets(self):
        return len(self._outbox)

    def run(self, handle_signals=True, grace=4.0):
        """Serves until the sidecar's kaze.exit, SIGTERM or SIGINT (with handle_signals, from the
        main thread), or the end of the channel; then stops gracefully (`stop(grace)`).

        Returns the exit code for the program: 0 after an exit request or a signal, 1 if the
        sidecar was lost.
        """
        stop = threading.Event()
        restore = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            def on_signal(signum, frame):
                _log.info("%s received: stopping", signal.Signals(signum).name)
                self._signalled = True
                stop.set()
            for sig in (signal.SIGTERM, signal.SIGINT):
                restore[sig] = signal.signal(sig, on_signal)
        self._signalled = False
        self.on_exit(stop.set)
        self._ended_callbacks.append(stop.set)
        if self._ended.is_set():
            stop.set()
        self.start()
        try:
            # Signals interrupt the wait (their handlers run on this thread); the timeout only
            # bounds how long a missed wake could leave us here.
            while not stop.is_set() and not self._ended.is_set():
                stop.wait(5.0)
            return self._finish(grace)
        finally:
            for sig, old in restore.items():
                signal.signal(sig, old)

    async def run_async(self, handle_signals=True, grace=4.0):
        """`run()` for asyncio: async handlers run on this loop. Returns the exit code."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        stop = asyncio.Event()
        self._signalled = False
        installed = []
        if handle_signals:
            def on_signal(sig):
                _log.info("%s received: stopping", sig.name)
                self._signalled = True
                stop.set()
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(sig, on_signal, sig)
                    installed.append(sig)
                except (RuntimeError, ValueError, NotImplementedError):
                    pass

        def wake():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass
        self.on_exit(wake)
        self.start()
        ended = threading.Thread(target=lambda: (self._ended.wait(), wake()), daemon=True)
        ended.start()
        try:
            await stop.wait()
            await self._wait_handlers_async(grace)
            return await loop.run_in_executor(None, self._finish, grace)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    def _finish(self, grace):
        lost = self._ended.is_set() and self.status not in (None, _ring.CLOSED) and not self._closing
        self.stop(grace)
        if lost and not (self.exit_requested.is_set() or self._signalled):
            return 1
        return 0

    def stop(self, grace=4.0):
        """Stops gracefully: waits (up to `grace` seconds) for running async handlers and for
        packets queued for ring space, then closes. Requests that arrive meanwhile are still answered."""
        deadline = _monotonic() + grace
        with self._idle:
            while self._inflight and not self._ended.is_set():
                left = deadline - _monotonic()
                if left <= 0:
                    break
                self._idle.wait(min(left, 0.05))
        while self._outbox and not self._ended.is_set() and _monotonic() < deadline:
            with self._tx_lock:
                self._kick()
            time.sleep(0.001)
        self.close()

    async def _wait_handlers_async(self, grace):
        deadline = _monotonic() + grace
        while self._inflight and not self._ended.is_set() and _monotonic() < deadline:
            await asyncio.sleep(0.005)

    def close(self):
        """Closes the channel (host state 2, every futex word woken), fails pending calls
        UNREACHABLE, stops the threads and unmaps. Never deletes the file: it is the sidecar's."""
        if self._closed:
            return
        self._closed = True
        self._closing = True
        with self._tx_lock:
            self._tx_closed = True
            self._space.notify_all()
        self._channel.close()
        self._stop_watcher()
        thread = self._thread
        if thread is None:
            self._on_ended(_ring.CLOSED)
            self._channel.unmap()
        elif threading.get_ident() != self._reader_tid:
            thread.join(5.0)
            if not thread.is_alive():
                self._channel.unmap()
        else:
            # Closed from a handler on the reader thread: the reader unmaps when it unwinds.
            self._unmap_on_reader = True

    # --- sending ------------------------------------------------------------------------------

    def send(self, dst, body_type, body=b"", headers=None, timeout=None):
        """Sends a notify (no response). Returns True once it is in the ring or queued for it,
        False if the channel has ended. Waits only while the send queue is full (up to `timeout`
        seconds, None = as long as it takes; raises TimeoutError after that)."""
        hdr = encode_notify(body_type, _route(dst), headers)
        status = self._send(hdr, body, False)
        if status == _FULL:
            status = self._send_waiting(hdr, body, None if timeout is None else _monotonic() + timeout)
            if status == _FULL:
                raise TimeoutError("the send queue stayed full for %s s" % timeout)
        return status != _CLOSED

    def try_send_log(self, body):
        """Sends a `log` notify to this host's own sidecar if that is possible at once; never waits.

        Dropped (returns False, counted in `logs_dropped`) when other packets already wait for
        ring space, the ring is full, the record is too large, or the channel has ended.
        """
        hdr = encode_notify(LOG_BODY_TYPE, self.ident)
        if 4 + len(hdr) + len(body) > self.max_packet_size:
            self.logs_dropped += 1
            return False
        with self._tx_lock:
            if self._tx_closed or self._outbox or not self._writer.try_write(hdr, body):
                self.logs_dropped += 1
                return False
            if threading.get_ident() != self._reader_tid:
                self._writer.publish()
        return True

    def _send(self, hdr, body, bypass):
        with self._tx_lock:
            if self._tx_closed:
                return _CLOSED
            if not self._outbox and self._writer.try_write(hdr, body):
                if threading.get_ident() != self._reader_tid:
                    self._writer.publish()
                return _WRITTEN
            if not bypass and len(self._outbox) >= self._max_queued:
                return _FULL
            self._outbox.append((hdr, bytes(body)))
            if threading.get_ident() != self._reader_tid:
                self._kick()
        return _QUEUED

    def _send_waiting(self, hdr, body, deadline):
        if threading.get_ident() == self._reader_tid:
            return self._send(hdr, body, True)
        while True:
            with self._tx_lock:
                while len(self._outbox) >= self._max_queued and not self._tx_closed:
                    left = None if deadline is None else deadline - _monotonic()
                    if left is not None and left <= 0:
                        return _FULL
                    self._space_waiters += 1
                    try:
                        self._space.wait(0.1 if left is None else min(left, 0.1))
                    finally:
                        self._space_waiters -= 1
            status = self._send(hdr, body, False)
            if status != _FULL:
                return status

    def _kick(self):
        """Wakes the reader (it may have to wait for ring space now). The word goes to 0 first, so
        a reader about to sleep on it returns at once instead of missing the wake.

        Called with the send lock held and the channel open: close() marks the channel closed
        under that lock before it unmaps, so this never touches an unmapped page.
        """
        if not self._tx_closed:
            addr = self._reader.data_futex_addr
            _native.xchg32(addr, 0)
            _native.futex_wake(addr)

    # --- calling ------------------------------------------------------------------------------

    def _timeout_ms(self, timeout):
        if timeout is None:
            timeout = self.default_timeout
        last, ms = self._timeout_ms_cache
        if timeout == last:
            return ms
        ms = math.ceil(timeout * 1000)
        if not 1 <= ms <= 0xFFFFFFFF:
            raise ValueError("a call's timeout must be from 1 ms to 4294967295 ms, not %r s" % timeout)
        self._timeout_ms_cache = (timeout, ms)
        return ms

    def call_async(self, dst, body_type, body, callback, timeout=None, headers=None):
        """Starts a call; `callback(response)` runs on the reader thread when it ends (keep it
        short and never block in it). Returns the call's sequence number."""
        ms = self._timeout_ms(timeout)
        seq = next(self._seq) & 0xFFFFFFFF
        if seq == 0:
            seq = next(self._seq) & 0xFFFFFFFF
        hdr = encode_request(body_type, seq, ms, dst if dst.__class__ is int and 0 <= dst <= 0xFFFFFFFF else _route(dst), headers)
        if 4 + len(hdr) + len(body) > self.max_packet_size:
            raise PacketTooLargeError("a '%s' packet of %d bytes (header and body) is more than the channel carries (%d bytes)" % (body_type, 4 + len(hdr) + len(body), self.max_packet_size))
        deadline = _monotonic() + ms / 1000 + TIMEOUT_SLACK
        on_reader = threading.get_ident() == self._reader_tid
        with self._tx_lock:
            if self._tx_closed:
                status = _CLOSED
            else:
                self._pending[seq] = (deadline, callback)
                timers = self._timers.get(ms)
                if timers is None:
                    timers = self._timers[ms] = deque()
                timers.append((deadline, seq))
                if not self._outbox and self._writer.try_write(hdr, body):
                    if not on_reader:
                        self._writer.publish()
                    status = _WRITTEN
                elif on_reader or len(self._outbox) < self._max_queued:
                    self._outbox.append((hdr, bytes(body)))
                    status = _QUEUED
                    if not on_reader:
                        self._kick()
                else:
                    status = _FULL
        if status == _FULL:
            status = self._send_waiting(hdr, body, deadline)
            if status == _FULL:
                self._complete(seq, Response(RetCode.TIMEOUT, local=True))
        if status == _CLOSED:
            self._complete(seq, Response(RetCode.UNREACHABLE, local=True))
        return seq

    def call(self, dst, body_type, body=b"", timeout=None, headers=None):
        """Calls `dst` and waits for the response, at most `timeout` seconds (default 5).

        Returns the Response when its code is OK; raises CallTimeout, Unreachable, NoHandler,
        HandlerFailed, ResourceExhausted or CallError otherwise. Not from a synchronous handler
        (it would block the reader that must read the response): use call_async or acall there.
        """
        if threading.get_ident() == self._reader_tid:
            raise RuntimeError("call() from the reader thread would wait for itself: use call_async() or acall()")
        if self._thread is None:
            raise RuntimeError("start() the client before calling: no reader would see the response")
        done = threading.Lock()
        done.acquire()
        box = []

        def complete(response):
            box.append(response)
            done.release()

        seq = self.call_async(dst, body_type, body, complete, timeout, headers)
        wait = (self.default_timeout if timeout is None else timeout) + TIMEOUT_SLACK + 1.0
        if not done.acquire(timeout=wait):
            # The reader should have timed it out; never hang past the timeout for its sake.
            self._complete(seq, Response(RetCode.TIMEOUT, local=True))
            done.acquire()
        response = box[0]
        if response.code != RetCode.OK:
            raise call_error(response)
        return response

    async def acall(self, dst, body_type, body=b"", timeout=None, headers=None):
        """`call()` for asyncio: awaits the response without blocking the event loop."""
        if self._thread is None:
            raise RuntimeError("start() the client before calling: no reader would see the response")
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def resolve(response):
            if not future.done():
                future.set_result(response)

        def complete(response):
            try:
                loop.call_soon_threadsafe(resolve, response)
            except RuntimeError:
                pass  # the loop is closed: nobody waits any more

        while True:
            with self._tx_lock:
                full = len(self._outbox) >= self._max_queued and not self._tx_closed
            if not full:
                break
            await asyncio.sleep(0.001)
        seq = self.call_async(dst, body_type, body, complete, timeout, headers)
        try:
            response = await future
        except asyncio.CancelledError:
            self._pending.pop(seq, None)
            raise
        if response.code != RetCode.OK:
            raise call_error(response)
        return response

    def _complete(self, seq, response):
        p = self._pending.pop(seq, None)
        if p is not None:
            try:
                p[1](response)
            except Exception:
                _log.exception("A call's callback failed")

    # --- the reader thread --------------------------------------------------------------------

    def _read_loop(self):
        self._reader_tid = threading.get_ident()
        reader = self._reader
        batch = self._release_batch
        status = None
        try:
            while True:
                n = 0
                while True:
                    rec = reader.try_read()
                    if rec is None:
                        break
                    if rec is _ring.CORRUPT:
                        status = _ring.CORRUPT
                        break
                    self._on_record(rec)
                    n += 1
                    if n % batch == 0:
                        reader.release()
                if status is not None:
                    break
                if n:
                    reader.release()
                    self._flush()
                    self._last_activity = _monotonic()
                    if self._timers:
                        self._expire(self._last_activity)
                    if self._closing:
                        # close() was called: stop reading even while records keep coming.
                        status = _ring.CLOSED
                        break
                    continue
                # Time calls out first: a timeout's callback may make a new call, which the
                # flush then publishes before the wait.
                next_deadline = self._expire(_monotonic()) if self._timers else None
                self._flush()
                status = self._wait(next_deadline)
                if status is not None:
                    break
        except Exception:
            _log.critical("The reader of channel %s failed; closing the channel", self.channel_name, exc_info=True)
            status = _ring.CORRUPT
        if status == _ring.CORRUPT:
            # Nothing more can be read: close our end, so the sidecar ends the channel too.
            self._channel.close()
        self._on_ended(status)
        if self._unmap_on_reader:
            # Closed from a handler on this thread: no view into the mapping is used any more.
            self._channel.unmap()

    def _flush(self):
        """Drains the outbox into the ring and publishes what the reader thread wrote."""
        with self._tx_lock:
            writer = self._writer
            outbox = self._outbox
            while outbox:
                hdr, body = outbox[0]
                if not writer.try_write(hdr, body):
                    break
                outbox.popleft()
            writer.publish()
            if self._space_waiters and len(outbox) < self._max_queued:
                self._space.notify_all()

    def _wait(self, next_deadline):
        """Nothing to read: polls briefly while traffic flows, then sleeps on the futex words
        (at most until `next_deadline`, a call's). Returns None to read again, or the status that
        ends the channel."""
        reader = self._reader
        writer = self._writer
        now = _monotonic()
        spin_until = self._last_activity + self._spin_s
        if now < spin_until and not self._outbox:
            # Poll in native code with the GIL released, and give the core away between polls:
            # on a small machine the sidecar's thread that would answer may be waiting for it.
            tail_addr = reader.tail_addr
            pos = reader.read_pos
            spin = _native.spin64
            yield_core = os.sched_yield
            while True:
                if spin(tail_addr, pos, _SPIN_ROUNDS) != pos or self._outbox or self._closing:
                    return None
                if _monotonic() >= spin_until:
                    break
                yield_core()
        # Sleep (docs/shm-format.md "Waiting"): announce it with a fenced store of 1, look again,
        # then FUTEX_WAIT; with packets waiting for space, wait for space on the same call.
        timeout = self._liveness_interval
        if next_deadline is not None:
            timeout = max(0.0, min(timeout, next_deadline - _monotonic()))
        if _native.FALLBACK:
            timeout = min(timeout, 0.01)  # a wake can be missed without a fence: look again soon
        data_addr = reader.data_futex_addr
        space_addr = writer.space_futex_addr
        need_space = bool(self._outbox)
        _native.xchg32(data_addr, 1)
        if need_space:
            _native.xchg32(space_addr, 1)
        ready = (reader.has_record() or self._closing or self._sidecar_dead or self._channel.sidecar_closed()
                 or (need_space and self._outbox and writer.fits_now(4 + len(self._outbox[0][0]) + len(self._outbox[0][1])))
                 or (need_space and not self._outbox) or (not need_space and self._outbox))
        if not ready and timeout > 0:
            if need_space:
                if not _native.futex_waitv([(data_addr, 1), (space_addr, 1)], timeout):
                    # No futex_waitv (Linux < 5.16): poll for space every millisecond instead.
                    _native.futex_wait(data_addr, 1, min(timeout, 0.001))
            else:
                _native.futex_wait(data_addr, 1, timeout)
        # Awake: stop asking the sidecar for wakes while we work.
        reader.u32[reader.data_futex_index] = 0
        if need_space:
            writer.u32[writer.space_futex_index] = 0
        if self._closing:
            return _ring.CLOSED if not reader.has_record() else None
        now = _monotonic()
        if self._sidecar_dead or now - self._last_live_check >= self._liveness_interval or self._channel.sidecar_closed():
            self._last_live_check = now
            if self._channel.sidecar_closed():
                return None if reader.has_record() else _ring.CLOSED
            if self._sidecar_dead or not self._channel.sidecar_alive():
                self._sidecar_dead = True
                return None if reader.has_record() else _ring.PEER_GONE
        return None

    def _expire(self, now):
        """Times out the calls that are due; drops answered calls' timer entries. Returns the
        next deadline, or None."""
        pending = self._pending
        due = None
        nearest = None
        for ms, timers in list(self._timers.items()):
            while timers:
                deadline, seq = timers[0]
                p = pending.get(seq)
                if p is None or p[0] != deadline:
                    timers.popleft()  # answered (or the seq was reused by a later call)
                elif deadline <= now:
                    timers.popleft()
                    if due is None:
                        due = []
                    due.append(seq)
                else:
                    if nearest is None or deadline < nearest:
                        nearest = deadline
                    break
            if not timers:
                with self._tx_lock:
                    if not timers:
                        del self._timers[ms]
        if due:
            for seq in due:
                self._complete(seq, Response(RetCode.TIMEOUT, local=True))
        return nearest

    def _on_record(self, view):
        payload = bytes(view)
        n = len(payload)
        if n < 4:
            self._bad_packet(n, "shorter than its 4-byte header length")
            return
        hl = _U32.unpack_from(payload, 0)[0]
        if hl > n - 4:
            self._bad_packet(n, "header length %d is beyond the packet" % hl)
            return
        try:
            h = decode(payload, 4, 4 + hl)
        except DecodeError as e:
            self._bad_packet(n, str(e))
            return
        body = payload[4 + hl:]
        if h.rsp is not None:
            p = self._pending.pop(h.rsp, None)
            if p is not None:
                try:
                    p[1](Response(h.ret_code, body, h.body_type, h.src_ident, h.headers))
                except Exception:
                    _log.exception("A call's callback failed")
            return
        if h.body_type == EXIT_BODY_TYPE and h.req is None:
            self._on_exit(h)
            return
        handler = self._handlers.get(h.body_type)
        if handler is None:
            if h.expects_response:
                _log.warning("No handler for request %s from %s; answered NO_HANDLER", h.body_type, format_ident(h.src_ident))
                self._respond(h, RetCode.NO_HANDLER, b"", None, None)
            # A notify without a handler is dropped; a `log` notify that came back is dropped silently.
            return
        request = Request(h, body)
        try:
            result = handler(request)
        except Exception:
            _log.exception("The handler for %s (from %s) failed; answered HANDLER_FAILED", h.body_type, format_ident(h.src_ident))
            self._respond(h, RetCode.HANDLER_FAILED, b"", None, None)
            return
        if inspect.isawaitable(result):
            self._run_async_handler(h, result)
        else:
            self._reply(h, result)

    def _reply(self, h, result):
        if not h.expects_response:
            return
        if result is None:
            self._respond(h, RetCode.OK, b"", None, None)
        elif isinstance(result, Reply):
            body = result.body.encode("utf-8") if isinstance(result.body, str) else (result.body or b"")
            self._respond(h, result.code, body, result.body_type, result.headers)
        elif isinstance(result, str):
            self._respond(h, RetCode.OK, result.encode("utf-8"), None, None)
        else:
            self._respond(h, RetCode.OK, result, None, None)

    def _respond(self, h, code, body, body_type, headers):
        if not h.expects_response:
            return
        hdr = encode_response(h.body_type if body_type is None else body_type, h.req, code, h.src_ident, headers)
        if 4 + len(hdr) + len(body) > self.max_packet_size:
            _log.error("The reply to %s takes %d bytes, more than the channel carries (%d); answered RESOURCE_EXHAUSTED",
                       h.body_type, 4 + len(hdr) + len(body), self.max_packet_size)
            hdr = encode_response(h.body_type, h.req, RetCode.RESOURCE_EXHAUSTED, h.src_ident)
            body = b""
        # Never waits and never refused for a full queue: this may be the reader thread.
        self._send(hdr, body, True)

    def _run_async_handler(self, h, awaitable):
        loop = self._loop
        if loop is None or loop.is_closed():
            _log.error("The handler for %s is async, but no event loop runs it (use run_async()); answered HANDLER_FAILED", h.body_type)
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            self._respond(h, RetCode.HANDLER_FAILED, b"", None, None)
            return
        with self._idle:
            self._inflight += 1

        async def run():
            return await awaitable

        def done(future):
            try:
                if future.cancelled():
                    self._respond(h, RetCode.HANDLER_FAILED, b"", None, None)
                elif future.exception() is not None:
                    _log.error("The handler for %s (from %s) failed; answered HANDLER_FAILED", h.body_type,
                               format_ident(h.src_ident), exc_info=future.exception())
                    self._respond(h, RetCode.HANDLER_FAILED, b"", None, None)
                else:
                    self._reply(h, future.result())
            finally:
                with self._idle:
                    self._inflight -= 1
                    self._idle.notify_all()

        try:
            asyncio.run_coroutine_threadsafe(run(), loop).add_done_callback(done)
        except RuntimeError:
            with self._idle:
                self._inflight -= 1
            self._respond(h, RetCode.HANDLER_FAILED, b"", None, None)

    def _on_exit(self, h):
        if h.src_ident != self.ident:
            _log.warning("Ignored an exit request from %s: only this node's sidecar (%s) may send one",
                         format_ident(h.src_ident), format_ident(self.ident))
            return
        if self.exit_requested.is_set():
            return
        _log.info("The sidecar asked this host to exit")
        self.exit_requested.set()
        for callback in list(self._exit_callbacks):
            # Never on the reader thread: a callback may stop the client.
            threading.Thread(target=callback, daemon=True).start()

    def _bad_packet(self, length, reason):
        self._malformed += 1
        if self._malformed <= 10 or self._malformed % 1000 == 0:
            _log.warning("Dropped a malformed packet from the sidecar (%d bytes): %s (%d so far)", length, reason, self._malformed)

    def _on_ended(self, status):
        if status is None:
            status = _ring.CLOSED
        self.status = status
        if self._closing:
            _log.info("Channel %s ended: %s", self.channel_name, status)
        else:
            _log.error("Channel %s ended: %s; the sidecar is gone", self.channel_name, status)
        with self._tx_lock:
            self._tx_closed = True
            self._outbox.clear()
            self._space.notify_all()
        # Every pending call fails at once: nothing will answer them.
        for seq in list(self._pending):
            self._complete(seq, Response(RetCode.UNREACHABLE, local=True))
        self._ended.set()
        for callback in list(self._ended_callbacks):
            callback()
        with self._idle:
            self._idle.notify_all()

    # --- the sidecar's liveness ---------------------------------------------------------------

    def _start_watcher(self):
        """A pidfd of the sidecar, polled by one thread: the reader is woken the moment it dies."""
        if not hasattr(os, "pidfd_open"):
            return
        try:
            pidfd = os.pidfd_open(self._channel.sidecar_pid)
        except OSError:
            return  # the 100 ms check remains
        r, w = os.pipe()
        self._watch_pipe = w

        def watch():
            try:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                poller.register(r, select.POLLIN)
                while True:
                    events = poller.poll()
                    fds = [fd for fd, _ in events]
                    if r in fds:
                        return
                    if pidfd in fds:
                        self._sidecar_dead = True
                        self._channel.wake_own()
                        return
            finally:
                os.close(pidfd)
                os.close(r)

        self._watcher = threading.Thread(target=watch, name="kaze-watch " + self.channel_name, daemon=True)
        self._watcher.start()
        self._liveness_interval = LIVENESS_INTERVAL_WITH_PIDFD

    def _stop_watcher(self):
        w = self._watch_pipe
        if w is not None:
            self._watch_pipe = None
            try:
                os.write(w, b"x")
            except OSError:
                pass  # the watcher has returned already (the sidecar died)
            finally:
                os.close(w)
            if self._watcher is not None:
                self._watcher.join(1.0)
