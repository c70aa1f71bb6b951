"""The Python host beside the .NET Echo, in the same run, under real `kaze run`s.

    python3 hosts/python/benchmark.py [--calls N] [--rounds R] [--idle-seconds S] [--json FILE]
                                      [--kaze PATH] [--echo PATH]

Each round, interleaved: the .NET Echo and the Python host each call themselves through their
sidecar N times with one call in flight, then with 16 in flight (64-byte bodies); then each
serves with nothing to do while its CPU time (every thread's, from
/proc/PID/task/*/schedstat) is sampled for S seconds after a 3 s settling time. Prints one table and,
with --json, every figure. The CPU time the hypervisor stole during each phase is reported
(from /proc/stat), so a noisy run can be told apart. Run it alone on the machine: figures from
a busy machine say little.
"""

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _default(*parts):
    for config in ("Release", "Debug"):
        path = os.path.join(REPO, *[p.replace("{c}", config) for p in parts])
        if os.path.exists(path):
            return path
    return None


def _steal():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[7] if len(fields) > 7 else 0, sum(fields)


def _steal_percent(before, after):
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total > 0 else 0.0


def _env(name):
    env = dict(os.environ)
    env.update({"KAZE_CHANNEL__NAME": name, "KAZE_METRICS__LISTEN": "off", "PYTHONPATH": HERE})
    return env


def _run_call(args, label, command, parse):
    name = "bench-%s-%d" % (label, os.getpid())
    before = _steal()
    p = subprocess.run([args.kaze, "run", "--listen", "off", "--"] + command, env=_env(name),
                       capture_output=True, text=True, timeout=600)
    after = _steal()
    if p.returncode != 0:
        raise SystemExit("%s failed (exit %d): %s%s" % (label, p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    result = parse(p.stdout)
    result["steal_percent"] = round(_steal_percent(before, after), 1)
    return result


def _parse_echo(out):
    m = re.search(r"p50 ([\d.]+)\s+p99 ([\d.]+)", out)
    t = re.search(r"throughput: (\d+) calls/s", out)
    return {"p50_us": float(m.group(1)), "p99_us": float(m.group(2)), "calls_per_s": float(t.group(1))}


def _parse_python(out):
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    r = json.loads(line)
    return {"p50_us": r["p50_us"], "p99_us": r["p99_us"], "calls_per_s": r["calls_per_s"], "cpu_us_per_call": r["cpu_us_per_call"]}


def _children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _cpu_seconds(pid):
    """CPU time of every thread of `pid`, from /proc/PID/task/*/schedstat (ns; /proc/PID/stat
    counts 10 ms ticks, too coarse for a process that is nearly idle)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def _stat_seconds(pid):
    """utime + stime of `pid` from /proc/PID/stat: 10 ms ticks, but threads that ended count too."""
    with open("/proc/%d/stat" % pid) as f:
        text = f.read()
    fields = text[text.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _idle(args, label, command):
    """% of one core the host (not its sidecar) uses while serving with nothing to do."""
    name = "bench-idle-%s-%d" % (label, os.getpid())
    kaze = subprocess.Popen([args.kaze, "run", "--listen", "off", "--"] + command, env=_env(name),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        host = None
        while host is None and time.monotonic() < deadline:
            kids = _children(kaze.pid)
            host = kids[0] if kids else None
            time.sleep(0.05)
        if host is None:
            raise SystemExit("%s: no host process appeared under kaze" % label)
        time.sleep(3.0)  # connect, JIT, first liveness checks
        before = _steal()
        c0, s0, k0, t0 = _cpu_seconds(host), _stat_seconds(host), _stat_seconds(kaze.pid), time.monotonic()
        time.sleep(args.idle_seconds)
        c1, s1, k1, t1 = _cpu_seconds(host), _stat_seconds(host), _stat_seconds(kaze.pid), time.monotonic()
        after = _steal()
        return {"host_cpu_percent": round(100.0 * (c1 - c0) / (t1 - t0), 4),
                "host_cpu_percent_ticks": round(100.0 * (s1 - s0) / (t1 - t0), 2),
                "sidecar_cpu_percent": round(100.0 * (k1 - k0) / (t1 - t0), 2),
                "steal_percent": round(_steal_percent(before, after), 1)}
    finally:
        kaze.send_signal(signal.SIGTERM)
        try:
            kaze.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(kaze.pid, signal.SIGKILL)
            kaze.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000, help="calls per measurement (default 20000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle sampling window (default 10)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--kaze", default=_default("src", "Kaze.Cli", "bin", "{c}", "net10.0", "kaze"))
    parser.add_argument("--echo", default=_default("examples", "Echo", "bin", "{c}", "net10.0", "Kaze.Echo"))
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--only", choices=("calls", "idle"), help="only the calls, or only the idle phases")
    args = parser.parse_args()
    if not args.kaze or not args.echo:
        raise SystemExit("build kaze and examples/Echo first (dotnet build -c Release Kaze.sln), or pass --kaze/--echo")

    py = [args.python, "-m", "kaze"]
    results = {"echo_1": [], "python_1": [], "echo_16": [], "python_16": [], "echo_idle": [], "python_idle": []}
    for r in range(args.rounds):
        print("round %d/%d" % (r + 1, args.rounds), file=sys.stderr)
        n = str(args.calls)
        if args.only != "idle":
            results["echo_1"].append(_run_call(args, "echo1", [args.echo, "call", "0.0.0.1", n], _parse_echo))
            results["python_1"].append(_run_call(args, "py1", py + ["call", "0.0.0.1", n, "--json"], _parse_python))
            results["echo_16"].append(_run_call(args, "echo16", [args.echo, "call", "0.0.0.1", n, "--pipeline", "16"], _parse_echo))
            results["python_16"].append(_run_call(args, "py16", py + ["call", "0.0.0.1", n, "--in-flight", "16", "--json"], _parse_python))
        if args.only != "calls":
            results["echo_idle"].append(_idle(args, "echo", [args.echo, "serve"]))
            results["python_idle"].append(_idle(args, "py", py + ["serve"]))

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)

    def med(key, field):
        values = [x[field] for x in results[key]]
        return statistics.median(values) if values else float("nan")

    def rng(key, field):
        values = [x[field] for x in results[key]]
        return "%s–%s" % (min(values), max(values)) if values else "-"

    print("| figure | .NET Echo (median; range) | Python host (median; range) |")
    print("|---|---|---|")
    print("| 1 in flight, p50 µs | %.1f; %s | %.1f; %s |" % (med("echo_1", "p50_us"), rng("echo_1", "p50_us"), med("python_1", "p50_us"), rng("python_1", "p50_us")))
    print("| 1 in flight, p99 µs | %.1f; %s | %.1f; %s |" % (med("echo_1", "p99_us"), rng("echo_1", "p99_us"), med("python_1", "p99_us"), rng("python_1", "p99_us")))
    print("| 1 in flight, calls/s | %.0f; %s | %.0f; %s |" % (med("echo_1", "calls_per_s"), rng("echo_1", "calls_per_s"), med("python_1", "calls_per_s"), rng("python_1", "calls_per_s")))
    print("| 16 in flight, calls/s | %.0f; %s | %.0f; %s |" % (med("echo_16", "calls_per_s"), rng("echo_16", "calls_per_s"), med("python_16", "calls_per_s"), rng("python_16", "calls_per_s")))
    print("| 16 in flight, p50 µs | %.1f; %s | %.1f; %s |" % (med("echo_16", "p50_us"), rng("echo_16", "p50_us"), med("python_16", "p50_us"), rng("python_16", "p50_us")))
    print("| host CPU per call, µs (16 in flight) | - | %.1f; %s |" % (med("python_16", "cpu_us_per_call"), rng("python_16", "cpu_us_per_call")))
    print("| idle host, %% of a core (schedstat, ns) | %.3f; %s | %.3f; %s |" % (med("echo_idle", "host_cpu_percent"), rng("echo_idle", "host_cpu_percent"), med("python_idle", "host_cpu_percent"), rng("python_idle", "host_cpu_percent")))
    print("| idle host, %% of a core, from 10 ms ticks (counts ended threads) | %.2f; %s | %.2f; %s |" % (med("echo_idle", "host_cpu_percent_ticks"), rng("echo_idle", "host_cpu_percent_ticks"), med("python_idle", "host_cpu_percent_ticks"), rng("python_idle", "host_cpu_percent_ticks")))
    print("| idle sidecar beside it, %% of a core | %.2f; %s | %.2f; %s |" % (med("echo_idle", "sidecar_cpu_percent"), rng("echo_idle", "sidecar_cpu_percent"), med("python_idle", "sidecar_cpu_percent"), rng("python_idle", "sidecar_cpu_percent")))
    steals = [x["steal_percent"] for v in results.values() for x in v]
    print("steal: max %.1f %% over all phases" % max(steals))


if __name__ == "__main__":
    main()
