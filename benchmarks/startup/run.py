#!/usr/bin/env python3
"""Start-up and idle memory of two kaze builds, interleaved (docs/benchmarks.md, "Native AOT").

usage: run.py [--rounds N] NAME=KAZE [NAME=KAZE ...]
  e.g. run.py aot=DIR/kaze jit=DIR/jit/kaze

Per round and build: `kaze run --metrics off -- true` timed 10 times (wall, from fork to exit);
then `kaze run --metrics off -- sleep 30`, the sidecar's VmRSS read 5 s after its start.
Prints the median and range of each figure per build, and writes them as JSON to stdout's last line.
"""
import json
import os
import statistics
import subprocess
import sys
import time


def wall_ms(kaze):
    start = time.perf_counter_ns()
    subprocess.run([kaze, "run", "--metrics", "off", "--", "true"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    return (time.perf_counter_ns() - start) / 1e6


def idle_rss_mb(kaze):
    p = subprocess.Popen([kaze, "run", "--metrics", "off", "--", "sleep", "30"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)
        if p.poll() is not None:
            raise RuntimeError(f"{kaze} run -- sleep 30 exited {p.returncode} early")
        with open(f"/proc/{p.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")
    finally:
        p.terminate()
        p.wait(timeout=20)


def main(argv):
    rounds = 5
    if len(argv) >= 2 and argv[0] == "--rounds":
        rounds = int(argv[1])
        argv = argv[2:]
    builds = [a.split("=", 1) for a in argv]
    if not builds or any(len(b) != 2 or not os.access(b[1], os.X_OK) for b in builds):
        print(__doc__, file=sys.stderr)
        return 2
    walls = {name: [] for name, _ in builds}
    rss = {name: [] for name, _ in builds}
    for name, kaze in builds:  # warm the page cache
        wall_ms(kaze)
    for _ in range(rounds):
        for name, kaze in builds:
            walls[name] += [wall_ms(kaze) for _ in range(10)]
            rss[name].append(idle_rss_mb(kaze))
    result = {}
    for name, _ in builds:
        w, r = walls[name], rss[name]
        print(f"{name}: kaze run -- true: median {statistics.median(w):.1f} ms ({min(w):.1f}-{max(w):.1f}, {len(w)} runs); "
              f"idle RSS of kaze run -- sleep 30: median {statistics.median(r):.1f} MB ({min(r):.1f}-{max(r):.1f}, {len(r)} runs)")
        result[f"{name}_run_true_wall_ms"] = round(statistics.median(w), 2)
        result[f"{name}_idle_rss_mb"] = round(statistics.median(r), 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
