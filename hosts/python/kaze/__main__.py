"""python3 -m kaze serve | call IDENT N [--in-flight K] [--size BYTES] [--timeout MS] [--json]

Run under a sidecar: `kaze run -- python3 -m kaze serve`.
"""

import argparse
import itertools
import json
import logging
import resource
import sys
import threading
import time

from . import Client, KazeError, RetCode, parse_ident

ECHO = "echo"

_EPILOG = """\
serve   answer `echo` requests (the body comes back) until the sidecar's kaze.exit, SIGTERM or
        SIGINT; exit 0, or 1 if the sidecar was lost.
call    call `echo` on IDENT N times, K in flight (default 1), with BYTES-byte bodies (default
        64) and a timeout of MS each (default 5000); check every response's body; print calls/s,
        p50 and p99 in microseconds (with --json one object: calls_per_s, p50_us, p99_us, ok,
        failed). `call` serves `echo` too, so `call <own ident> N` (or 0.0.0.0) calls itself
        through its sidecar.

exit codes: 0 all good; 1 some calls failed or the sidecar was lost; 2 usage or environment error.
Start it under a sidecar: kaze run -- python3 -m kaze serve
"""


def _echo(request):
    return request.body


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python3 -m kaze", description="A Kaze host in Python: serve echo, or call echo and measure.",
                                     epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log the client's own messages (to stderr)")
    commands = parser.add_subparsers(dest="command", metavar="{serve,call}")
    commands.required = True
    commands.add_parser("serve", help="answer echo requests until told to exit")
    call = commands.add_parser("call", help="call echo on IDENT N times and print calls/s, p50, p99")
    call.add_argument("ident", metavar="IDENT", help="the node to call, dotted (0.0.0.0 = this host)")
    call.add_argument("count", metavar="N", type=int, help="how many calls")
    call.add_argument("--in-flight", metavar="K", type=int, default=1, help="calls in flight at once (default 1)")
    call.add_argument("--size", metavar="BYTES", type=int, default=64, help="body size in bytes (default 64)")
    call.add_argument("--timeout", metavar="MS", type=int, default=5000, help="timeout of each call in ms (default 5000)")
    call.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    if args.command == "call":
        try:
            args.dst = parse_ident(args.ident)
        except ValueError as e:
            parser.error(str(e))
        if args.count < 1:
            parser.error("N is %d: expected a whole number of at least 1" % args.count)
        if args.in_flight < 1:
            parser.error("--in-flight is %d: expected at least 1" % args.in_flight)
        if args.size < 0:
            parser.error("--size is %d: expected at least 0" % args.size)
        if not 1 <= args.timeout <= 0xFFFFFFFF:
            parser.error("--timeout is %d: expected 1 to 4294967295" % args.timeout)
    return args


def _percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    i = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 1)) - 1))
    return sorted_values[i]


def _call(client, args):
    n = args.count
    k = min(args.in_flight, n)
    timeout = args.timeout / 1000.0
    template = bytes((i * 7 + 3) & 0xFF for i in range(args.size))
    latencies = [0] * n
    codes = {}
    mismatches = [0]
    issued = itertools.count()
    finished = itertools.count(1)
    all_done = threading.Event()
    perf = time.perf_counter_ns
    call_async = client.call_async
    dst = args.dst

    def issue():
        i = next(issued)
        if i >= n:
            return
        # Each body is unique in its first 4 bytes (where there is room): a crossed response fails.
        body = (i.to_bytes(4, "little") + template[4:]) if args.size >= 4 else template
        start = perf()

        def done(response):
            latencies[i] = perf() - start
            if response.code != RetCode.OK:
                codes[response.code] = codes.get(response.code, 0) + 1
                latencies[i] = -1
            elif response.body != body:
                mismatches[0] += 1
                latencies[i] = -1
            if next(finished) >= n:
                all_done.set()
            elif not client.ended:
                issue()

        call_async(dst, ECHO, body, done, timeout)

    cpu = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    for _ in range(k):
        issue()
    while not all_done.wait(0.2):
        if client.ended or client.exit_requested.is_set():
            break
    elapsed = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    done_count = sum(1 for v in latencies if v != 0)
    ok = sorted(v for v in latencies if v > 0)
    failed = n - len(ok)
    p50 = _percentile(ok, 0.50) / 1000.0
    p99 = _percentile(ok, 0.99) / 1000.0
    rate = done_count / elapsed if elapsed > 0 else 0.0
    if args.json:
        print(json.dumps({"calls_per_s": round(rate, 1), "p50_us": round(p50, 1), "p99_us": round(p99, 1),
                          "ok": len(ok), "failed": failed, "in_flight": k, "size": args.size,
                          "cpu_us_per_call": round(cpu_s / max(done_count, 1) * 1e6, 1)}))
    else:
        print("%d calls to %s, %d in flight, %d-byte bodies: %d ok in %.3f s" % (n, args.ident, k, args.size, len(ok), elapsed))
        if ok:
            print("latency µs: p50 %.1f  p99 %.1f  max %.1f" % (p50, p99, ok[-1] / 1000.0))
            print("throughput: %.0f calls/s (this process: %.1f µs of CPU per call)" % (rate, cpu_s / max(done_count, 1) * 1e6))
    if failed:
        reasons = ["%d %s" % (c, RetCode.name(code)) for code, c in sorted(codes.items())]
        if mismatches[0]:
            reasons.append("%d with a wrong body" % mismatches[0])
        if n - done_count:
            reasons.append("%d not made or not answered" % (n - done_count))
        print("kaze: %d of %d calls failed: %s" % (failed, n, ", ".join(reasons)), file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    args = _parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        client = Client.connect()
    except KazeError as e:
        print("kaze: %s" % e, file=sys.stderr)
        return 2
    try:
        client.handle(ECHO, _echo)
        if args.command == "serve":
            return client.run()
        client.start()
        return _call(client, args)
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
