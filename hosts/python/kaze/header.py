"""The packet header (protobuf `kaze.Hdr`, docs/host-protocol.md section 2), encoded by hand.

No protobuf library is needed: the header has a dozen fields and the encoder writes only what a
host sends. The decoder accepts everything protobuf does for `Hdr` (fields in any order, the last
of a repeated scalar winning, unknown fields skipped, packed or unpacked multicast lists) and
refuses what protobuf refuses (truncated input, a body type that is not UTF-8, wire types 3, 4, 6
and 7, field number 0).

Ident helpers live here too: an ident is a uint32 written as a dotted quad, most significant
byte first ("1.2.3.4" = 0x01020304).
"""

import struct

__all__ = [
    "Header", "DecodeError", "encode_request", "encode_notify", "encode_response", "decode",
    "parse_ident", "format_ident", "PROTOCOL_VERSION", "RetCode",
]

PROTOCOL_VERSION = 1
_U32 = struct.Struct("<I")


class RetCode:
    """Values of Hdr.retCode (docs/host-protocol.md section 3). Unknown values are kept as numbers."""
    OK = 0
    UNREACHABLE = 1
    TIMEOUT = 2
    RESOURCE_EXHAUSTED = 3
    NO_HANDLER = 4
    HANDLER_FAILED = 5

    NAMES = {0: "OK", 1: "UNREACHABLE", 2: "TIMEOUT", 3: "RESOURCE_EXHAUSTED", 4: "NO_HANDLER", 5: "HANDLER_FAILED"}

    @staticmethod
    def name(code):
        return RetCode.NAMES.get(code, "RETCODE_%d" % code)


class DecodeError(ValueError):
    """Bytes that are not a packet; the message says why."""


class Header:
    """A decoded header. `req`/`rsp` are None when unset; `route` is one of:
    ("ident", n), ("random", ident, mask), ("broadcast", ident, mask), ("multicast", [n...]), or None."""

    __slots__ = ("body_type", "src_ident", "ret_code", "version", "timeout", "req", "rsp", "headers", "route")

    def __init__(self):
        self.body_type = ""
        self.src_ident = 0
        self.ret_code = 0
        self.version = 0
        self.timeout = 0
        self.req = None
        self.rsp = None
        self.headers = None
        self.route = None

    @property
    def dst_ident(self):
        r = self.route
        return r[1] if r is not None and r[0] == "ident" else 0

    @property
    def expects_response(self):
        return self.req is not None and self.timeout > 0

    def __repr__(self):
        return "Header(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.__slots__ if getattr(self, k) not in (None, 0, ""))


# --- encoding -----------------------------------------------------------------------------------

_SMALL = [bytes([i]) for i in range(128)]


def _varint(v):
    if v < 0x80:
        return _SMALL[v]
    if v < 0x4000:
        return bytes(((v & 0x7F) | 0x80, v >> 7))
    if v < 0x200000:
        return bytes(((v & 0x7F) | 0x80, ((v >> 7) & 0x7F) | 0x80, v >> 14))
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _check_u32(name, v):
    if not 0 <= v <= 0xFFFFFFFF:
        raise ValueError("%s must be a uint32, not %r" % (name, v))


_prefix_cache = {}


def _prefix(body_type):
    """Field 1 (bodyType) and field 4 (version = 1), cached per body type."""
    p = _prefix_cache.get(body_type)
    if p is None:
        raw = body_type.encode("utf-8")
        p = (b"\x0a" + _varint(len(raw)) + raw if raw else b"") + b"\x20" + _varint(PROTOCOL_VERSION)
        if len(_prefix_cache) < 1024:
            _prefix_cache[body_type] = p
    return p


def _headers(headers):
    out = b""
    for k, v in headers.items():
        kb = k.encode("utf-8")
        vb = bytes(v)
        entry = (b"\x0a" + _varint(len(kb)) + kb if kb else b"") + (b"\x12" + _varint(len(vb)) + vb if vb else b"")
        out += b"\x4a" + _varint(len(entry)) + entry
    return out


def _route(route):
    """Encodes a route: an int (dstIdent, written even when 0: it is inside a oneof) or a tuple."""
    if isinstance(route, int):
        return b"\x50" + _varint(route)
    kind = route[0]
    if kind == "ident":
        return b"\x50" + _varint(route[1])
    if kind in ("random", "broadcast"):
        ident, mask = route[1], route[2]
        _check_u32("ident", ident)
        _check_u32("mask", mask)
        inner = (b"\x08" + _varint(ident) if ident else b"") + (b"\x10" + _varint(mask) if mask else b"")
        return (b"\x5a" if kind == "random" else b"\x62") + _varint(len(inner)) + inner
    if kind == "multicast":
        idents = list(route[1])
        for i in idents:
            _check_u32("ident", i)
        packed = b"".join(_varint(i) for i in idents)
        inner = b"\x0a" + _varint(len(packed)) + packed if idents else b""
        return b"\x6a" + _varint(len(inner)) + inner
    raise ValueError("unknown route %r" % (route,))


_timeout_cache = {}


def encode_request(body_type, seq, timeout_ms, route, headers=None):
    """A request: `req` = seq (written even if 0), `timeout` > 0, the route (dstIdent 0 = this host)."""
    # bodyType, version and timeout are the same call after call: one cached prefix.
    key = (body_type, timeout_ms)
    pre = _timeout_cache.get(key)
    if pre is None:
        pre = _prefix(body_type) + b"\x28" + _varint(timeout_ms) + b"\x30"
        if len(_timeout_cache) < 1024:
            _timeout_cache[key] = pre
    if headers is None and route.__class__ is int:
        return b"".join((pre, _SMALL[seq] if seq < 0x80 else _varint(seq), b"\x50", _SMALL[route] if route < 0x80 else _varint(route)))
    h = pre + _varint(seq)
    if headers:
        h += _headers(headers)
    return h + _route(route)


def encode_notify(body_type, route, headers=None):
    """A notify: no rpcType, timeout 0."""
    h = _prefix(body_type)
    if headers:
        h += _headers(headers)
    return h + _route(route)


def encode_response(body_type, rsp, ret_code, dst_ident, headers=None):
    """A response: `rsp` = the request's `req`, `dstIdent` = the request's `srcIdent` (both written even if 0)."""
    pre = _prefix(body_type)
    if not ret_code and not headers:
        return b"".join((pre, b"\x38", _SMALL[rsp] if rsp < 0x80 else _varint(rsp), b"\x50",
                         _SMALL[dst_ident] if dst_ident < 0x80 else _varint(dst_ident)))
    h = pre
    if ret_code:
        h += b"\x18" + _varint(ret_code)
    h += b"\x38" + _varint(rsp)
    if headers:
        h += _headers(headers)
    return h + b"\x50" + _varint(dst_ident)


# --- decoding -----------------------------------------------------------------------------------

def _read_varint(buf, pos, end):
    """Reads a varint of at most 10 bytes; returns (value as uint64, new position)."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint longer than 10 bytes")


def _skip(buf, pos, end, wire):
    if wire == 0:
        return _read_varint(buf, pos, end)[1]
    if wire == 1:
        pos += 8
    elif wire == 2:
        n, pos = _read_varint(buf, pos, end)
        pos += n
    elif wire == 5:
        pos += 4
    else:
        raise DecodeError("wire type %d is not allowed here" % wire)
    if pos > end:
        raise DecodeError("truncated field")
    return pos


def _mask(buf, pos, end):
    ident = mask = 0
    while pos < end:
        tag, pos = _read_varint(buf, pos, end)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise DecodeError("field number 0")
        if wire == 0 and field in (1, 2):
            v, pos = _read_varint(buf, pos, end)
            if field == 1:
                ident = v & 0xFFFFFFFF
            else:
                mask = v & 0xFFFFFFFF
        else:
            pos = _skip(buf, pos, end, wire)
    return ident, mask


def _multicast(buf, pos, end):
    idents = []
    while pos < end:
        tag, pos = _read_varint(buf, pos, end)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise DecodeError("field number 0")
        if field == 1 and wire == 2:
            n, pos = _read_varint(buf, pos, end)
            stop = pos + n
            if stop > end:
                raise DecodeError("truncated packed list")
            while pos < stop:
                v, pos = _read_varint(buf, pos, stop)
                idents.append(v & 0xFFFFFFFF)
        elif field == 1 and wire == 0:
            v, pos = _read_varint(buf, pos, end)
            idents.append(v & 0xFFFFFFFF)
        else:
            pos = _skip(buf, pos, end, wire)
    return idents


def _entry(buf, pos, end):
    key = ""
    value = b""
    while pos < end:
        tag, pos = _read_varint(buf, pos, end)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise DecodeError("field number 0")
        if wire == 2 and field in (1, 2):
            n, pos = _read_varint(buf, pos, end)
            if pos + n > end:
                raise DecodeError("truncated header entry")
            raw = bytes(buf[pos:pos + n])
            pos += n
            if field == 1:
                try:
                    key = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise DecodeError("a header key is not UTF-8")
            else:
                value = raw
        else:
            pos = _skip(buf, pos, end, wire)
    return key, value


_body_type_cache = {}


_M32 = 0xFFFFFFFF


def decode(buf, pos, end):
    """Decodes the protobuf header in buf[pos:end] (bytes). Raises DecodeError.

    The fast path takes the fields nearly every packet has, each with a one-byte tag and values
    of at most five varint bytes; anything else (headers, other routes, unknown fields, longer
    varints, bad bytes) goes to the general decoder, which gives the same result.
    """
    start = pos
    body_type = ""
    src = ret = version = timeout = 0
    req = rsp = dst = None
    try:
        while pos < end:
            tag = buf[pos]
            if tag == 0x0A:
                n = buf[pos + 1]
                pos += 2
                stop = pos + n
                if n >= 0x80 or stop > end:
                    return _decode(buf, start, end)
                raw = buf[pos:stop]
                body_type = _body_type_cache.get(raw)
                if body_type is None:
                    return _decode(buf, start, end)
                pos = stop
                continue
            v = buf[pos + 1]
            pos += 2
            if v >= 0x80:
                v &= 0x7F
                shift = 7
                while True:
                    b = buf[pos]
                    pos += 1
                    v |= (b & 0x7F) << shift
                    if b < 0x80:
                        break
                    shift += 7
                    if shift > 28:
                        return _decode(buf, start, end)
                v &= _M32
            if tag == 0x38:
                rsp = v
                req = None
            elif tag == 0x30:
                req = v
                rsp = None
            elif tag == 0x50:
                dst = v
            elif tag == 0x10:
                src = v
            elif tag == 0x20:
                version = v
            elif tag == 0x28:
                timeout = v
            elif tag == 0x18:
                ret = v
            else:
                return _decode(buf, start, end)
    except IndexError:
        return _decode(buf, start, end)
    if pos != end:
        return _decode(buf, start, end)
    h = _new_header(Header)
    h.body_type = body_type
    h.src_ident = src
    h.ret_code = ret
    h.version = version
    h.timeout = timeout
    h.req = req
    h.rsp = rsp
    h.headers = None
    h.route = None if dst is None else ("ident", dst)
    return h


_new_header = object.__new__


def _decode(buf, pos, end):
    """The general decoder."""
    h = Header()
    while pos < end:
        tag = buf[pos]
        pos += 1
        if tag >= 0x80:
            tag, pos = _read_varint(buf, pos - 1, end)
        field = tag >> 3
        wire = tag & 7
        if wire == 0:
            v = buf[pos] if pos < end else 0x80
            if v < 0x80 and pos < end:
                pos += 1
            else:
                v, pos = _read_varint(buf, pos, end)
                v &= 0xFFFFFFFF
            if field == 6:
                h.req = v
                h.rsp = None
            elif field == 7:
                h.rsp = v
                h.req = None
            elif field == 10:
                h.route = ("ident", v)
            elif field == 5:
                h.timeout = v
            elif field == 2:
                h.src_ident = v
            elif field == 3:
                h.ret_code = v
            elif field == 4:
                h.version = v
            elif field == 0:
                raise DecodeError("field number 0")
            # other varint fields: unknown, skipped
        elif wire == 2:
            n = buf[pos] if pos < end else 0x80
            if n < 0x80 and pos < end:
                pos += 1
            else:
                n, pos = _read_varint(buf, pos, end)
            stop = pos + n
            if stop > end:
                raise DecodeError("field %d is truncated" % field)
            if field == 1:
                raw = buf[pos:stop]
                bt = _body_type_cache.get(raw)
                if bt is None:
                    try:
                        bt = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        raise DecodeError("the body type is not UTF-8")
                    if len(_body_type_cache) < 256 and n <= 64:
                        _body_type_cache[raw] = bt
                h.body_type = bt
            elif field == 9:
                k, val = _entry(buf, pos, stop)
                if h.headers is None:
                    h.headers = {}
                h.headers[k] = val
            elif field == 11 or field == 12:
                ident, mask = _mask(buf, pos, stop)
                h.route = ("random" if field == 11 else "broadcast", ident, mask)
            elif field == 13:
                h.route = ("multicast", _multicast(buf, pos, stop))
            elif field == 0:
                raise DecodeError("field number 0")
            pos = stop
        else:
            if field == 0:
                raise DecodeError("field number 0")
            pos = _skip(buf, pos, end, wire)
    if pos != end:
        raise DecodeError("truncated header")
    return h


# --- idents -------------------------------------------------------------------------------------

def parse_ident(text):
    """Parses a dotted quad; raises ValueError with Kaze's wording if it is not one."""
    parts = text.split(".") if isinstance(text, str) else []
    value = 0
    ok = len(parts) == 4
    if ok:
        for p in parts:
            if not (1 <= len(p) <= 3 and p.isascii() and p.isdigit()) or int(p) > 255:
                ok = False
                break
            value = (value << 8) | int(p)
    if not ok:
        echoed = text if len(text) <= 64 else text[:64] + "..."
        raise ValueError("'%s' is not an ident: expected four numbers 0-255 separated by dots, e.g. 0.0.0.1" % echoed)
    return value


def format_ident(value):
    return "%d.%d.%d.%d" % ((value >> 24) & 255, (value >> 16) & 255, (value >> 8) & 255, value & 255)
