"""The hand-written protobuf header codec (docs/host-protocol.md section 2)."""

import random
import unittest

from . import support  # noqa: F401  (puts the package on the path)
from kaze import header as H


class HeaderTests(unittest.TestCase):
    def test_request_writes_zero_values_inside_oneofs(self):
        # A request with sequence 0 to ident 0 must keep `req` and `dstIdent`: a missing `req`
        # turns it into a notify, a missing route into "no route" (docs/host-protocol.md 2).
        raw = H.encode_request("echo", 0, 5, 0)
        self.assertEqual(raw, b"\x0a\x04echo\x20\x01\x28\x05\x30\x00\x50\x00")
        h = H.decode(raw, 0, len(raw))
        self.assertEqual((h.body_type, h.req, h.rsp, h.timeout, h.route, h.version), ("echo", 0, None, 5, ("ident", 0), 1))
        self.assertTrue(h.expects_response)

    def test_response_writes_rsp_and_dst_even_when_zero(self):
        raw = H.encode_response("echo", 0, H.RetCode.NO_HANDLER, 0)
        h = H.decode(raw, 0, len(raw))
        self.assertEqual((h.rsp, h.req, h.ret_code, h.route), (0, None, 4, ("ident", 0)))

    def test_round_trip_of_every_route_and_headers(self):
        rng = random.Random(7)
        for _ in range(2000):
            route = rng.choice([rng.getrandbits(32), ("random", rng.getrandbits(32), rng.getrandbits(32)),
                                ("broadcast", rng.getrandbits(32), 0), ("multicast", [rng.getrandbits(32) for _ in range(rng.randrange(4))])])
            headers = {"k%d" % i: bytes(rng.getrandbits(8) for _ in range(rng.randrange(5))) for i in range(rng.randrange(3))}
            seq = rng.getrandbits(32)
            bt = "".join(rng.choice("abcé.") for _ in range(rng.randrange(70)))
            raw = H.encode_request(bt, seq, rng.randrange(1, 1 << 32), route, headers)
            h = H.decode(raw, 0, len(raw))
            self.assertEqual(h.body_type, bt)
            self.assertEqual(h.req, seq)
            self.assertEqual(h.headers or {}, headers)
            expected = ("ident", route) if isinstance(route, int) else route
            self.assertEqual(h.route, expected)

    def test_unknown_fields_are_skipped(self):
        raw = H.encode_notify("x", 5) + b"\x40\x07" + b"\xa2\x06\x03abc" + b"\x7d\x01\x02\x03\x04" + b"\x79" + bytes(8)
        h = H.decode(raw, 0, len(raw))
        self.assertEqual((h.body_type, h.route, h.req), ("x", ("ident", 5), None))

    def test_last_oneof_member_wins(self):
        raw = b"\x30\x05\x38\x06"
        h = H.decode(raw, 0, len(raw))
        self.assertEqual((h.req, h.rsp), (None, 6))

    def test_bad_input_is_refused(self):
        for raw, why in ((b"\x0a\x05ab", "truncated string"), (b"\x28", "truncated varint"),
                         (b"\x0a\x02\xff\xfe", "body type not UTF-8"), (b"\x0b", "group start"),
                         (b"\x0e", "wire type 6"), (b"\x00\x01", "field 0"),
                         (b"\x28" + b"\xff" * 10 + b"\x01", "varint of 11 bytes")):
            with self.assertRaises(H.DecodeError, msg=why):
                H.decode(raw, 0, len(raw))

    def test_long_varints_are_truncated_to_32_bits_as_protobuf_does(self):
        raw = b"\x28\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"
        self.assertEqual(H.decode(raw, 0, len(raw)).timeout, 0xFFFFFFFF)

    def test_idents(self):
        self.assertEqual(H.parse_ident("1.2.3.4"), 0x01020304)
        self.assertEqual(H.format_ident(0x01020304), "1.2.3.4")
        for bad in ("1.2.3", "1.2.3.256", "1.2.3.4.5", "a.b.c.d", "01234.1.1.1", "", "1..2.3", "١.2.3.4"):
            with self.assertRaises(ValueError) as e:
                H.parse_ident(bad)
            self.assertIn("is not an ident: expected four numbers 0-255 separated by dots, e.g. 0.0.0.1", str(e.exception))


if __name__ == "__main__":
    unittest.main()
