"""A hostile sidecar: the test writes garbage into the host's ring of a channel it made itself
(it is the sidecar: its pid is in the header). Malformed packets are dropped and counted and the
host goes on; a corrupt ring ends the channel, fails every pending call and closes the host's end."""

import mmap
import os
import struct
import time
import unittest

from . import support
from .test_channel import CAP, header
import kaze
from kaze import _native, channel as C, ring
from kaze.header import decode, encode_request


class HostileSidecarTests(unittest.TestCase):
    def setUp(self):
        name = support.unique_name("hostile")
        self.path = C.channel_path(name)
        with open(self.path, "wb") as f:
            f.write(header())
            f.truncate(4096 + 1024 + 2 * CAP)
        self.addCleanup(lambda: os.path.exists(self.path) and os.unlink(self.path))
        fd = os.open(self.path, os.O_RDWR)
        self.mm = mmap.mmap(fd, 4096 + 1024 + 2 * CAP)
        os.close(fd)
        mv = memoryview(self.mm)
        self.u32, self.u64 = mv.cast("I"), mv.cast("Q")
        base, self._holder = _native.address_of(self.mm)
        # The sidecar's ends: it writes ring 0 and reads ring 1.
        self.to_host = ring.RingWriter(mv, self.u32, self.u64, base, 4096, CAP)
        self.from_host = ring.RingReader(mv, self.u32, self.u64, base, 4096 + 512 + CAP, CAP)
        self.client = kaze.Client.connect(kaze.Endpoint(name, 1, os.getpid()))
        self.addCleanup(self.client.close)
        self.client.start()

    def write_record(self, payload):
        """Writes `payload` as one record, whatever it holds."""
        w = self.to_host
        rec = ring.record_size(len(payload))
        off = w.data + (w.write_pos & w.mask)
        self.u32[off >> 2] = len(payload)
        self.mm[off + 4:off + 4 + len(payload)] = payload
        w.write_pos += rec
        w.publish()

    def response(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rec = self.from_host.try_read()
            if rec is not None:
                p = bytes(rec)
                del rec
                self.from_host.release()
                hl = struct.unpack_from("<I", p)[0]
                return decode(p, 4, 4 + hl), p[4 + hl:]
            time.sleep(0.001)
        raise AssertionError("timed out after %d s waiting for the host's response" % timeout)

    def test_malformed_packets_are_dropped_and_the_host_goes_on(self):
        self.client.handle("echo", lambda r: r.body)
        for bad in (b"\x01\x02\x03", struct.pack("<I", 1000) + b"abc", struct.pack("<I", 2) + b"\x0a\x09" + b"xyz",
                    struct.pack("<I", 4) + b"\x0a\x02\xff\xfe"):
            self.write_record(bad)
        hdr = encode_request("echo", 7, 1000, 0)
        self.write_record(struct.pack("<I", len(hdr)) + hdr + b"still here")
        h, body = self.response()
        self.assertEqual((h.rsp, h.ret_code, body), (7, 0, b"still here"))
        self.assertEqual(self.client._malformed, 4)
        self.assertFalse(self.client.ended)

    def test_corrupt_ring_ends_the_channel_and_fails_pending_calls(self):
        results = []
        self.client.call_async(0, "never", b"", results.append, timeout=60)
        self.response()  # the request reached the "sidecar", which never answers it
        w = self.to_host
        off = w.data + (w.write_pos & w.mask)
        self.u32[off >> 2] = 0x7FFFFFFF  # a length above the ring's maximum
        w.write_pos += 64
        w.publish()
        self.assertTrue(self.client.wait_ended(10), "the host did not end the channel on a corrupt ring")
        self.assertEqual(self.client.status, "Corrupt")
        self.assertEqual([r.code for r in results], [kaze.RetCode.UNREACHABLE])
        self.assertEqual(self.u32[C.HOST_STATE >> 2], C.STATE_CLOSED, "the host did not close its end")


if __name__ == "__main__":
    unittest.main()
