"""The Python host itself on arm64: CPython for arm64 run by qemu-aarch64 (user-mode emulation)
against a real x86-64 `kaze run`, through the same shared memory and futexes. Opt-in: set
KAZE_ARM64_SYSROOT to a tree made by tests/arm64/sysroot.sh (and install qemu-user).

What this does not test: memory ordering. qemu runs arm64 code on this x86-64 CPU, whose
stronger ordering hides a missing barrier. The barriers are checked by reading
(docs/shm-format.md, "Languages without atomics"; README "arm64").
"""

import os
import shutil
import unittest

from . import support
from .support import KazeRun, assert_no_leftovers

ROOT = os.environ.get("KAZE_ARM64_SYSROOT")
QEMU = shutil.which("qemu-aarch64")

# Under qemu-user, /proc/self/stat gives the emulated process a start time ~0.1 s off the real
# one (qemu makes the line up), and a sidecar that compares it with the real one takes the host
# for dead. The runs here record 0 ("unknown", which the format allows) instead.
WRAPPER = ("import sys; sys.path.insert(0, %r); sys.path.insert(0, %r); import kaze.channel as c; c._SELF_START = 0; "
           "import scenarios; sys.exit(scenarios.SCENARIOS[sys.argv[1]](sys.argv[2:]))") % (support.HERE, support.PACKAGE_ROOT)


@unittest.skipUnless(ROOT and QEMU, "opt-in: KAZE_ARM64_SYSROOT (tests/arm64/sysroot.sh) and qemu-aarch64")
class Arm64Tests(unittest.TestCase):
    def python(self, *args):
        return [QEMU, "-L", ROOT, os.path.join(ROOT, "usr", "bin", "python3.11"), "-c", WRAPPER] + [str(a) for a in args]

    def test_self_calls_across_ring_wraps_on_arm64(self):
        run = KazeRun(self, self.python("selfcall-random", 1500, 3, 20000), ring_size="64KiB")
        self.assertEqual(run.wait(300), 0, run.stderr[-3000:])
        r = run.result()
        self.assertEqual((r["ok"], r["bad"]), (1500, 0), r)
        self.assertGreater(r["rx_wraps"], 50, r)
        assert_no_leftovers(self, run.name)

    def test_threads_asyncio_and_outcomes_on_arm64(self):
        run = KazeRun(self, self.python("concurrency", 2, 50))
        self.assertEqual(run.wait(300), 0, run.stderr[-3000:])
        r = run.result()
        self.assertEqual((r["thread_failures"], r["async_ok"], r["pending_after"]), ([], 200, 0), r)
        assert_no_leftovers(self, run.name)


if __name__ == "__main__":
    unittest.main()
