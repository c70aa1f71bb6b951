"""The exceptions of the kaze package: one type per outcome.

Connecting (the wording is Kaze.Host's where the condition is the same):
  KazeEnvironmentError   KAZE_CHANNEL / KAZE_IDENT / KAZE_SIDECAR_PID missing or invalid
  ChannelNotFoundError   no channel file: the sidecar is not running
  ChannelFormatError     the file is not a usable channel (names the field, expected, actual)
    ChannelVersionError  ... because its layout version is another one
  ChannelInUseError      another live host is attached
  SidecarGoneError       the sidecar is dead, or has closed the channel
  ChannelError           any other failure to open the channel (permissions, I/O)

Calls (Client.call raises them; callbacks get a Response with the code instead):
  CallError              base: `code` (a RetCode), `response`
    CallTimeout          TIMEOUT: no response in time (also a TimeoutError)
    Unreachable          UNREACHABLE: no route, or the channel ended
    ResourceExhausted    RESOURCE_EXHAUSTED: a limit was hit
    NoHandler            NO_HANDLER: the callee has no handler for the body type
    HandlerFailed        HANDLER_FAILED: the callee's handler failed
  ChannelClosedError     the client is closed or the sidecar is gone: nothing can be sent
  PacketTooLargeError    the packet is larger than a ring record (also a ValueError)
"""

from .header import RetCode


class KazeError(Exception):
    """Base of every exception of this package."""


class KazeEnvironmentError(KazeError):
    """The environment `kaze run` sets is missing or invalid. `variables` names each bad one."""

    def __init__(self, variables, message):
        super().__init__(message)
        self.variables = list(variables)


class ChannelError(KazeError):
    """The channel cannot be opened. `path` is the channel file."""

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path


class ChannelNotFoundError(ChannelError):
    def __init__(self, path):
        super().__init__("%s: no such channel (is its sidecar running? start the program under `kaze run`)" % path, path)


class ChannelFormatError(ChannelError):
    """Not a channel this code can open: `field` is `actual`, `expected` was expected."""

    def __init__(self, path, field, expected, actual):
        super().__init__("%s: not a usable Kaze channel: %s is %s, expected %s" % (path, field, actual, expected), path)
        self.field = field
        self.expected = expected
        self.actual = actual


class ChannelVersionError(ChannelFormatError):
    """The file's layout version is not the one this code speaks."""


class ChannelInUseError(ChannelError):
    def __init__(self, path, role, pid, state=None):
        if state is None:
            message = "%s: channel is in use by a live %s process, pid %d" % (path, role, pid)
        else:
            # A channel serves one host: its host came and went (state is kaze status's word).
            message = ("%s: channel already served its host, pid %d, which %s (state %s); a channel serves one host: "
                       "start the program under its own `kaze run`" % (path, pid, "closed its end" if state == "closed" else "is gone", state))
        super().__init__(message, path)
        self.owner_pid = pid


class SidecarGoneError(ChannelError):
    """The sidecar is not running (any more), or it has closed the channel."""


class ChannelClosedError(KazeError):
    """The channel has ended (closed by this side or the sidecar, or the sidecar died)."""


class PacketTooLargeError(KazeError, ValueError):
    """A packet larger than the channel carries in one record."""


class CallError(KazeError):
    """A call ended with a RetCode other than OK. `code`, `response` (a Response)."""

    def __init__(self, response, message=None):
        self.response = response
        self.code = response.code
        super().__init__(message or "call failed: %s%s" % (RetCode.name(response.code), " (local)" if response.local else ""))


class CallTimeout(CallError, TimeoutError):
    pass


class Unreachable(CallError):
    pass


class ResourceExhausted(CallError):
    pass


class NoHandler(CallError):
    pass


class HandlerFailed(CallError):
    pass


_BY_CODE = {
    RetCode.TIMEOUT: CallTimeout,
    RetCode.UNREACHABLE: Unreachable,
    RetCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    RetCode.NO_HANDLER: NoHandler,
    RetCode.HANDLER_FAILED: HandlerFailed,
}


def call_error(response):
    """The exception for a response whose code is not OK."""
    return _BY_CODE.get(response.code, CallError)(response)
