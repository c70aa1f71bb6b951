"""Log forwarding: records of the standard `logging` module as `log` notifies to the sidecar,
which writes them through its own sinks (docs/host-protocol.md section 7).

    logging.getLogger().addHandler(kaze.LogHandler(client))

Never blocks the application: a record is written into the ring at once or dropped and counted
(`client.logs_dropped`) when other packets already wait for ring space, the ring is full, the
record is larger than the ring takes, or the channel has ended. Records of the `kaze` logger
itself are never forwarded (the client's own failures must not travel the path that failed).
"""

import datetime
import json
import logging

__all__ = ["LogHandler"]

_MAX_MESSAGE = 16 * 1024
_FORMATTER = logging.Formatter()


def _level(levelno):
    if levelno >= logging.CRITICAL:
        return "Critical"
    if levelno >= logging.ERROR:
        return "Error"
    if levelno >= logging.WARNING:
        return "Warning"
    if levelno >= logging.INFO:
        return "Information"
    if levelno >= logging.DEBUG:
        return "Debug"
    return "Trace"


class LogHandler(logging.Handler):
    """A logging.Handler that forwards records to the sidecar through `client`."""

    def __init__(self, client, level=logging.NOTSET):
        super().__init__(level)
        self.client = client

    def emit(self, record):
        if record.name == "kaze" or record.name.startswith("kaze."):
            return
        try:
            message = record.getMessage()
            if len(message) > _MAX_MESSAGE:
                message = message[:_MAX_MESSAGE] + "..."
            body = {
                "level": _level(record.levelno),
                "category": record.name if record.name != "root" else "",
                "message": message,
                "timestamp": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(),
            }
            if record.exc_info:
                body["exception"] = (self.formatter or _FORMATTER).formatException(record.exc_info)[:_MAX_MESSAGE]
            self.client.try_send_log(json.dumps(body, ensure_ascii=False).encode("utf-8"))
        except Exception:
            # Never log a forwarding failure through logging: count it as a dropped record.
            self.client.logs_dropped += 1
