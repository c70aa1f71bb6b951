"""Host programs the tests run under a real `kaze run`: python3 scenarios.py NAME [ARGS].

Each prints one JSON object on stdout (the last line) with what it saw, and exits 0 when the
scenario itself worked. The tests (test_live.py) assert on that object and the exit codes.
"""

import asyncio
import json
import logging
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import kaze  # noqa: E402


def _out(obj):
    print(json.dumps(obj), flush=True)


def selfcall_random(count, seed, max_size):
    """Calls itself with random body sizes, a few in flight, checking every body."""
    client = kaze.connect()
    client.handle("echo", lambda r: r.body)
    client.start()
    rng = random.Random(seed)
    ok = bad = 0
    sizes = []
    errors = {}
    lock = threading.Lock()
    done = threading.Event()
    remaining = [count]

    def one(i):
        size = rng.choice((0, 1, 3, 4, 7, 8, rng.randrange(0, max_size + 1), rng.randrange(0, max_size + 1)))
        body = bytes(rng.getrandbits(8) for _ in range(min(size, 64))) * (size // 64 + 1)
        body = body[:size]
        sizes.append(size)

        def cb(resp):
            nonlocal ok, bad
            with lock:
                if resp.ok and resp.body == body:
                    ok += 1
                else:
                    bad += 1
                    errors[kaze.RetCode.name(resp.code)] = errors.get(kaze.RetCode.name(resp.code), 0) + 1
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()
            if i + 4 < count:
                one(i + 4)
        client.call_async(0, "echo", body, cb, timeout=10.0)

    for i in range(min(4, count)):
        one(i)
    done.wait(120)
    reader = client._reader
    writer = client._writer
    result = {"ok": ok, "bad": bad, "errors": errors, "bytes": sum(sizes),
              "rx_wraps": reader.read_pos // reader.capacity, "tx_wraps": writer.write_pos // writer.capacity}
    client.close()
    _out(result)
    return 0 if bad == 0 and ok == count else 1


def concurrency(threads, per_thread):
    """Calls from threads, from asyncio, and the outcomes: timeout, no handler, unreachable, handler failed."""
    client = kaze.connect()
    client.handle("echo", lambda r: r.body)

    def boom(r):
        raise RuntimeError("boom")
    client.handle("boom", boom)

    async def slow(r):
        await asyncio.sleep(2.0)
        return b"late"
    client.handle("slow", slow)

    async def main():
        loop_task = asyncio.ensure_future(client.run_async(handle_signals=False))
        while client._thread is None:
            await asyncio.sleep(0.001)
        result = {}
        # threads, blocking call()
        failures = []

        def worker(t):
            for i in range(per_thread):
                body = ("%d-%d" % (t, i)).encode() * (i % 50)
                try:
                    if client.call(0, "echo", body, timeout=10.0).body != body:
                        failures.append("mismatch")
                except kaze.KazeError as e:
                    failures.append(type(e).__name__)
        ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: ([t.start() for t in ts], [t.join() for t in ts]))
        result["thread_calls"] = threads * per_thread
        result["thread_failures"] = failures
        # asyncio, many in flight
        bodies = [os.urandom(i % 300) for i in range(200)]
        answers = await asyncio.gather(*(client.acall("0.0.0.0", "echo", b, timeout=10.0) for b in bodies))
        result["async_ok"] = sum(1 for a, b in zip(answers, bodies) if a.body == b)
        # outcomes
        outcomes = {}
        for name, coro in (("no_handler", client.acall(0, "nothing-handles-this", b"x", timeout=5.0)),
                           ("handler_failed", client.acall(0, "boom", b"x", timeout=5.0)),
                           ("unreachable", client.acall("0.0.0.77", "echo", b"x", timeout=5.0))):
            start = time.monotonic()
            try:
                await coro
                outcomes[name] = "OK"
            except kaze.CallError as e:
                outcomes[name] = type(e).__name__
            outcomes[name + "_ms"] = round((time.monotonic() - start) * 1000, 1)
        start = time.monotonic()
        try:
            await loop.run_in_executor(None, lambda: client.call(0, "slow", b"", timeout=0.3))
            outcomes["timeout"] = "OK"
        except kaze.CallTimeout as e:
            outcomes["timeout"] = "CallTimeout"
            outcomes["timeout_local"] = e.response.local
        outcomes["timeout_ms"] = round((time.monotonic() - start) * 1000, 1)
        try:
            client.call(0, "echo", b"x" * (client.max_packet_size + 1))
            outcomes["too_large"] = "sent"
        except kaze.PacketTooLargeError:
            outcomes["too_large"] = "PacketTooLargeError"
        result["outcomes"] = outcomes
        result["pending_after"] = client.pending_calls
        client.close()
        await loop_task
        return result

    result = asyncio.run(main())
    _out(result)
    return 0


def serve_until_exit(mode):
    """Serves echo; mode 'signals' handles SIGTERM/SIGINT, 'notify-only' ignores SIGTERM so only
    the kaze.exit notify can stop it."""
    client = kaze.connect()
    client.handle("echo", lambda r: r.body)
    if mode == "notify-only":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        client.start()
        print("ready", flush=True)
        got = client.exit_requested.wait(30)
        client.stop()
        _out({"exit_requested": got, "status": client.status})
        return 0 if got else 1
    client.start()
    print("ready", flush=True)
    code = client.run()
    _out({"exit_requested": client.exit_requested.is_set(), "signalled": client._signalled, "code": code})
    return code


def pending_when_killed(count):
    """Makes `count` calls that will not be answered, prints "ready", and reports how they end
    once the test SIGKILLs the sidecar."""
    client = kaze.connect()
    never = asyncio.Event()

    async def hang(r):
        await never.wait()
    client.handle("hang", hang)

    async def main():
        runner = asyncio.ensure_future(client.run_async(handle_signals=False))
        while client._thread is None:
            await asyncio.sleep(0.001)
        results = []
        lock = threading.Lock()
        ended_at = []

        def worker():
            try:
                client.call(0, "hang", b"", timeout=60.0)
                r = "OK"
            except kaze.KazeError as e:
                r = type(e).__name__
            with lock:
                results.append(r)
                ended_at.append(time.monotonic())
        ts = [threading.Thread(target=worker) for _ in range(count)]
        for t in ts:
            t.start()
        async def acall():
            try:
                await client.acall(0, "hang", b"", timeout=60.0)
                return "OK"
            except kaze.KazeError as e:
                return type(e).__name__
        atasks = [asyncio.ensure_future(acall()) for _ in range(count)]
        while client.pending_calls < 2 * count:
            await asyncio.sleep(0.01)
        print("ready %d" % client.pending_calls, flush=True)
        # The test kills the sidecar now.
        ready_at = time.monotonic()
        ares = await asyncio.gather(*atasks)
        end = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, lambda: [t.join() for t in ts])
        code = await runner
        return {"thread_results": results, "async_results": ares, "status": client.status, "code": code,
                "spread_ms": round((max(ended_at + [end]) - min(ended_at + [end])) * 1000, 1),
                "after_ready_ms": round((end - ready_at) * 1000, 1)}

    result = asyncio.run(main())
    _out(result)
    return 0


def call_peer(ident, count, size):
    """Calls `echo` on another node `count` times (blocking calls), checking bodies."""
    client = kaze.connect()
    client.start()
    ok = 0
    errors = {}
    for i in range(count):
        body = os.urandom(size)
        try:
            # The first call may wait for the connection to the peer.
            resp = client.call(ident, "echo", body, timeout=10.0)
            ok += resp.body == body
        except kaze.CallError as e:
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
    client.close()
    _out({"ok": ok, "errors": errors})
    return 0 if ok == count else 1


def log_forward(marker):
    client = kaze.connect()
    client.start()
    logger = logging.getLogger("orders.api")
    logger.addHandler(kaze.LogHandler(client))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.warning("order %s is late", marker)
    try:
        raise ValueError("bad order")
    except ValueError:
        logger.exception("order %s failed", marker)
    # A call through the same ring after the records: when it is answered, they were read.
    client.handle("echo", lambda r: r.body)
    client.call(0, "echo", b"sync")
    client.close()
    _out({"dropped": client.logs_dropped})
    return 0


def flood(count, size, max_queued):
    """Notifies to itself from two threads, faster than the rings carry them: the outbox fills,
    senders wait for queue space, the reader waits for ring space (futex_waitv), nothing is lost."""
    client = kaze.Client.connect(max_queued=max_queued)
    got = []

    def count_it(r):
        got.append(len(r.body))
    client.handle("count", count_it)
    client.handle("echo", lambda r: r.body)
    client.start()
    body = b"x" * size
    peak = [0]

    def sender():
        for _ in range(count):
            client.send(0, "count", body, timeout=60)
            peak[0] = max(peak[0], client.queued_packets)
    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    # A call after the notifies: they went through the same rings in order before it.
    client.call(0, "echo", b"end", timeout=30)
    deadline = time.monotonic() + 30
    while len(got) < 2 * count and time.monotonic() < deadline:
        time.sleep(0.01)
    client.close()
    _out({"sent": 2 * count, "received": len(got), "sizes_ok": all(n == size for n in got), "peak_queued": peak[0]})
    return 0 if len(got) == 2 * count else 1


SCENARIOS = {
    "flood": lambda a: flood(int(a[0]), int(a[1]), int(a[2])),
    "selfcall-random": lambda a: selfcall_random(int(a[0]), int(a[1]), int(a[2])),
    "concurrency": lambda a: concurrency(int(a[0]), int(a[1])),
    "serve": lambda a: serve_until_exit(a[0]),
    "pending-when-killed": lambda a: pending_when_killed(int(a[0])),
    "call-peer": lambda a: call_peer(a[0], int(a[1]), int(a[2])),
    "log": lambda a: log_forward(a[0]),
}

if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sys.exit(SCENARIOS[sys.argv[1]](sys.argv[2:]))
