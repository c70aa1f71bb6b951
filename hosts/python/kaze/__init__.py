"""kaze: a host for a Kaze sidecar, in Python (standard library only, Python 3.9+, Linux x86-64/arm64).

    import kaze

    client = kaze.connect()                 # KAZE_CHANNEL, KAZE_IDENT, KAZE_SIDECAR_PID from `kaze run`

    @client.handle("echo")
    def echo(request):
        return request.body                 # the response's body

    client.start()
    print(client.call("0.0.0.1", "echo", b"hi", timeout=1.0).body)
    raise SystemExit(client.run())          # serve until kaze.exit / SIGTERM / SIGINT

The protocol is docs/host-protocol.md and docs/shm-format.md of the Kaze repository.
"""

from .channel import Endpoint
from .client import Client, Reply, Request, Response, Route, connect
from .errors import (CallError, CallTimeout, ChannelClosedError, ChannelError, ChannelFormatError,
                     ChannelInUseError, ChannelNotFoundError, ChannelVersionError, HandlerFailed,
                     KazeEnvironmentError, KazeError, NoHandler, PacketTooLargeError,
                     ResourceExhausted, SidecarGoneError, Unreachable)
from .header import RetCode, format_ident, parse_ident
from .log import LogHandler

__version__ = "0.1.0"

__all__ = [
    "connect", "Client", "Endpoint", "Request", "Reply", "Response", "Route", "RetCode", "LogHandler",
    "parse_ident", "format_ident",
    "KazeError", "KazeEnvironmentError", "ChannelError", "ChannelNotFoundError", "ChannelFormatError",
    "ChannelVersionError", "ChannelInUseError", "SidecarGoneError", "ChannelClosedError",
    "PacketTooLargeError", "CallError", "CallTimeout", "Unreachable", "ResourceExhausted", "NoHandler",
    "HandlerFailed",
]
