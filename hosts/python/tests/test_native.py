"""The machine code of kaze/_native.py: run natively on x86-64; on arm64 disassembled with
llvm-mc and run under qemu-aarch64 when those tools are installed (Debian: llvm, clang-14,
lld-14, qemu-user), else skipped with the reason."""

import ctypes
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from . import support
from kaze import _native


def _tool(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


class NativeTests(unittest.TestCase):
    def test_atomics_on_this_machine(self):
        words = (ctypes.c_uint64 * 4)()
        a = ctypes.addressof(words)
        self.assertEqual(_native.xchg64(a, 0x1122334455667788), 0)
        self.assertEqual(_native.load64(a), 0x1122334455667788)
        self.assertEqual(_native.xchg32(a + 8, 7), 0)
        self.assertEqual(_native.cas32(a + 8, 7, 9), 7)
        self.assertEqual(_native.cas32(a + 8, 7, 11), 9)
        self.assertEqual(_native.load32(a + 8), 9)
        self.assertEqual(_native.spin64(a, 1, 100), 0x1122334455667788)
        self.assertEqual(_native.spin64(a, 0x1122334455667788, 100), 0x1122334455667788)

    def test_futex_wait_is_woken_by_another_thread(self):
        word = ctypes.c_uint32(1)
        a = ctypes.addressof(word)
        woke = []

        def waiter():
            start = time.monotonic()
            while word.value == 1 and time.monotonic() - start < 10:
                _native.futex_wait(a, 1, 5.0)
            woke.append(time.monotonic() - start)
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.05)
        word.value = 0
        _native.futex_wake(a)
        t.join(15)
        self.assertTrue(woke and woke[0] < 5.0, "the waiter was not woken by FUTEX_WAKE: %s" % woke)

    def test_futex_waitv_times_out_or_is_missing(self):
        words = (ctypes.c_uint32 * 2)(1, 1)
        a = ctypes.addressof(words)
        start = time.monotonic()
        have = _native.futex_waitv([(a, 1), (a + 4, 1)], 0.02)
        if have:
            self.assertGreaterEqual(time.monotonic() - start, 0.015)

    def test_arm64_code_disassembles_as_written(self):
        mc = _tool("llvm-mc", "llvm-mc-14")
        if mc is None:
            self.skipTest("llvm-mc is not installed")
        expected = {
            "xchg64": ["ldaxr x2, [x0]", "stlxr w3, x1, [x0]", "cbnz w3, #-8", "dmb ish", "mov x0, x2", "ret"],
            "xchg32": ["ldaxr w2, [x0]", "stlxr w3, w1, [x0]", "cbnz w3, #-8", "dmb ish", "mov w0, w2", "ret"],
            "cas32": ["ldaxr w3, [x0]", "cmp w3, w1", "b.ne #12", "stlxr w4, w2, [x0]", "cbnz w4, #-16", "dmb ish", "mov w0, w3", "ret"],
            "load64": ["ldar x0, [x0]", "ret"],
            "load32": ["ldar w0, [x0]", "ret"],
            "spin64": ["ldar x3, [x0]", "cmp x3, x1", "b.ne #16", "isb", "subs x2, x2, #1", "b.ne #-20", "mov x0, x3", "ret"],
        }
        for name, code in _native._ARM64.items():
            text = " ".join("0x%02x" % b for b in code)
            out = subprocess.run([mc, "--disassemble", "-triple=aarch64"], input=text, capture_output=True, text=True, timeout=60).stdout
            lines = [" ".join(l.split()) for l in out.splitlines() if l.strip() and not l.strip().startswith(".")]
            self.assertEqual(lines, expected[name], name)

    def test_arm64_code_runs_under_qemu(self):
        clang, lld, qemu = _tool("clang-14", "clang"), _tool("ld.lld-14", "ld.lld"), _tool("qemu-aarch64", "qemu-aarch64-static")
        if not (clang and lld and qemu):
            self.skipTest("needs clang, ld.lld and qemu-aarch64 (Debian: clang-14, lld-14, qemu-user)")
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "code.h"), "w") as f:
                for name, code in _native._ARM64.items():
                    f.write('__attribute__((section(".text"), aligned(16))) static const unsigned char code_%s[] = {%s};\n'
                            % (name, ",".join(str(b) for b in code)))
            exe = os.path.join(tmp, "harness")
            build = subprocess.run([clang, "-target", "aarch64-linux-gnu", "-O1", "-ffreestanding", "-fno-stack-protector", "-nostdlib",
                                    "-static", "-fuse-ld=" + lld, "-I", tmp, "-o", exe, os.path.join(support.HERE, "arm64", "harness.c")],
                                   capture_output=True, text=True, timeout=120)
            if build.returncode != 0:
                self.skipTest("cannot build the arm64 harness here: " + build.stderr[-500:])
            run = subprocess.run([qemu, exe], capture_output=True, text=True, timeout=60)
            self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
            self.assertNotIn("FAIL", run.stdout)


if __name__ == "__main__":
    unittest.main()
