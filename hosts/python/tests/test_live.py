"""The Python host under real `kaze run`s: self-calls across ring wraps, calls both ways with the
.NET Echo across two sidecars, the exit notify and SIGTERM, a sidecar SIGKILLed with calls in
flight, log forwarding, and no channel file left behind."""

import os
import signal
import time
import unittest

from . import support
from .support import PYTHON, KazeRun, assert_no_leftovers

SCENARIOS = os.path.join(support.HERE, "scenarios.py")


def scenario(*args):
    return [PYTHON, SCENARIOS] + [str(a) for a in args]


class LiveTests(unittest.TestCase):
    def test_self_calls_with_random_sizes_across_ring_wraps(self):
        run = KazeRun(self, scenario("selfcall-random", 3000, 11, 20000), ring_size="64KiB")
        self.assertEqual(run.wait(180), 0, run.stderr[-3000:])
        r = run.result()
        self.assertEqual((r["ok"], r["bad"]), (3000, 0), r)
        self.assertGreater(r["rx_wraps"], 50, r)
        self.assertGreater(r["tx_wraps"], 50, r)
        assert_no_leftovers(self, run.name)

    def test_fallback_without_machine_code_still_works(self):
        # KAZE_PY_ATOMICS=fallback: plain stores, always wake, short sleeps (docs/shm-format.md,
        # "Languages without atomics"); x86-64 only.
        from kaze import _native
        if _native.ARCH != "x86_64":
            self.skipTest("the fallback exists on x86-64 only")
        run = KazeRun(self, scenario("selfcall-random", 1000, 5, 20000), ring_size="64KiB", env={"KAZE_PY_ATOMICS": "fallback"})
        self.assertEqual(run.wait(180), 0, run.stderr[-3000:])
        r = run.result()
        self.assertEqual((r["ok"], r["bad"]), (1000, 0), r)
        self.assertGreater(r["rx_wraps"], 10, r)
        assert_no_leftovers(self, run.name)

    def test_full_rings_and_a_full_send_queue_lose_nothing(self):
        run = KazeRun(self, scenario("flood", 1500, 20000, 8), ring_size="64KiB")
        self.assertEqual(run.wait(240), 0, run.stderr[-3000:])
        r = run.result()
        self.assertEqual((r["received"], r["sizes_ok"]), (3000, True), r)
        self.assertGreater(r["peak_queued"], 0, "the send queue was never used: %s" % r)
        self.assertLessEqual(r["peak_queued"], 8, "the send queue went past its bound: %s" % r)
        assert_no_leftovers(self, run.name)

    def test_calls_from_threads_and_asyncio_and_every_outcome(self):
        run = KazeRun(self, scenario("concurrency", 4, 100))
        self.assertEqual(run.wait(120), 0, run.stderr[-3000:])
        r = run.result()
        self.assertEqual(r["thread_failures"], [])
        self.assertEqual(r["async_ok"], 200)
        o = r["outcomes"]
        self.assertEqual((o["no_handler"], o["handler_failed"], o["unreachable"], o["timeout"], o["too_large"]),
                         ("NoHandler", "HandlerFailed", "Unreachable", "CallTimeout", "PacketTooLargeError"), o)
        # A call never ends long after its timeout (0.3 s); the sidecar's TIMEOUT comes first.
        self.assertLess(o["timeout_ms"], 300 + 500, o)
        self.assertGreaterEqual(o["timeout_ms"], 290, o)
        self.assertEqual(r["pending_after"], 0)
        assert_no_leftovers(self, run.name)

    def test_sigterm_is_a_graceful_exit(self):
        run = KazeRun(self, scenario("serve", "signals"))
        self.assertEqual(run.read_line(60, "the host to be ready"), "ready")
        os.kill(run.pid, signal.SIGTERM)
        self.assertEqual(run.wait(30), 0, run.stderr[-3000:])
        r = run.result()
        self.assertEqual(r["code"], 0)
        self.assertTrue(r["signalled"] or r["exit_requested"], r)
        assert_no_leftovers(self, run.name)

    def test_exit_notify_alone_stops_the_host(self):
        # The host ignores SIGTERM: only the sidecar's kaze.exit notify can stop it.
        run = KazeRun(self, scenario("serve", "notify-only"))
        self.assertEqual(run.read_line(60, "the host to be ready"), "ready")
        os.kill(run.pid, signal.SIGTERM)
        self.assertEqual(run.wait(30), 0, run.stderr[-3000:])
        self.assertEqual(run.result()["exit_requested"], True)
        assert_no_leftovers(self, run.name)

    def test_sidecar_sigkilled_fails_every_pending_call_at_once(self):
        run = KazeRun(self, scenario("pending-when-killed", 20))
        line = run.read_line(60, "the calls to be in flight")
        self.assertEqual(line, "ready 40")
        os.kill(run.pid, signal.SIGKILL)
        # The host goes on alone: wait for its report (it exits by itself).
        report = run.read_line(30, "the host's report after the sidecar died")
        import json
        r = json.loads(report)
        self.assertEqual(r["thread_results"], ["Unreachable"] * 20, r)
        self.assertEqual(r["async_results"], ["Unreachable"] * 20, r)
        self.assertEqual(r["status"], "PeerGone")
        self.assertEqual(r["code"], 1)
        # "At once": well before the calls' 60 s timeout and the 100 ms liveness check's worst case x 5.
        self.assertLess(r["after_ready_ms"], 1000, r)
        run.wait(30)
        # kaze was SIGKILLed, so its file is stale: the next kaze run would remove it; we do.
        for path in support.leftovers(run.name):
            os.unlink(path)

    def test_log_records_reach_the_sidecars_log(self):
        marker = os.urandom(4).hex()
        run = KazeRun(self, scenario("log", marker), env={"KAZE_LOG__LEVELS__HOST": "info"})
        self.assertEqual(run.wait(60), 0, run.stderr[-3000:])
        self.assertIn("order %s is late" % marker, run.stderr)
        self.assertIn("order %s failed" % marker, run.stderr)
        self.assertIn("ValueError: bad order", run.stderr)
        self.assertIn("host 0.0.0.1", run.stderr)
        self.assertEqual(run.result()["dropped"], 0)
        assert_no_leftovers(self, run.name)

    def test_cli_call_prints_json(self):
        run = KazeRun(self, [PYTHON, "-m", "kaze", "call", "0.0.0.0", "500", "--in-flight", "8", "--size", "100", "--json"])
        self.assertEqual(run.wait(120), 0, run.stderr[-3000:])
        r = run.result()
        self.assertEqual((r["ok"], r["failed"]), (500, 0))
        for key in ("calls_per_s", "p50_us", "p99_us"):
            self.assertGreater(r[key], 0)
        assert_no_leftovers(self, run.name)


class TwoSidecarTests(unittest.TestCase):
    def setUp(self):
        if support.ECHO is None:
            support.missing(self, "examples/Echo is not built (dotnet build Kaze.sln, or set KAZE_ECHO)")

    def pair(self, a_command, b_command):
        pa, pb = support.free_port(), support.free_port()
        a = KazeRun(self, a_command, ident="0.0.0.1", listen="127.0.0.1:%d" % pa, nodes=["0.0.0.2=127.0.0.1:%d" % pb])
        b = KazeRun(self, b_command, ident="0.0.0.2", listen="127.0.0.1:%d" % pb, nodes=["0.0.0.1=127.0.0.1:%d" % pa])
        return a, b

    def test_python_calls_dotnet_echo(self):
        a, b = self.pair([support.ECHO, "serve"], scenario("call-peer", "0.0.0.1", 300, 3000))
        self.assertEqual(b.wait(120, "the Python caller"), 0, b.stderr[-3000:])
        self.assertEqual(b.result(), {"ok": 300, "errors": {}})
        os.kill(a.pid, signal.SIGTERM)
        self.assertEqual(a.wait(30, "the Echo side to stop"), 0, a.stderr[-3000:])
        assert_no_leftovers(self, a.name)
        assert_no_leftovers(self, b.name)

    def test_dotnet_echo_calls_python(self):
        a, b = self.pair([PYTHON, "-m", "kaze", "serve"], [support.ECHO, "call", "0.0.0.1", "300", "--pipeline", "4", "--size", "3000"])
        self.assertEqual(b.wait(120, "the .NET caller"), 0, b.stdout + b.stderr[-3000:])
        self.assertIn("300 ok", b.stdout)
        os.kill(a.pid, signal.SIGTERM)
        self.assertEqual(a.wait(30, "the Python side to stop"), 0, a.stderr[-3000:])
        assert_no_leftovers(self, a.name)
        assert_no_leftovers(self, b.name)


if __name__ == "__main__":
    unittest.main()
