"""Opening a channel: each bad file and each bad environment is refused with Kaze.Host's message."""

import os
import struct
import subprocess
import sys
import unittest

from . import support
import kaze
from kaze import channel as C

CAP = 64 * 1024


def header(magic=C.MAGIC, version=1, header_size=4096, file_size=None, cap0=CAP, cap1=CAP, r0=4096, r1=None,
           sidecar_pid=None, sidecar_state=1, sidecar_start=None, host_pid=0, host_state=0, host_start=0):
    if file_size is None:
        file_size = 4096 + 1024 + cap0 + cap1
    if r1 is None:
        r1 = 4096 + 512 + cap0
    if sidecar_pid is None:
        sidecar_pid = os.getpid()
    if sidecar_start is None:
        sidecar_start = C.self_start_time()
    h = bytearray(4096)
    struct.pack_into("<QIIQIIQQ", h, 0, magic, version, header_size, file_size, cap0, cap1, r0, r1)
    struct.pack_into("<iIQ", h, 128, sidecar_pid, sidecar_state, sidecar_start)
    struct.pack_into("<iIQ", h, 256, host_pid, host_state, host_start)
    return bytes(h)


class ChannelFileTests(unittest.TestCase):
    def write(self, data, size=None):
        name = support.unique_name("bad")
        path = C.channel_path(name)
        with open(path, "wb") as f:
            f.write(data)
            if size is not None:
                f.truncate(size)
        os.chmod(path, 0o600)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        return name, path

    def refused(self, data, error, message, size=4096 + 1024 + 2 * CAP):
        name, path = self.write(data, size)
        with self.assertRaises(error) as e:
            kaze.Client.connect(kaze.Endpoint(name, 1, os.getpid()))
        self.assertEqual(str(e.exception), message % {"path": path})
        return e.exception

    def test_each_bad_header_is_refused_with_its_field(self):
        full = 4096 + 1024 + 2 * CAP
        cases = [
            (b"tiny", C.ChannelFormatError, None, "%(path)s: not a usable Kaze channel: file size is 4 bytes, expected at least 5248 bytes", 4),
            (header(magic=0x1122334455667788), kaze.ChannelFormatError, None,
             '%(path)s: not a usable Kaze channel: magic (offset 0) is 0x1122334455667788, expected 0x4E414843455A414B ("KAZECHAN")', full),
            (header(version=2), kaze.ChannelVersionError, None, "%(path)s: not a usable Kaze channel: layout version (offset 8) is 2, expected 1", full),
            (header(header_size=8192), kaze.ChannelFormatError, None, "%(path)s: not a usable Kaze channel: header size (offset 12) is 8192, expected 4096", full),
            (header(cap0=1000), kaze.ChannelFormatError, None, "%(path)s: not a usable Kaze channel: ring 0 capacity (offset 24) is 1000, expected a power of two from 64 to 1073741824", full),
            (header(cap1=32), kaze.ChannelFormatError, None, "%(path)s: not a usable Kaze channel: ring 1 capacity (offset 28) is 32, expected a power of two from 64 to 1073741824", full),
            (header(file_size=12345), kaze.ChannelFormatError, None, "%(path)s: not a usable Kaze channel: file size field (offset 16) is 12345, expected 136192 (from the capacities)", full),
            (header(), kaze.ChannelFormatError, None, "%(path)s: not a usable Kaze channel: file size is 100000 bytes, expected 136192 bytes (as its header says)", 100000),
            (header(r0=4100), kaze.ChannelFormatError, None, "%(path)s: not a usable Kaze channel: ring 0 offset (offset 32) is 4100, expected 4096", full),
            (header(r1=4096), kaze.ChannelFormatError, None, "%(path)s: not a usable Kaze channel: ring 1 offset (offset 40) is 4096, expected 70144", full),
        ]
        for data, error, _, message, size in cases:
            with self.subTest(message=message[:60]):
                e = self.refused(data, error, message, size)
                if isinstance(e, kaze.ChannelFormatError):
                    self.assertTrue(e.field)

    def test_missing_file(self):
        name = support.unique_name("missing")
        with self.assertRaises(kaze.ChannelNotFoundError) as e:
            kaze.Client.connect(kaze.Endpoint(name, 1, 1))
        self.assertEqual(str(e.exception), "%s: no such channel (is its sidecar running? start the program under `kaze run`)" % C.channel_path(name))

    def test_dead_sidecar(self):
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        self.refused(header(sidecar_pid=dead.pid, sidecar_start=0), kaze.SidecarGoneError,
                     "%%(path)s: the sidecar (pid %d) is not running: the channel is stale; start the program under `kaze run`" % dead.pid)

    def test_recycled_sidecar_pid(self):
        # Our own pid, but another start time: the pid was recycled.
        self.refused(header(sidecar_start=C.self_start_time() + 1), kaze.SidecarGoneError,
                     "%%(path)s: the sidecar (pid %d) is not running: the channel is stale; start the program under `kaze run`" % os.getpid())

    def test_closed_by_its_sidecar(self):
        self.refused(header(sidecar_state=2), kaze.SidecarGoneError, "%%(path)s: the sidecar (pid %d) has closed this channel" % os.getpid())

    def test_another_live_host(self):
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        self.addCleanup(other.wait)
        self.addCleanup(other.kill)
        st = C.start_time(other.pid)[1]
        self.refused(header(host_pid=other.pid, host_state=1, host_start=st), kaze.ChannelInUseError,
                     "%%(path)s: channel is in use by a live host process, pid %d" % other.pid)

    def test_a_channel_serves_one_host_even_after_it_closed_or_died(self):
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        self.addCleanup(other.wait)
        self.addCleanup(other.kill)
        for host_pid, host_state, state in ((other.pid, 2, "closed"), (999999, 1, "host-gone")):
            which = "closed its end" if state == "closed" else "is gone"
            self.refused(header(host_pid=host_pid, host_state=host_state), kaze.ChannelInUseError,
                         "%%(path)s: channel already served its host, pid %d, which %s (state %s); a channel serves one host: "
                         "start the program under its own `kaze run`" % (host_pid, which, state))

    def test_attach_to_a_fresh_channel_and_close_sets_state_2(self):
        name, path = self.write(header(host_pid=0, host_state=0), 4096 + 1024 + 2 * CAP)
        client = kaze.Client.connect(kaze.Endpoint(name, 1, os.getpid()))
        with open(path, "rb") as f:
            pid, state = struct.unpack_from("<iI", f.read(264), 256)
        self.assertEqual((pid, state), (os.getpid(), 1))
        client.close()
        with open(path, "rb") as f:
            self.assertEqual(struct.unpack_from("<I", f.read(264), 260)[0], 2)
        self.assertTrue(os.path.exists(path), "the host must never delete the channel file")


class EnvironmentTests(unittest.TestCase):
    def test_missing_variables_are_all_named(self):
        with self.assertRaises(kaze.KazeEnvironmentError) as e:
            kaze.Endpoint.from_environment({})
        self.assertEqual(str(e.exception), "KAZE_CHANNEL is not set; KAZE_IDENT is not set; KAZE_SIDECAR_PID is not set: start this program under `kaze run -- <command>`")
        self.assertEqual(e.exception.variables, ["KAZE_CHANNEL", "KAZE_IDENT", "KAZE_SIDECAR_PID"])

    def test_invalid_variables(self):
        with self.assertRaises(kaze.KazeEnvironmentError) as e:
            kaze.Endpoint.from_environment({"KAZE_CHANNEL": "a/b", "KAZE_IDENT": "1.2.3", "KAZE_SIDECAR_PID": "-4"})
        self.assertEqual(str(e.exception),
                         "KAZE_CHANNEL is invalid: channel name 'a/b' has '/': only A-Z a-z 0-9 . _ - are allowed; "
                         "KAZE_IDENT is invalid: '1.2.3' is not an ident: expected four numbers 0-255 separated by dots, e.g. 0.0.0.1; "
                         "KAZE_SIDECAR_PID is invalid: '-4' is not a process id: start this program under `kaze run -- <command>`")
        for name, reason in (("..x", "channel name '..x' may not be '.' or contain '..'"), (".", "channel name '.' may not be '.' or contain '..'"),
                             ("x" * 201, "channel name is 201 characters long, at most 200 allowed")):
            self.assertEqual(C.validate_name(name), reason)

    def test_good_environment(self):
        ep = kaze.Endpoint.from_environment({"KAZE_CHANNEL": "0.0.0.1-42", "KAZE_IDENT": "0.0.0.1", "KAZE_SIDECAR_PID": "42"})
        self.assertEqual((ep.channel, ep.ident, ep.sidecar_pid), ("0.0.0.1-42", 1, 42))

    def test_cli_without_environment_exits_2_with_the_message(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAZE_")}
        env["PYTHONPATH"] = support.PACKAGE_ROOT
        p = subprocess.run([sys.executable, "-m", "kaze", "serve"], env=env, capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"KAZE_CHANNEL is not set", p.stderr)


if __name__ == "__main__":
    unittest.main()
