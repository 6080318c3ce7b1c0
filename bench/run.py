"""Benchmark harness: our worker side by side with Celery 5, on this machine.

Started by `bench/run` (which builds the binaries and the Celery venv). Every
phase gets a fresh key prefix on a private redis-server; both systems run the
same three job kinds with the same side effect (HSETNX {prefix}:wait seq
wait; HINCRBY {prefix}:runs seq 1), so one measuring path serves both. See
bench/README.md for what each figure means.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("BENCH_BIN_DIR", os.path.join(HERE, "..", "target", "release"))
QUEUE = "default"

# The Celery side, written to a temp dir at run time (no Celery code lives in
# the repository). Same kinds, same side effect as bench/src/lib.rs.
CELERY_TASKS = r'''
import os, time
import redis
from celery import Celery

app = Celery("benchtasks", broker=os.environ["BENCH_REDIS_URL"])
app.conf.update(
    task_default_queue=os.environ.get("BENCH_QUEUE", "default"),
    worker_prefetch_multiplier=int(os.environ.get("CELERY_PREFETCH", "4")),
    task_acks_late=os.environ.get("CELERY_ACKS_LATE") == "1",
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
_r = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
_P = os.environ["BENCH_PREFIX"]


def _record(seq, t_enq, t_start):
    p = _r.pipeline(transaction=False)
    p.hsetnx(_P + ":wait", seq, t_start - t_enq)
    p.hincrby(_P + ":runs", seq, 1)
    p.execute()


@app.task(name="noop")
def noop(seq, t_enq, ms=0):
    _record(seq, t_enq, time.time())


@app.task(name="sleep_ms")
def sleep_ms(seq, t_enq, ms=0):
    t = time.time()
    time.sleep(ms / 1000.0)
    _record(seq, t_enq, t)


@app.task(name="cpu_ms")
def cpu_ms(seq, t_enq, ms=0):
    t = time.time()
    end = time.thread_time() + ms / 1000.0
    x = 0
    while time.thread_time() < end:
        x += 1
    _record(seq, t_enq, t)
'''

CELERY_ENQUEUE = r'''
import argparse, json, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtasks import app
from celery import group

a = argparse.ArgumentParser()
a.add_argument("--kind"); a.add_argument("--count", type=int); a.add_argument("--ms", type=int, default=0)
a.add_argument("--rate", type=float, default=0.0); a.add_argument("--seq-start", type=int, default=0)
a.add_argument("--batch", type=int, default=0)
o = a.parse_args()
task = app.tasks[o.kind]
start = time.time()
if o.batch:
    seq = o.seq_start
    end = o.seq_start + o.count
    while seq < end:
        n = min(o.batch, end - seq)
        group(task.s(seq + i, time.time(), o.ms) for i in range(n)).apply_async()
        seq += n
else:
    for i in range(o.count):
        if o.rate > 0:
            due = start + i / o.rate
            d = due - time.time()
            if d > 0:
                time.sleep(d)
        task.apply_async((o.seq_start + i, time.time(), o.ms))
print(json.dumps({"count": o.count, "seconds": time.time() - start}))
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(check, limit, what, every=0.002):
    deadline = time.time() + limit
    while True:
        v = check()
        if v:
            return v
        if time.time() > deadline:
            raise TimeoutError(f"timed out after {limit}s waiting for {what}")
        time.sleep(every)


def tree(pid):
    """pid and all its descendants."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cpu_seconds(pid):
    total = 0.0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
    return total


def rss_mb(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024.0


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


class System:
    """One contender: how to start its worker and how to enqueue."""

    def __init__(self, name, redis_url, workdir, venv_python):
        self.name = name
        self.redis_url = redis_url
        self.workdir = workdir
        self.python = venv_python

    def env(self, prefix, **extra):
        e = dict(os.environ, BENCH_REDIS_URL=self.redis_url, BENCH_PREFIX=prefix, BENCH_QUEUE=QUEUE,
                 RUST_LOG="warn", PYTHONPATH=self.workdir)
        e.update(extra)
        return e

    def worker_cmd(self):
        if self.name == "ours":
            return [os.path.join(BIN, "bench-worker"), "--queues", QUEUE, "--concurrency", "4"]
        celery = os.path.join(os.path.dirname(self.python), "celery")
        return [celery, "-A", "benchtasks", "worker", "-P", "prefork", "-c", "4", "-Q", QUEUE,
                "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]

    def start_worker(self, prefix, **extra):
        log = open(os.path.join(self.workdir, f"{self.name}-{prefix.replace(':', '_')}.log"), "w")
        return subprocess.Popen(self.worker_cmd(), env=self.env(prefix, **extra), cwd=self.workdir,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def enqueue(self, prefix, kind, count, ms=0, rate=0.0, seq_start=0, batch=None, inflight=None, **extra):
        if self.name == "ours":
            cmd = [os.path.join(BIN, "bench-enqueue")]
        else:
            cmd = [self.python, os.path.join(self.workdir, "celery_enqueue.py")]
        cmd += ["--kind", kind, "--count", str(count), "--ms", str(ms), "--rate", str(rate),
                f"--seq-start={seq_start}"]
        if batch:
            cmd += ["--batch", str(batch)]
        if inflight and self.name == "ours":
            cmd += ["--inflight", str(inflight)]
        out = subprocess.run(cmd, env=self.env(prefix, **extra), cwd=self.workdir, check=True,
                             capture_output=True, text=True, timeout=600)
        return json.loads(out.stdout.strip().splitlines()[-1])


def stop(proc, sig=signal.SIGTERM, limit=60):
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        return proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()


class Bench:
    def __init__(self, args, r, systems):
        self.args = args
        self.r = r
        self.systems = systems
        self.n = 2000 if args.quick else 20000

    def done(self, prefix):
        return self.r.hlen(prefix + ":runs")

    def ready(self, sysm, prefix, **extra):
        """Starts a worker and waits until it has run the seq −1 probe."""
        w = sysm.start_worker(prefix, **extra)
        sysm.enqueue(prefix, "noop", 1, seq_start=-1, **extra)
        wait_until(lambda: self.r.hexists(prefix + ":runs", -1) or w.poll() is not None, 60, "worker start")
        if w.poll() is not None:
            raise RuntimeError(f"{sysm.name} worker exited at start")
        return w

    def drain(self, sysm, kind, n, ms=0):
        """Pre-enqueues n jobs, then starts a worker and times the drain from
        the first run to the last; returns rate, CPU per job and RSS."""
        prefix = f"bench:drain:{kind}:{sysm.name}"
        self.r.flushdb()
        sysm.enqueue(prefix, kind, n, ms=ms, batch=1000)
        w = sysm.start_worker(prefix)
        try:
            wait_until(lambda: self.done(prefix) >= 1, 120, "the first job")
            t0, c0 = time.time(), cpu_seconds(w.pid)
            wait_until(lambda: self.done(prefix) >= n, 600, "the drain", every=0.001)
            dt, cpu = time.time() - t0, cpu_seconds(w.pid) - c0
            rss = rss_mb(w.pid)
        finally:
            stop(w)
        runs = self.r.hgetall(prefix + ":runs")
        return {"jobs_per_s": n / dt, "seconds": dt, "cpu_ms_per_job": 1000.0 * cpu / n,
                "rss_after_mb": rss, "duplicates": sum(1 for v in runs.values() if int(v) > 1)}

    def idle_rss(self, sysm):
        prefix = f"bench:idle:{sysm.name}"
        self.r.flushdb()
        w = self.ready(sysm, prefix)
        try:
            # Let start-up allocations settle: sample until two readings agree.
            prev = -1.0
            for _ in range(50):
                cur = rss_mb(w.pid)
                if abs(cur - prev) < 0.05:
                    break
                prev = cur
                time.sleep(0.1)
            return cur
        finally:
            stop(w)

    def enqueue_rate(self, sysm):
        res = {}
        for label, kw in [("one_per_call", {}), ("batched", {"batch": 1000})]:
            prefix = f"bench:enq:{sysm.name}"
            self.r.flushdb()
            out = sysm.enqueue(prefix, "noop", self.n, **kw)
            res[label] = self.n / out["seconds"]
        if sysm.name == "ours":
            self.r.flushdb()
            out = sysm.enqueue("bench:enq:ours1", "noop", self.n, inflight=1)
            res["one_per_call_sequential"] = self.n / out["seconds"]
        return res

    def latency(self, sysm):
        prefix = f"bench:lat:{sysm.name}"
        self.r.flushdb()
        w = self.ready(sysm, prefix)
        n = 400 if self.args.quick else 2000
        try:
            sysm.enqueue(prefix, "noop", n, rate=200.0)
            wait_until(lambda: self.done(prefix) >= n + 1, 60, "the latency run")
        finally:
            stop(w)
        waits = [float(v) * 1000.0 for k, v in self.r.hgetall(prefix + ":wait").items() if int(k) >= 0]
        return {"p50_ms": pct(waits, 0.50), "p99_ms": pct(waits, 0.99), "max_ms": max(waits), "jobs": len(waits)}

    def crash(self, sysm):
        """SIGKILL of the worker's process group mid-run, then a new worker:
        lost and duplicated jobs, and the time until every job has run."""
        prefix = f"bench:crash:{sysm.name}"
        self.r.flushdb()
        n = 1000 if self.args.quick else 5000
        extra = {"CELERY_ACKS_LATE": "1", "CELERY_PREFETCH": "1"} if sysm.name == "celery" else {}
        w = self.ready(sysm, prefix, **extra)
        sysm.enqueue(prefix, "sleep_ms", n, ms=5, batch=1000, **extra)
        wait_until(lambda: self.done(prefix) >= n // 5, 120, "a fifth of the crash run")
        stop(w, signal.SIGKILL)
        t_kill = time.time()
        at_kill = self.done(prefix)
        w2 = sysm.start_worker(prefix, **extra)
        limit = 60
        try:
            wait_until(lambda: self.done(prefix) >= n + 1, limit, "recovery", every=0.01)
            recovery = time.time() - t_kill
        except TimeoutError:
            recovery = None
        finally:
            stop(w2)
        runs = {int(k): int(v) for k, v in self.r.hgetall(prefix + ":runs").items()}
        lost = sum(1 for s in range(n) if s not in runs)
        dupes = sum(1 for s in range(n) if runs.get(s, 0) > 1)
        return {"jobs": n, "done_at_kill": at_kill, "lost": lost, "duplicated": dupes,
                "recovery_s": recovery, "waited_s": limit}

    def run(self):
        results = {}
        for s in self.systems:
            print(f"== {s.name}", flush=True)
            res = {}
            res["idle_rss_mb"] = self.idle_rss(s)
            print(f"  idle RSS {res['idle_rss_mb']:.1f} MB", flush=True)
            res["drain_noop"] = self.drain(s, "noop", self.n)
            print(f"  drain noop {res['drain_noop']['jobs_per_s']:.0f}/s", flush=True)
            sleeps = 800 if self.args.quick else 4000
            res["drain_sleep10"] = self.drain(s, "sleep_ms", sleeps, ms=10)
            res["drain_sleep10"]["efficiency"] = res["drain_sleep10"]["jobs_per_s"] / 400.0
            print(f"  sleep(10ms) {res['drain_sleep10']['jobs_per_s']:.0f}/s", flush=True)
            res["enqueue"] = self.enqueue_rate(s)
            print(f"  enqueue {res['enqueue']}", flush=True)
            res["latency_200"] = self.latency(s)
            print(f"  latency {res['latency_200']}", flush=True)
            res["crash"] = self.crash(s)
            print(f"  crash {res['crash']}", flush=True)
            results[s.name] = res
        return results


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def table(results):
    ours, cel = results.get("ours", {}), results.get("celery", {})

    def g(res, *path):
        for p in path:
            if not isinstance(res, dict) or p not in res:
                return None
            res = res[p]
        return res

    drain_o, drain_c = g(ours, "drain_noop", "jobs_per_s"), g(cel, "drain_noop", "jobs_per_s")
    ratio = drain_o / drain_c if drain_o and drain_c else None
    rec_o = g(ours, "crash", "recovery_s")
    rows = [
        ("drain, 20k no-op jobs, -c 4 (jobs/s)", drain_o, drain_c, ",.0f", "≥ 25,000 and ≥ 20× Celery",
         drain_o is not None and drain_o >= 25000 and (ratio is None or ratio >= 20)),
        ("drain ratio ours / Celery", ratio, None, ".1f", "≥ 20×", ratio is not None and ratio >= 20),
        ("enqueue, one call per job, 16 in flight (jobs/s)", g(ours, "enqueue", "one_per_call"), None, ",.0f",
         "≥ 10,000", (g(ours, "enqueue", "one_per_call") or 0) >= 10000),
        ("enqueue, one call per job, sequential (jobs/s)", g(ours, "enqueue", "one_per_call_sequential"),
         g(cel, "enqueue", "one_per_call"), ",.0f", "", None),
        ("enqueue, batched by 1,000 (jobs/s)", g(ours, "enqueue", "batched"), g(cel, "enqueue", "batched"), ",.0f",
         "≥ 100,000", (g(ours, "enqueue", "batched") or 0) >= 100000),
        ("enqueue→start p50 at 200 jobs/s (ms)", g(ours, "latency_200", "p50_ms"), g(cel, "latency_200", "p50_ms"),
         ".2f", "", None),
        ("enqueue→start p99 at 200 jobs/s (ms)", g(ours, "latency_200", "p99_ms"), g(cel, "latency_200", "p99_ms"),
         ".2f", "≤ 5", (g(ours, "latency_200", "p99_ms") or 1e9) <= 5),
        ("sleep(10 ms) jobs/s (ceiling 400)", g(ours, "drain_sleep10", "jobs_per_s"),
         g(cel, "drain_sleep10", "jobs_per_s"), ",.0f", "", None),
        ("sleep(10 ms) efficiency", g(ours, "drain_sleep10", "efficiency"), g(cel, "drain_sleep10", "efficiency"),
         ".1%", "", None),
        ("worker CPU per no-op job (ms)", g(ours, "drain_noop", "cpu_ms_per_job"),
         g(cel, "drain_noop", "cpu_ms_per_job"), ".3f", "", None),
        ("RSS idle (MB)", g(ours, "idle_rss_mb"), g(cel, "idle_rss_mb"), ".1f", "≤ 15",
         (g(ours, "idle_rss_mb") or 1e9) <= 15),
        ("RSS after the drain (MB)", g(ours, "drain_noop", "rss_after_mb"), g(cel, "drain_noop", "rss_after_mb"),
         ".1f", "", None),
        ("SIGKILL: jobs lost", g(ours, "crash", "lost"), g(cel, "crash", "lost"), "d", "0",
         g(ours, "crash", "lost") == 0),
        ("SIGKILL: jobs run twice", g(ours, "crash", "duplicated"), g(cel, "crash", "duplicated"), "d", "", None),
        ("SIGKILL: every job done after (s)", rec_o, g(cel, "crash", "recovery_s"), ".1f", "≤ 10",
         rec_o is not None and rec_o <= 10),
    ]
    lines = ["| measure | ours | Celery 5 prefork -c 4 | target | met |", "|---|---:|---:|---|---|"]
    for name, o, c, spec, target, met in rows:
        m = "" if met is None else ("yes" if met else "**no**")
        cs = fmt(c, spec)
        if name.startswith("SIGKILL: every") and cel and c is None:
            cs = f"not within {g(cel, 'crash', 'waited_s')} s"
        lines.append(f"| {name} | {fmt(o, spec)} | {cs if cel else '-'} | {target} | {m} |")
    return "\n".join(lines)


def versions(venv_python):
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except Exception:  # noqa: BLE001 - a missing tool is reported, not fatal
            return "unknown"
    celery = os.path.join(os.path.dirname(venv_python), "celery")
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        mem_gb = int(f.readline().split()[1]) / 1024 / 1024
    return {
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, {cpu}, {mem_gb:.0f} GiB, {platform.platform()}",
        "rustc": out(["rustc", "--version"]),
        "redis": out(["redis-server", "--version"]),
        "celery": out([celery, "--version"]),
        "python": platform.python_version(),
    }


def write_results(path, info, tab, args):
    with open(path, "w") as f:
        f.write(f"""# Benchmark results

Measured {info['date']} by `bench/run{' --quick' if args.quick else ''} --write-results` (see
[README.md](README.md) for what each figure means and how it is taken).

- machine: {info['machine']}
- {info['rustc']}; {info['redis']}
- Celery {info['celery']} on Python {info['python']}, prefork pool `-c 4`
- one private `redis-server` on 127.0.0.1 for both; each system alone on the machine while it runs

Command lines:
- ours: `bench-worker --queues default --concurrency 4`; `bench-enqueue --kind K --count N [--batch 1000 | --rate 200 | --inflight 1]`
- Celery: `celery -A benchtasks worker -P prefork -c 4 -Q default --without-gossip --without-mingle --without-heartbeat`,
  defaults (prefetch multiplier 4, early ack) except in the SIGKILL run, which uses `task_acks_late=True`
  and `worker_prefetch_multiplier=1` (Celery's at-least-once set-up); enqueue with `apply_async` per job,
  batched with `group(...).apply_async()`.

{tab}
""")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    ap.add_argument("--only", choices=["ours", "celery"], help="run one side only")
    ap.add_argument("--write-results", action="store_true", help="rewrite bench/RESULTS.md")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="paq-bench-")
    with open(os.path.join(workdir, "benchtasks.py"), "w") as f:
        f.write(CELERY_TASKS)
    with open(os.path.join(workdir, "celery_enqueue.py"), "w") as f:
        f.write(CELERY_ENQUEUE)
    port = free_port()
    rs = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    r = redis.Redis.from_url(url)
    try:
        wait_until(lambda: _ping(r), 10, "redis-server")
        names = [args.only] if args.only else ["ours", "celery"]
        systems = [System(n, url, workdir, sys.executable) for n in names]
        results = Bench(args, r, systems).run()
    finally:
        rs.terminate()
        rs.wait()
    info = versions(sys.executable)
    tab = table(results)
    print()
    print(tab)
    out_dir = os.path.join(HERE, "out")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"info": info, "results": results}, f, indent=2, default=str)
    if args.write_results:
        write_results(os.path.join(HERE, "RESULTS.md"), info, tab, args)
    shutil.rmtree(workdir, ignore_errors=True)


def _ping(r):
    try:
        return r.ping()
    except redis.exceptions.ConnectionError:
        return False


if __name__ == "__main__":
    main()
