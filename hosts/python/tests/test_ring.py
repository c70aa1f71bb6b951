"""The ring code against a plain queue model: random sizes, wraps, padding, full and corrupt rings."""

import collections
import mmap
import random
import unittest

from . import support  # noqa: F401
from kaze import _native, ring


class RingTests(unittest.TestCase):
    def make(self, capacity):
        mm = mmap.mmap(-1, ring.CONTROL_SIZE + capacity)
        mv = memoryview(mm)
        u32, u64 = mv.cast("I"), mv.cast("Q")
        base, holder = _native.address_of(mm)

        def release():
            nonlocal holder
            del holder
            u32.release()
            u64.release()
            mv.release()
            mm.close()
        writer = ring.RingWriter(mv, u32, u64, base, 0, capacity)
        reader = ring.RingReader(mv, u32, u64, base, 0, capacity)
        return writer, reader, u32, u64, release

    def test_random_packets_match_a_queue_across_many_wraps(self):
        writer, reader, _, u64, release = self.make(1024)
        try:
            rng = random.Random(3)
            model = collections.deque()
            written = 0
            for step in range(30000):
                if rng.random() < 0.55:
                    size = rng.choice((0, 1, 3, 4, 5, 8, rng.randrange(0, writer.max_record - 4 - 8)))
                    hdr = bytes([rng.getrandbits(8) for _ in range(rng.randrange(0, 9))])
                    body = bytes([step & 255]) * size
                    if 4 + len(hdr) + len(body) > writer.max_record:
                        continue
                    used = writer.write_pos - u64[16]  # head at offset 128
                    rec = ring.record_size(4 + len(hdr) + len(body))
                    to_end = writer.capacity - (writer.write_pos & writer.mask)
                    need = rec if to_end >= rec else to_end + rec
                    ok = writer.try_write(hdr, body)
                    self.assertEqual(ok, writer.capacity - used >= need, "free-space rule at step %d" % step)
                    if ok:
                        model.append(len(hdr).to_bytes(4, "little") + hdr + body)
                        written += 1
                        if rng.random() < 0.5:
                            writer.publish()
                else:
                    writer.publish()
                    for _ in range(rng.randrange(1, 4)):
                        rec = reader.try_read()
                        if rec is None:
                            self.assertFalse(model)
                            break
                        self.assertIsNot(rec, ring.CORRUPT)
                        self.assertEqual(bytes(rec), model.popleft())
                        del rec
                    if rng.random() < 0.7:
                        reader.release()
            self.assertGreater(writer.write_pos // writer.capacity, 100, "the ring should have wrapped many times")
        finally:
            release()

    def test_largest_record_fits_an_empty_ring_and_larger_is_refused(self):
        writer, reader, _, _, release = self.make(256)
        try:
            self.assertEqual(writer.max_record, 124)
            self.assertTrue(writer.try_write(b"", b"x" * 120))
            with self.assertRaises(ValueError):
                writer.try_write(b"", b"x" * 121)
            writer.publish()
            self.assertEqual(len(reader.try_read()), 124)
            reader.release()
            # Position 128: a 128-byte record fits exactly before the end, then wraps with padding.
            self.assertTrue(writer.try_write(b"", b"y" * 120))
            # 128 bytes used, 128 free at the start: a record that needs exactly that fits.
            self.assertTrue(writer.try_write(b"", b"w" * 120))
            self.assertFalse(writer.try_write(b"", b""))
            writer.publish()
            self.assertEqual(bytes(reader.try_read())[4:], b"y" * 120)
            reader.release()
            # 128 free at the start again, the next record goes at offset 0 (position 384 -> 128):
            # a 16-byte record fits before the end; one that does not needs the rest padded.
            self.assertTrue(writer.try_write(b"", b"z" * 8))
        finally:
            release()

    def test_corrupt_length_and_tail_are_reported(self):
        writer, reader, u32, u64, release = self.make(256)
        try:
            writer.try_write(b"", b"abc")
            writer.publish()
            u32[ring.CONTROL_SIZE >> 2] = 500  # length above max
            self.assertIs(reader.try_read(), ring.CORRUPT)
        finally:
            release()
        writer, reader, u32, u64, release = self.make(256)
        try:
            u64[0] = 4096  # tail far beyond the head
            self.assertIs(reader.try_read(), ring.CORRUPT)
        finally:
            release()


if __name__ == "__main__":
    unittest.main()
