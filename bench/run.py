"""Benchmark harness: our worker side by side with Celery 5, on this machine.

Started by `bench/run` (which builds the binaries and the Celery venv). It
starts its own redis-server on a free port of 127.0.0.1, and every phase gets
a fresh key prefix on an emptied database. Both systems run the same three
job kinds with the same side effect (HSETNX {prefix}:wait seq wait; HINCRBY
{prefix}:runs seq 1, one pipeline), so one measuring path serves both. See
bench/README.md for what each figure means.
"""

import argparse
import base64
import datetime
import json
import math
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import redis

import results_md
from celery_side import CELERY_ENQUEUE, CELERY_TASKS

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("BENCH_BIN_DIR", os.path.join(HERE, "..", "target", "release"))
QUEUE = "default"
CONCURRENCY = 4
HARD_LIMIT_S = 1800  # the whole run stops by itself, whatever happens


# ---------------------------------------------------------------- helpers

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def clean_up(procs, workdir, logs):
    """The end of a harness run, whatever happened: stops every process it
    started (ignoring further signals meanwhile), keeps the workers' logs in
    `logs` (under bench/out, not committed) and removes the temp dir."""
    signal.alarm(0)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # let the clean-up finish
    procs.stop_all()
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs, exist_ok=True)
    for name in os.listdir(workdir):
        if name.endswith(".log"):
            shutil.copy(os.path.join(workdir, name), logs)
    shutil.rmtree(workdir, ignore_errors=True)


def wait_until(check, limit, what, every=0.002):
    """Polls check() until it is true; raises TimeoutError after limit s."""
    deadline = time.time() + limit
    while True:
        v = check()
        if v:
            return v
        if time.time() > deadline:
            raise TimeoutError(f"timed out after {limit}s waiting for {what}")
        time.sleep(every)


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def tree(pid):
    """pid and all its descendants."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                kids.setdefault(int(_stat(d)[1]), []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid, with_children=True):
    """utime + stime of pid (and its live descendants)."""
    total = 0.0
    for p in (tree(pid) if with_children else [pid]):
        try:
            f = _stat(p)
            total += (int(f[11]) + int(f[12])) / TCK
        except (OSError, IndexError, ValueError):
            pass
    return total


def machine_busy():
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def own_cpu_seconds():
    """CPU of this harness and everything it started: its own time, the
    time of its finished children (cutime, cstime) and of its live
    descendants."""
    total = 0.0
    for p in tree(os.getpid()):
        try:
            f = _stat(p)
            total += sum(int(x) for x in f[11:15]) / TCK
        except (OSError, IndexError, ValueError):
            pass
    return total


class Foreign:
    """How much of the machine other processes (not the harness and what it
    started) used over a window: a busy machine skews every figure."""

    def __init__(self):
        self.t, self.m, self.o = time.time(), machine_busy(), own_cpu_seconds()

    def share(self):
        m, o = machine_busy(), own_cpu_seconds()
        total = (m[1] - self.m[1]) / TCK
        if total <= 0:
            return 0.0
        return max(0.0, ((m[0] - self.m[0]) / TCK - (o - self.o)) / total)


def wait_for_quiet(limit, threshold=0.10, window=1.0):
    """Waits (at most limit s) until other processes use under threshold of
    the machine over a window; returns the last share seen."""
    deadline = time.time() + limit
    while True:
        f = Foreign()
        time.sleep(window)
        share = f.share()
        if share < threshold or time.time() > deadline:
            return share


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
    """Nearest-rank percentile."""
    if not values:
        return None
    v = sorted(values)
    return v[max(0, math.ceil(q * len(v)) - 1)]


# ---------------------------------------------------------------- processes

class Procs:
    """Everything the harness started, so that any exit stops all of it."""

    def __init__(self):
        self.live = []

    def spawn(self, cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        self.live.append(p)
        return p

    def stop(self, proc, sig=signal.SIGTERM, limit=60, group=True):
        if proc.poll() is None:
            try:
                if group:
                    os.killpg(proc.pid, sig)
                else:
                    proc.send_signal(sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        if group:
            # A dead leader may leave pool children behind: clear the group.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc in self.live:
            self.live.remove(proc)
        return proc.returncode

    def stop_all(self):
        for p in list(self.live):
            try:
                self.stop(p, limit=15, group=getattr(p, "own_group", True))
            except Exception as e:  # noqa: BLE001 - best effort on the way out
                print(f"warning: could not stop pid {p.pid}: {e}", file=sys.stderr)


class System:
    """One contender: how to start its worker and how to enqueue."""

    def __init__(self, name, redis_url, workdir, venv_python, procs, log):
        self.name = name
        self.redis_url = redis_url
        self.workdir = workdir
        self.python = venv_python
        self.procs = procs
        self.log = log  # command lines run, for RESULTS.md

    def env(self, prefix, extra):
        e = dict(os.environ, BENCH_REDIS_URL=self.redis_url, BENCH_PREFIX=prefix, BENCH_QUEUE=QUEUE,
                 RUST_LOG="warn", PYTHONPATH=self.workdir)
        e.update(extra)
        return e

    def _note(self, cmd, prefix, extra):
        shown = " ".join(shlex.quote(c) for c in cmd)
        shown = shown.replace(os.path.abspath(BIN) + "/", "").replace(self.workdir + "/", "$TMP/")
        shown = shown.replace(os.path.dirname(self.python) + "/", "")
        envs = " ".join(f"{k}={v}" for k, v in [("BENCH_PREFIX", prefix), *extra.items()])
        self.log.append(f"{envs} {shown}")

    def worker_cmd(self):
        if self.name == "ours":
            return [os.path.join(os.path.abspath(BIN), "bench-worker"), "--queues", QUEUE,
                    "--concurrency", str(CONCURRENCY)]
        celery = os.path.join(os.path.dirname(self.python), "celery")
        return [celery, "-A", "benchtasks", "worker", "-P", "prefork", "-c", str(CONCURRENCY), "-Q", QUEUE,
                "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]

    def start_worker(self, prefix, extra=None):
        extra = extra or {}
        cmd = self.worker_cmd()
        self._note(cmd, prefix, extra)
        log = open(os.path.join(self.workdir, f"{self.name}-{prefix.replace(':', '_')}.log"), "a")
        # start_new_session: the worker leads its own process group, so
        # SIGKILL to the group reaches Celery's pool children too.
        return self.procs.spawn(cmd, env=self.env(prefix, extra), cwd=self.workdir, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def enqueue(self, prefix, kind, count, ms=0, rate=0.0, seq_start=0, batch=None, inflight=None,
                extra=None):
        extra = extra or {}
        if self.name == "ours":
            cmd = [os.path.join(os.path.abspath(BIN), "bench-enqueue")]
        else:
            cmd = [self.python, os.path.join(self.workdir, "celery_enqueue.py")]
        cmd += ["--kind", kind, "--count", str(count), "--ms", str(ms), "--rate", str(rate),
                f"--seq-start={seq_start}"]
        if batch:
            cmd += ["--batch", str(batch)]
        if inflight and self.name == "ours":
            cmd += ["--inflight", str(inflight)]
        self._note(cmd, prefix, extra)
        out = subprocess.run(cmd, env=self.env(prefix, extra), cwd=self.workdir, capture_output=True,
                             text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}: {out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- phases

class Bench:
    def __init__(self, args, r, redis_pid, systems, procs):
        self.args = args
        self.r = r
        self.redis_pid = redis_pid
        self.systems = systems
        self.procs = procs
        q = args.quick
        self.n_drain = 2000 if q else 20000
        self.n_enqueue = 2000 if q else 20000
        self.n_sleep = 800 if q else 4000
        self.n_latency = 400 if q else 2000
        self.n_crash = 1000 if q else 5000
        self.crash_wait = 30 if q else 60
        self.quiet_wait = args.quiet_wait
        self.foreign = {}  # system -> phase -> share of the machine other processes used

    def done(self, prefix):
        return self.r.hlen(prefix + ":runs")

    def fresh(self, prefix):
        self.r.flushdb()
        return prefix

    def ready(self, sysm, prefix, extra=None):
        """Starts a worker and waits until it has run the seq −1 probe."""
        w = sysm.start_worker(prefix, extra)
        sysm.enqueue(prefix, "noop", 1, seq_start=-1, extra=extra)
        wait_until(lambda: self.r.hexists(prefix + ":runs", -1) or w.poll() is not None, 60,
                   f"{sysm.name} worker readiness (noop seq -1)")
        if w.poll() is not None:
            raise RuntimeError(f"{sysm.name} worker exited at start (code {w.returncode})")
        return w

    def drain(self, sysm, kind, n, ms=0):
        """Pre-enqueues n jobs, then starts a worker; the clock runs from the
        first job's run to the last's. Also CPU (worker tree, redis-server,
        whole machine) over that window and RSS right after."""
        prefix = self.fresh(f"bench:drain-{kind}:{sysm.name}")
        sysm.enqueue(prefix, kind, n, ms=ms, batch=1000)
        t_spawn = time.time()
        w = sysm.start_worker(prefix)
        try:
            wait_until(lambda: self.done(prefix) >= 1 or w.poll() is not None, 120, "the first job")
            if w.poll() is not None:
                raise RuntimeError(f"{sysm.name} worker exited (code {w.returncode})")
            t0, c0, rc0, m0 = time.time(), cpu_seconds(w.pid), cpu_seconds(self.redis_pid, False), machine_busy()
            d0 = self.done(prefix)
            wait_until(lambda: self.done(prefix) >= n, 300, f"the {kind} drain", every=0.005)
            t1 = time.time()
            cpu, rcpu, m1 = cpu_seconds(w.pid) - c0, cpu_seconds(self.redis_pid, False) - rc0, machine_busy()
            rss = rss_mb(w.pid)
        finally:
            self.procs.stop(w)
        runs = self.r.hgetall(prefix + ":runs")
        jobs = n - d0  # jobs run inside the timed window
        dt = t1 - t0
        return {"jobs": n, "jobs_per_s": jobs / dt, "seconds": dt, "seconds_from_spawn": t1 - t_spawn,
                "cpu_ms_per_job": 1000.0 * cpu / jobs, "redis_cpu_ms_per_job": 1000.0 * rcpu / jobs,
                "machine_busy": (m1[0] - m0[0]) / max(1, m1[1] - m0[1]),
                "rss_after_mb": rss, "duplicates": sum(1 for v in runs.values() if int(v) > 1)}

    def idle_rss(self, sysm):
        prefix = self.fresh(f"bench:idle:{sysm.name}")
        w = self.ready(sysm, prefix)
        try:
            # Start-up allocations settle: sample until two readings 0.1 s
            # apart agree within 50 kB (at most 5 s).
            prev, cur = -1.0, 0.0
            for _ in range(50):
                cur = rss_mb(w.pid)
                if abs(cur - prev) < 0.05:
                    break
                prev = cur
                time.sleep(0.1)
            return cur
        finally:
            self.procs.stop(w)

    def enqueue_rate(self, sysm):
        n = self.n_enqueue
        res = {}
        runs = [("one_per_call", "enq-one", {}), ("batched", "enq-batch", {"batch": 1000})]
        if sysm.name == "ours":
            runs.insert(1, ("one_per_call_sequential", "enq-seq", {"inflight": 1}))
        for label, tag, kw in runs:
            prefix = self.fresh(f"bench:{tag}:{sysm.name}")
            out = sysm.enqueue(prefix, "noop", n, **kw)
            res[label] = n / out["seconds"]
        return res

    def latency(self, sysm):
        prefix = self.fresh(f"bench:latency:{sysm.name}")
        n = self.n_latency
        w = self.ready(sysm, prefix)
        try:
            sysm.enqueue(prefix, "noop", n, rate=200.0)
            wait_until(lambda: self.done(prefix) >= n + 1, 60, "the latency run")
        finally:
            self.procs.stop(w)
        waits = [float(v) * 1000.0 for k, v in self.r.hgetall(prefix + ":wait").items() if int(k) >= 0]
        return {"jobs": len(waits), "rate": 200, "p50_ms": pct(waits, 0.50), "p99_ms": pct(waits, 0.99),
                "max_ms": max(waits)}

    def _held_at_kill(self, sysm, prefix):
        """seqs the dead worker held at the kill: ours, the queue's running
        set; Celery (acks_late), kombu's `unacked` hash."""
        seqs = set()
        try:
            if sysm.name == "ours":
                base = f"{prefix}:broker:{{{QUEUE}}}"
                for jid in self.r.zrange(base + ":run", 0, -1):
                    p = self.r.hget(f"{base}:j:" + jid.decode(), "p")
                    if p:
                        seqs.add(int(json.loads(p)["seq"]))
            else:
                for v in self.r.hvals("unacked"):
                    msg = json.loads(v)[0]
                    body = json.loads(base64.b64decode(msg["body"]))
                    seqs.add(int(body[0][0]))
        except Exception as e:  # noqa: BLE001 - a diagnostic, never fatal
            print(f"  (could not read the jobs held at the kill: {e})", flush=True)
            return None
        return seqs

    def _broker_empty(self, sysm, prefix):
        """No job queued, scheduled, running or unacknowledged."""
        if sysm.name == "ours":
            base = f"{prefix}:broker:{{{QUEUE}}}"
            return self.r.llen(base + ":ready") + self.r.zcard(base + ":run") + self.r.zcard(base + ":sched") == 0
        return self.r.llen(QUEUE) + self.r.hlen("unacked") == 0

    def crash(self, sysm):
        """SIGKILL of the worker's process group mid-run, then a new worker:
        lost and duplicated jobs, and the time until every job has run."""
        prefix = self.fresh(f"bench:crash:{sysm.name}")
        n = self.n_crash
        extra = {"BENCH_CELERY_AT_LEAST_ONCE": "1"} if sysm.name == "celery" else {}
        w = self.ready(sysm, prefix, extra)
        w2 = None
        try:
            sysm.enqueue(prefix, "sleep_ms", n, ms=5, batch=1000, extra=extra)
            wait_until(lambda: self.done(prefix) >= n // 5, 120, "a fifth of the crash run", every=0.001)
            self.procs.stop(w, signal.SIGKILL)
            t_kill = time.time()
            at_kill = self.done(prefix) - 1
            held = self._held_at_kill(sysm, prefix)
            w2 = sysm.start_worker(prefix, extra)
            try:
                wait_until(lambda: self.done(prefix) >= n + 1, self.crash_wait, "recovery", every=0.01)
                recovery = time.time() - t_kill
            except TimeoutError:
                recovery = None
            # Every seq has run, but the killed worker's jobs may still be in
            # the broker (a job whose side effect was written but whose ack
            # was not runs again when its lease ends): keep the new worker
            # until the broker holds no job, so such re-runs are counted.
            settled = None
            if recovery is not None:
                try:
                    wait_until(lambda: self._broker_empty(sysm, prefix), self.crash_wait - (time.time() - t_kill),
                               "the broker to hold no job", every=0.01)
                    settled = time.time() - t_kill
                except TimeoutError:
                    pass
            rerun_unacked = self.r.hlen("unacked") if sysm.name == "celery" else None
            still_held = self._held_at_kill(sysm, prefix) if sysm.name == "celery" else None
        finally:
            self.procs.stop(w)
            if w2 is not None:
                self.procs.stop(w2)
        runs = {int(k): int(v) for k, v in self.r.hgetall(prefix + ":runs").items()}
        lost = sorted(s for s in range(n) if s not in runs)
        dupes = sorted(s for s in range(n) if runs.get(s, 0) > 1)
        res = {"jobs": n, "done_at_kill": at_kill, "lost": len(lost), "duplicated": len(dupes),
               "recovery_s": recovery, "broker_empty_s": settled, "waited_s": self.crash_wait,
               "held_at_kill": None if held is None else len(held),
               "duplicates_held_at_kill": None if held is None else sum(1 for s in dupes if s in held),
               "lost_seqs": lost[:20], "duplicated_seqs": dupes[:20]}
        if rerun_unacked is not None:
            # Lost jobs still in kombu's `unacked` hash come back after the
            # transport's visibility_timeout; the others are gone for good.
            res["celery_unacked_left"] = rerun_unacked
            if still_held is not None:
                queued = set()
                for v in self.r.lrange(QUEUE, 0, -1):
                    try:
                        queued.add(int(json.loads(base64.b64decode(json.loads(v)["body"]))[0][0]))
                    except Exception:  # noqa: BLE001 - a diagnostic only
                        pass
                res["celery_lost_in_no_queue"] = sum(1 for x in lost if x not in still_held and x not in queued)
        return res

    def run_system(self, s):
        print(f"== {s.name}", flush=True)
        res = {}

        def step(key, fn, show):
            before = wait_for_quiet(self.quiet_wait)
            if before >= 0.10:
                print(f"  (the machine is busy: other processes use {before:.0%} of it)", flush=True)
            t, f = time.time(), Foreign()
            res[key] = fn()
            self.foreign.setdefault(s.name, {})[key] = share = f.share()
            warn = f"; other processes used {share:.0%} of the machine" if share >= 0.05 else ""
            print(f"  {key:14s} {show(res[key])}   ({time.time() - t:.0f} s{warn})", flush=True)

        step("idle_rss_mb", lambda: self.idle_rss(s), lambda v: f"{v:.1f} MB")
        step("drain_noop", lambda: self.drain(s, "noop", self.n_drain),
             lambda v: f"{v['jobs_per_s']:,.0f} jobs/s, {v['cpu_ms_per_job']:.3f} ms CPU/job")
        step("drain_sleep10", lambda: self.drain(s, "sleep_ms", self.n_sleep, ms=10),
             lambda v: f"{v['jobs_per_s']:,.0f} jobs/s")
        res["drain_sleep10"]["efficiency"] = res["drain_sleep10"]["jobs_per_s"] / (CONCURRENCY * 100.0)
        step("enqueue", lambda: self.enqueue_rate(s),
             lambda v: ", ".join(f"{k} {x:,.0f}/s" for k, x in v.items()))
        step("latency_200", lambda: self.latency(s),
             lambda v: f"p50 {v['p50_ms']:.2f} ms, p99 {v['p99_ms']:.2f} ms")
        step("crash", lambda: self.crash(s),
             lambda v: f"lost {v['lost']}, duplicated {v['duplicated']}, recovery {v['recovery_s']}")
        return res

    def run(self):
        return {s.name: self.run_system(s) for s in self.systems}


# ---------------------------------------------------------------- report

def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def g(res, *path):
    for p in path:
        if not isinstance(res, dict) or p not in res:
            return None
        res = res[p]
    return res


def table(results):
    ours, cel = results.get("ours", {}), results.get("celery", {})
    has_cel = bool(cel)
    drain_o, drain_c = g(ours, "drain_noop", "jobs_per_s"), g(cel, "drain_noop", "jobs_per_s")
    ratio = drain_o / drain_c if drain_o and drain_c else None

    def at_most(v, lim):
        return None if v is None else v <= lim

    def at_least(v, lim):
        return None if v is None else v >= lim

    one_o = g(ours, "enqueue", "one_per_call")
    seq_o = g(ours, "enqueue", "one_per_call_sequential")
    rec_o = g(ours, "crash", "recovery_s")
    lost_o = g(ours, "crash", "lost")
    rows = [
        ("drain: 20k pre-enqueued no-op jobs, -c 4 (jobs/s)", drain_o, drain_c, ",.0f", "≥ 25,000",
         at_least(drain_o, 25000)),
        ("drain: ours ÷ Celery", ratio, None, ".1f", "≥ 25×", at_least(ratio, 25) if has_cel else None),
        ("enqueue, one job per call, 16 calls in flight (jobs/s)", one_o, None, ",.0f", "≥ 10,000",
         at_least(one_o, 10000)),
        ("enqueue, one job per call, one at a time (jobs/s)", seq_o, g(cel, "enqueue", "one_per_call"), ",.0f",
         "≥ 10,000", at_least(seq_o, 10000)),
        ("enqueue, batched by 1,000 (jobs/s)", g(ours, "enqueue", "batched"), g(cel, "enqueue", "batched"),
         ",.0f", "≥ 100,000", at_least(g(ours, "enqueue", "batched"), 100000)),
        ("enqueue→start p50 at 200 jobs/s (ms)", g(ours, "latency_200", "p50_ms"),
         g(cel, "latency_200", "p50_ms"), ".2f", "", None),
        ("enqueue→start p99 at 200 jobs/s (ms)", g(ours, "latency_200", "p99_ms"),
         g(cel, "latency_200", "p99_ms"), ".2f", "≤ 5", at_most(g(ours, "latency_200", "p99_ms"), 5)),
        ("sleep(10 ms) drain (jobs/s; ceiling 400)", g(ours, "drain_sleep10", "jobs_per_s"),
         g(cel, "drain_sleep10", "jobs_per_s"), ",.0f", "", None),
        ("sleep(10 ms) efficiency (of 400/s)", g(ours, "drain_sleep10", "efficiency"),
         g(cel, "drain_sleep10", "efficiency"), ".1%", "", None),
        ("worker CPU per no-op job, process tree (ms)", g(ours, "drain_noop", "cpu_ms_per_job"),
         g(cel, "drain_noop", "cpu_ms_per_job"), ".3f", "", None),
        ("redis-server CPU per no-op job in the drain (ms)", g(ours, "drain_noop", "redis_cpu_ms_per_job"),
         g(cel, "drain_noop", "redis_cpu_ms_per_job"), ".3f", "", None),
        ("machine CPU busy during the no-op drain (of 2 cores)", g(ours, "drain_noop", "machine_busy"),
         g(cel, "drain_noop", "machine_busy"), ".0%", "", None),
        ("RSS idle, process tree (MB)", g(ours, "idle_rss_mb"), g(cel, "idle_rss_mb"), ".1f", "≤ 15",
         at_most(g(ours, "idle_rss_mb"), 15)),
        ("RSS after the no-op drain, process tree (MB)", g(ours, "drain_noop", "rss_after_mb"),
         g(cel, "drain_noop", "rss_after_mb"), ".1f", "", None),
        ("SIGKILL mid-run: jobs lost", lost_o, g(cel, "crash", "lost"), "d", "0",
         None if lost_o is None else lost_o == 0),
        ("SIGKILL mid-run: jobs run twice", g(ours, "crash", "duplicated"), g(cel, "crash", "duplicated"), "d",
         "only jobs held at the kill", None if g(ours, "crash", "duplicates_held_at_kill") is None else
         g(ours, "crash", "duplicated") == g(ours, "crash", "duplicates_held_at_kill")),
        ("SIGKILL mid-run: jobs held by the killed worker", g(ours, "crash", "held_at_kill"),
         g(cel, "crash", "held_at_kill"), "d", "", None),
        ("SIGKILL mid-run: every job done, seconds after the kill", rec_o, g(cel, "crash", "recovery_s"),
         ".1f", "≤ 10", at_most(rec_o, 10)),
        ("SIGKILL mid-run: broker holds no job, seconds after the kill", g(ours, "crash", "broker_empty_s"),
         g(cel, "crash", "broker_empty_s"), ".1f", "", None),
    ]
    fo, fc = (results.get("foreign_cpu_share") or {}).get("ours"), (results.get("foreign_cpu_share") or {}).get("celery")
    rows.append(("other processes' CPU, busiest phase (share of the machine)", max(fo.values()) if fo else None,
                 max(fc.values()) if fc else None, ".0%", "≈ 0% for clean figures", None))
    if not g(ours, "drain_noop"):
        rows = [r[:5] + (None,) for r in rows]
    w_c = "Celery 5 prefork -c 4"
    lines = [f"| measure | ours | {w_c} | target (ours) | met |", "|---|---:|---:|---|---|"]
    for name, o, c, spec, target, met in rows:
        m = "" if met is None else ("met" if met else "**missed**")
        cs = fmt(c, spec) if has_cel else "-"
        if name == "drain: ours ÷ Celery":
            cs = ""
        if has_cel and name.startswith(("SIGKILL mid-run: every", "SIGKILL mid-run: broker")) and c is None:
            cs = f"not within {g(cel, 'crash', 'waited_s')} s"
        os_ = fmt(o, spec)
        if name.startswith(("SIGKILL mid-run: every", "SIGKILL mid-run: broker")) and ours and o is None:
            os_ = f"not within {g(ours, 'crash', 'waited_s')} s"
        lines.append(f"| {name} | {os_} | {cs} | {target} | {m} |")
    return "\n".join(lines)


def versions(venv_python):
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except Exception:  # noqa: BLE001 - a missing tool is reported, not fatal
            return "unknown"
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        mem_gib = int(f.readline().split()[1]) / 1024 / 1024
    return {
        "date": datetime.date.today().isoformat(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_gib, 1),
        "kernel": platform.release(),
        "rustc": out(["rustc", "--version"]),
        "redis_server": out(["redis-server", "--version"]),
        "celery": out([os.path.join(os.path.dirname(venv_python), "celery"), "--version"]),
        "python": platform.python_version(),
    }


def write_results(path, info, tab, args, commands, results):
    opts = " ".join(a for a in ["--quick" if args.quick else "", f"--only {args.only}" if args.only else ""] if a)
    cel_crash = g(results, "celery", "crash") or {}
    notes = []
    busy = [(sysn, ph, v) for sysn, phases in (results.get("foreign_cpu_share") or {}).items()
            for ph, v in phases.items() if v >= 0.05]
    if busy:
        notes.append("- **The machine was not quiet**: other processes used "
                     + ", ".join(f"{v:.0%} during {sysn} {ph}" for sysn, ph, v in busy)
                     + "; those figures are skewed by it.")
    if cel_crash.get("lost"):
        gone = cel_crash.get("celery_lost_in_no_queue")
        notes.append(
            f"- Celery's {cel_crash['lost']} lost job(s) in the SIGKILL run were taken by the killed worker: "
            f"{cel_crash.get('celery_unacked_left')} message(s) were still in kombu's `unacked` hash when the "
            f"{cel_crash.get('waited_s')} s wait ended (the Redis transport hands those out again only after "
            f"its `visibility_timeout`, 1 hour by default)"
            + (f", and {gone} lost job(s) were in no queue and not in `unacked` either: gone for good "
               f"(most likely popped from the list but killed before kombu recorded them as unacknowledged)" if gone else "")
            + ".")
    cmd_lines = "\n".join(f"    {c}" for c in commands)
    # Only the top of the file is ours (up to the first "## " heading): the
    # sections below belong to the other harnesses or are written by hand.
    results_md.write_part(path, f"""# Benchmark results

Measured {info['date']} with `bench/run{(' ' + opts) if opts else ''} --write-results`; [README.md](README.md)
says what each figure is and how it is taken. Each run of `bench/run --write-results` rewrites this
part, up to the first `## ` heading; the sections below have their own harnesses.

- machine: {info['nproc']} cores (`nproc`), {info['cpu']}, {info['memory_gib']} GiB memory, Linux {info['kernel']}
- {info['rustc']}; {info['redis_server']}
- Celery {info['celery']} on Python {info['python']}
- one private `redis-server` on 127.0.0.1 (no persistence) for both systems; one worker at a time, at
  concurrency 4; everything on this one box
- Celery worker: `celery -A benchtasks worker -P prefork -c 4 -Q default --loglevel=WARNING
  --without-gossip --without-mingle --without-heartbeat`, with Celery's defaults (prefetch multiplier 4,
  ack before the task runs) everywhere except the SIGKILL run, which sets `task_acks_late=True` and
  `worker_prefetch_multiplier=1`, Celery's at-least-once set-up
- Celery enqueue: `apply_async` per job; batched: `group(...).apply_async()` by 1,000 (Celery has no
  batched publish: a group sends its messages one by one over one producer)

{tab}

{chr(10).join(notes)}

Command lines, in the order they ran (`$TMP` is the harness's temp dir; the
binaries are in `target/release`; every command also gets `BENCH_REDIS_URL`
of the private Redis and `BENCH_QUEUE=default`):

{cmd_lines}
""")


# ---------------------------------------------------------------- main

class Stop(Exception):
    pass


def _on_signal(signum, _frame):
    raise Stop(f"stopped by signal {signum}")


def _ping(r):
    try:
        return r.ping()
    except redis.exceptions.ConnectionError:
        return False


def main():
    ap = argparse.ArgumentParser(description="Our worker side by side with Celery 5 (see bench/README.md).")
    ap.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    ap.add_argument("--only", choices=["ours", "celery"], help="run one side only")
    ap.add_argument("--write-results", action="store_true", help="rewrite bench/RESULTS.md")
    ap.add_argument("--quiet-wait", type=float, default=30.0, metavar="S",
                    help="before each phase, wait up to S seconds for other processes to leave the "
                         "machine (under 10%% of it) (default 30)")
    args = ap.parse_args()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, _on_signal)
    signal.alarm(HARD_LIMIT_S)

    for b in ("bench-worker", "bench-enqueue"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            sys.exit(f"{os.path.join(BIN, b)} is missing: run bench/run, or build with "
                     f"`cargo build --release -p paqueteria-bench`")

    started = time.time()
    workdir = tempfile.mkdtemp(prefix="paq-bench-")
    with open(os.path.join(workdir, "benchtasks.py"), "w") as f:
        f.write(CELERY_TASKS)
    with open(os.path.join(workdir, "celery_enqueue.py"), "w") as f:
        f.write(CELERY_ENQUEUE)
    out_dir = os.path.join(HERE, "out")
    os.makedirs(out_dir, exist_ok=True)
    procs = Procs()
    commands = []
    results = None
    try:
        port = free_port()
        rs = procs.spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", workdir, "--daemonize", "no"],
                         stdout=open(os.path.join(workdir, "redis.log"), "w"), stderr=subprocess.STDOUT,
                         start_new_session=True)
        url = f"redis://127.0.0.1:{port}/0"
        r = redis.Redis.from_url(url)
        wait_until(lambda: _ping(r) or rs.poll() is not None, 10, "redis-server")
        if rs.poll() is not None:
            raise RuntimeError("redis-server did not start")
        print(f"private redis-server on 127.0.0.1:{port} (pid {rs.pid}); temp dir {workdir}", flush=True)
        names = [args.only] if args.only else ["ours", "celery"]
        systems = [System(n, url, workdir, sys.executable, procs, commands) for n in names]
        bench = Bench(args, r, rs.pid, systems, procs)
        results = bench.run()
        results["foreign_cpu_share"] = bench.foreign
    finally:
        clean_up(procs, workdir, os.path.join(out_dir, "logs"))

    info = versions(sys.executable)
    tab = table(results)
    print()
    print(tab)
    print(f"\n(total {time.time() - started:.0f} s)")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"info": info, "options": vars(args), "results": results, "commands": commands}, f,
                  indent=2, default=str)
    print(f"wrote {os.path.relpath(os.path.join(out_dir, 'results.json'))}")
    if args.write_results:
        write_results(os.path.join(HERE, "RESULTS.md"), info, tab, args, commands, results)
        print(f"wrote {os.path.relpath(os.path.join(HERE, 'RESULTS.md'))}")


if __name__ == "__main__":
    try:
        main()
    except Stop as e:
        sys.exit(str(e))
