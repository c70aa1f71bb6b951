"""Shared by the tests: where kaze and the .NET Echo are, unique channel names, `kaze run` processes
that are always cleaned up, and the check that no channel file is left behind."""

import glob
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PACKAGE_ROOT))
PYTHON = sys.executable


def _find(env_name, *relative):
    value = os.environ.get(env_name)
    if value:
        return value
    for config in ("Debug", "Release"):
        path = os.path.join(REPO, *[p.replace("{config}", config) for p in relative])
        if os.path.exists(path):
            return path
    return None


KAZE = _find("KAZE_BIN", "src", "Kaze.Cli", "bin", "{config}", "net10.0", "kaze")
ECHO = _find("KAZE_ECHO", "examples", "Echo", "bin", "{config}", "net10.0", "Kaze.Echo")

_names = itertools.count()


def unique_name(tag):
    return "pytest-%s-%d-%d-%s" % (tag, os.getpid(), next(_names), os.urandom(3).hex())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing(test, what):
    """Skips a test whose program is not built; under CI (CI=true, as .ci/run runs) that is a
    failure instead, so that a moved build output cannot turn the live tests into skips."""
    if os.environ.get("CI", "").lower() == "true":
        test.fail(what + " (CI=true: a missing program fails the test)")
    test.skipTest(what)


def leftovers(name):
    """Channel files of `name` still in /dev/shm (the file and the sidecar's temporary ones)."""
    return glob.glob("/dev/shm/kaze-%s" % name) + glob.glob("/dev/shm/.kaze-%s.*" % name)


class KazeRun:
    """`kaze run [args] -- command` with a unique channel name, its own process group, captured
    output, and a cleanup that kills what is left and removes a stale channel file."""

    def __init__(self, test, command, ident="0.0.0.1", listen="off", nodes=(), env=None, ring_size=None, grace=None):
        if KAZE is None:
            missing(test, "kaze is not built (dotnet build Kaze.sln, or set KAZE_BIN)")
        self.name = unique_name(test.id().rsplit(".", 1)[-1][:24])
        args = [KAZE, "run", "--ident", ident, "--listen", listen]
        for node in nodes:
            args += ["--node", node]
        if grace:
            args += ["--grace", grace]
        args += ["--"] + list(command)
        full_env = dict(os.environ)
        full_env.update({"KAZE_CHANNEL__NAME": self.name, "KAZE_METRICS__LISTEN": "off",
                         "PYTHONPATH": PACKAGE_ROOT, "PYTHONUNBUFFERED": "1"})
        if ring_size:
            full_env["KAZE_CHANNEL__RINGSIZE"] = ring_size
        full_env.update(env or {})
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=full_env, start_new_session=True)
        self.stdout = ""
        self.stderr = ""
        test.addCleanup(self.cleanup, test)

    @property
    def pid(self):
        return self.proc.pid

    def read_line(self, timeout, what):
        """The next line of the host's stdout, waiting at most `timeout` seconds for it."""
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise AssertionError("timed out after %.0f s waiting for %s (got %r so far)" % (timeout, what, line))
            chunk = os.read(self.proc.stdout.fileno(), 1)
            if not chunk:
                raise AssertionError("the host's stdout ended while waiting for %s (got %r); stderr: %s" % (what, line, self._drain_stderr()))
            line += chunk
        return line.decode().rstrip("\n")

    def _drain_stderr(self):
        try:
            self.proc.kill()
            return self.proc.stderr.read().decode(errors="replace")[-2000:]
        except Exception:
            return "?"

    def wait(self, timeout, what="kaze run to exit"):
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            out, err = self.proc.communicate()
            raise AssertionError("timed out after %.0f s waiting for %s; stderr: %s" % (timeout, what, err.decode(errors="replace")[-2000:]))
        self.stdout += out.decode(errors="replace")
        self.stderr += err.decode(errors="replace")
        return self.proc.returncode

    def result(self):
        """The JSON object the scenario printed last."""
        lines = [l for l in self.stdout.splitlines() if l.startswith("{")]
        if not lines:
            raise AssertionError("the host printed no result; stdout: %r; stderr: %s" % (self.stdout, self.stderr[-2000:]))
        return json.loads(lines[-1])

    def cleanup(self, test):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.communicate()
        else:
            try:
                # The group may hold the host still (its sidecar was killed).
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


def assert_no_leftovers(test, name):
    left = leftovers(name)
    test.assertEqual(left, [], "channel files left behind: %s" % left)
