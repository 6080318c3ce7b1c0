"""Scale-out benchmark: the no-op drain with more worker processes, on one
Redis, on a Redis Cluster and on the embedded SQLite engine.

Started by `bench/scale` (which builds the binaries). It reuses bench/run.py's
helpers (processes, CPU readings, the foreign-CPU check) and starts what it
measures itself: a private redis-server on a free port of 127.0.0.1 (the
broker of the Redis rows, and where every row's side effect goes), a
3-master Redis Cluster with 3 replicas on free ports (no persistence), and
SQLite files in its temp dir. Every row reads, over its timed window, the
CPU of each redis-server, of all worker processes, of the machine and of
other processes, and names its ceiling by the rule in `ceiling()`. See
bench/README.md ("Scale-out").
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import redis

import results_md
import run
from run import Foreign, Procs, cpu_seconds, free_port, pct, wait_for_quiet, wait_until

HERE = run.HERE
CONCURRENCY = 4
NPROC = os.cpu_count() or 1
SAT = 0.90  # a reading at or above 90% of what it can use is saturated
CLUSTER_QUEUES = 6
SECTION = "Scale-out"


# ---------------------------------------------------------------- readings

def cpu_jiffies():
    """(busy, total, iowait) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v), v[4]


def thread_seconds(pid):
    """{(tid, name): utime + stime} of every thread of pid."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                s = f.read()
            name = s[s.index("(") + 1:s.rindex(")")]
            f_ = s.rsplit(")", 1)[1].split()
            out[(int(tid), name)] = (int(f_[11]) + int(f_[12])) / run.TCK
        except (OSError, ValueError, IndexError):
            pass
    return out


class Window:
    """CPU readings over a timed window: the worker processes together, their
    busiest thread, each named redis-server, the machine and its I/O wait, and
    the share other processes used (run.py's Foreign)."""

    def __init__(self, workers, servers):
        self.workers, self.servers = workers, servers  # [Popen], {label: pid}
        self.foreign = Foreign()
        self.m = cpu_jiffies()
        self.th = {w.pid: thread_seconds(w.pid) for w in workers}
        self.w = sum(cpu_seconds(w.pid, False) for w in workers)
        self.s = {k: cpu_seconds(p, False) for k, p in servers.items()}
        self.t = time.time()

    def close(self):
        t = time.time()
        dt = t - self.t
        w = sum(cpu_seconds(p.pid, False) for p in self.workers)
        s = {k: cpu_seconds(p, False) for k, p in self.servers.items()}
        busiest = (0.0, "")
        for p in self.workers:
            before = self.th.get(p.pid, {})
            for key, v in thread_seconds(p.pid).items():
                busiest = max(busiest, ((v - before.get(key, 0.0)) / dt, key[1]))
        m = cpu_jiffies()
        total = max(1, m[1] - self.m[1])
        return {"seconds": dt, "workers_cores": (w - self.w) / dt,
                "busiest_thread": {"name": busiest[1], "core": busiest[0]},
                "servers_core": {k: (s[k] - self.s[k]) / dt for k in s},
                "machine": (m[0] - self.m[0]) / total, "iowait": (m[2] - self.m[2]) / total,
                "foreign": self.foreign.share()}


def ceiling(row, rd):
    """The row's ceiling, from its readings, by a fixed rule (first match):

    1. a broker redis-server at >= 90% of one core: "Redis CPU" (on the
       cluster, which master); the results Redis likewise ("results Redis
       CPU");
    2. the worker processes together at >= 90% of the cores they can use
       (min(processes x cores, cores): each process's runtime has a thread
       per core): "worker CPU";
    3. the machine at >= 90% of all its cores: "machine CPU (N cores)", with
       who used it;
    4. one worker thread at >= 90% of a core: "one worker thread (name)";
    5. I/O wait at >= 20% of the machine: "disk I/O";
    6. otherwise nothing is saturated, so the time goes in waiting: "round
       trips (Redis and workers both below saturation)" on Redis, "waits on
       the SQLite write path (nothing at saturation)" on SQLite; on a latency
       row (a fixed 200 jobs/s) "none at this rate".
    """
    srv = rd["servers_core"]
    brokers = {k: v for k, v in srv.items() if k != "results"}  # a cluster's masters and replicas
    if brokers:
        k, v = max(brokers.items(), key=lambda kv: kv[1])
        if v >= SAT:
            return "Redis CPU" + (f" ({k})" if row["engine"] == "cluster" else "")
    if srv.get("results", 0.0) >= SAT:
        return "results Redis CPU"
    cap = min(row["procs"] * NPROC, NPROC)
    if rd["workers_cores"] >= SAT * cap:
        return "worker CPU"
    if rd["machine"] >= SAT:
        redis_cores = sum(srv.values())
        return (f"machine CPU ({NPROC} cores: workers {rd['workers_cores']:.2f}, redis-servers "
                f"{redis_cores:.2f}, others {rd['foreign'] * NPROC:.2f})")
    if rd["busiest_thread"]["core"] >= SAT:
        return f"one worker thread ({rd['busiest_thread']['name']})"
    if rd["iowait"] >= 0.20:
        return "disk I/O"
    if row.get("latency"):
        return "none at this rate (nothing at saturation)"
    if row["engine"] == "sqlite":
        return "waits on the SQLite write path (nothing at saturation)"
    return "round trips (Redis and workers both below saturation)"


# ---------------------------------------------------------------- processes

class Ours(run.System):
    """bench-worker and bench-enqueue, with the jobs in `broker`
    (BENCH_BROKER) when set, else in the private Redis."""

    def __init__(self, redis_url, workdir, procs, log):
        super().__init__("ours", redis_url, workdir, sys.executable, procs, log)
        self.broker = None
        self.queues = [run.QUEUE]

    def _extra(self, extra):
        e = {"BENCH_BROKER": self.broker} if self.broker else {}
        e.update(extra or {})
        return e

    def env(self, prefix, extra):
        return super().env(prefix, self._extra(extra))

    def _note(self, cmd, prefix, extra):
        shown = {k: v.replace(self.workdir + "/", "$TMP/") for k, v in self._extra(extra).items()}
        super()._note(cmd, prefix, shown)

    def worker_cmd(self):
        return [os.path.join(os.path.abspath(run.BIN), "bench-worker"), "--queues", ",".join(self.queues),
                "--concurrency", str(CONCURRENCY)]


def start_redis(procs, workdir, name, *extra):
    """A private redis-server on a free loopback port, no persistence;
    returns (Popen, port, client) once it answers PING."""
    d = os.path.join(workdir, name)
    os.makedirs(d, exist_ok=True)
    port = free_port()
    p = procs.spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", d, "--daemonize", "no", *extra],
                    stdout=open(os.path.join(workdir, f"{name}.log"), "w"), stderr=subprocess.STDOUT,
                    start_new_session=True)
    c = redis.Redis(host="127.0.0.1", port=port)
    wait_until(lambda: run._ping(c) or p.poll() is not None, 10, f"redis-server {name}", every=0.01)
    if p.poll() is not None:
        raise RuntimeError(f"redis-server {name} did not start (see {name}.log)")
    return p, port, c


class Cluster:
    """3 masters + 3 replicas on free loopback ports, cluster mode, no
    persistence, joined by `redis-cli --cluster create`."""

    def __init__(self, procs, workdir):
        self.nodes = []  # (Popen, port, client)
        for i in range(6):
            bus = free_port()
            self.nodes.append(start_redis(procs, workdir, f"cluster-{i}", "--cluster-enabled", "yes",
                                          "--cluster-port", str(bus), "--cluster-config-file", "nodes.conf",
                                          "--cluster-node-timeout", "5000"))
        cmd = ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for _, p, _ in self.nodes],
               "--cluster-replicas", "1", "--cluster-yes"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.command = " ".join(cmd)
        if out.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create exited {out.returncode}: {out.stdout[-1500:]}")

        def state_ok():
            return all(b"cluster_state:ok" in c.execute_command("CLUSTER", "INFO") for _, _, c in self.nodes)
        wait_until(state_ok, 60, "cluster_state:ok on every node", every=0.05)
        self.masters = sorted(p for _, p, c in self.nodes if c.info("replication")["role"] == "master")
        if len(self.masters) != 3:
            raise RuntimeError(f"expected 3 masters, found {self.masters}")

        def replicas_synced():
            return all(c.info("replication").get("master_link_status") == "up"
                       for _, p, c in self.nodes if p not in self.masters)
        wait_until(replicas_synced, 60, "every replica in sync", every=0.05)
        self.pids = {f"master :{p}": pr.pid for pr, p, _ in self.nodes if p in self.masters}
        self.replica_pids = {f"replica :{p}": pr.pid for pr, p, _ in self.nodes if p not in self.masters}
        self.client = {p: c for _, p, c in self.nodes}

    def urls(self):
        """The ways the engine may be told about a cluster, tried in order."""
        hosts = [f"127.0.0.1:{p}" for p in self.masters]
        return ["redis+cluster://" + ",".join(hosts), "redis://" + ",".join(hosts)]

    def queues(self, n):
        """n queue names, spread evenly over the masters by their hash slot
        (the broker's keys of a queue share the tag `{queue}`)."""
        c = self.client[self.masters[0]]
        owner = {}
        for start, end, master, *_ in c.execute_command("CLUSTER", "SLOTS"):
            owner[(int(start), int(end))] = int(master[1])
        want = {p: n // len(self.masters) + (i < n % len(self.masters)) for i, p in enumerate(self.masters)}
        names = []
        for i in range(1, 10000):
            slot = int(c.execute_command("CLUSTER", "KEYSLOT", f"q{i}"))
            port = next(p for (a, b), p in owner.items() if a <= slot <= b)
            if want[port] > 0:
                want[port] -= 1
                names.append((f"q{i}", port))
            if len(names) == n:
                return names
        raise RuntimeError("could not spread the queues over the masters")

    def keys_per_master(self):
        return {f":{p}": self.client[p].dbsize() for p in self.masters}


# ---------------------------------------------------------------- rows

class Scale:
    def __init__(self, args, procs, workdir, commands):
        self.args = args
        self.procs = procs
        self.workdir = workdir
        self.n = 2000 if args.quick else args.jobs
        self.n_latency = 400 if args.quick else 2000
        self.rs, self.port, self.r = start_redis(procs, workdir, "redis")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        print(f"private redis-server on 127.0.0.1:{self.port} (pid {self.rs.pid}); temp dir {workdir}", flush=True)
        self.ours = Ours(self.url, workdir, procs, commands)
        # run.py's phases, for the readiness probe and the side-effect reads.
        self.bench = run.Bench(args, self.r, self.rs.pid, [self.ours], procs)
        self.cluster = None
        self.cluster_url = None
        self.cluster_queues = None
        self.cluster_note = None
        self.serial = 0
        self.shown_commands = []

    def _configure(self, row):
        """Points the bench binaries at the row's engine; returns the
        broker redis-servers to read, by label."""
        self.serial += 1
        self.ours.queues = [run.QUEUE]
        if row["engine"] == "redis":
            self.ours.broker = None
            return {"broker": self.rs.pid}
        if row["engine"] == "sqlite":
            self.ours.broker = f"sqlite://{self.workdir}/jobs-{self.serial}.sqlite3"
            return {"results": self.rs.pid}
        self.ours.broker = self.cluster_url
        self.ours.queues = [q for q, _ in self.cluster_queues]
        return {**self.cluster.pids, **self.cluster.replica_pids, "results": self.rs.pid}

    def cluster_ready(self):
        """Starts the cluster once and finds a cluster URL the binaries
        accept (a probe job through bench-enqueue); None with the reason
        when they accept none."""
        if self.cluster is None:
            try:
                self.cluster = Cluster(self.procs, self.workdir)
            except (RuntimeError, TimeoutError, OSError, subprocess.SubprocessError, redis.RedisError) as e:
                self.cluster = False
                self.cluster_note = f"not run: the cluster did not start ({e})"
                return self.cluster_note
            self.cluster_queues = self.cluster.queues(CLUSTER_QUEUES)
            print("cluster: masters " + ", ".join(f":{p}" for p in self.cluster.masters) + "; queues "
                  + ", ".join(f"{q} (:{p})" for q, p in self.cluster_queues), flush=True)
            said = []
            self.ours.log.append(self.cluster.command)
            for url in self.cluster.urls():
                self.ours.log.append(f"BENCH_PREFIX=bench:probe BENCH_BROKER={url} BENCH_QUEUE="
                                     f"{self.cluster_queues[0][0]} bench-enqueue --kind noop --count 1 "
                                     "--seq-start=-1    # does the engine take this cluster URL?")
                env = dict(self.ours.env("bench:probe", {}), BENCH_BROKER=url, BENCH_QUEUE=self.cluster_queues[0][0],
                           RUST_BACKTRACE="0", RUST_LIB_BACKTRACE="0")
                try:
                    out = subprocess.run([os.path.join(os.path.abspath(run.BIN), "bench-enqueue"), "--kind", "noop",
                                          "--count", "1", "--seq-start=-1"], env=env, capture_output=True, text=True,
                                         timeout=30)
                except subprocess.TimeoutExpired:
                    said.append(f"`{url.split('://')[0]}://…`: no answer within 30 s")
                    continue
                if out.returncode == 0:
                    self.cluster_url = url
                    break
                err = [x for x in out.stderr.splitlines() if x.startswith("Error:")] or out.stderr.splitlines() or ["?"]
                said.append(f"`{url.split('://')[0]}://…`: {err[0][:160]}")
            if self.cluster_url is None:
                self.cluster_note = "not run: needs cluster support (bench-enqueue refused " + "; ".join(said) + ")"
            else:
                print(f"cluster: the binaries accept {self.cluster_url}", flush=True)
        return self.cluster_note

    def drain(self, row, rep):
        """n pre-enqueued no-op jobs (batched), spread evenly over the
        row's queues, then row["procs"] workers; the clock runs from the
        first job done to the last, and the readings over that window."""
        if row["engine"] == "cluster" and self.cluster_ready():
            return {"not_run": self.cluster_note}
        servers = self._configure(row)
        prefix = self.bench.fresh(f"bench:scale:{row['key']}:rep{rep}")
        n, queues = self.n, self.ours.queues
        keys_before = self.cluster.keys_per_master() if row["engine"] == "cluster" else None
        seq = 0
        for i, q in enumerate(queues):
            count = n // len(queues) + (i < n % len(queues))
            self.ours.enqueue(prefix, "noop", count, seq_start=seq, batch=1000, extra={"BENCH_QUEUE": q})
            seq += count
        spread = None
        if keys_before is not None:
            spread = {k: v - keys_before[k] for k, v in self.cluster.keys_per_master().items()}
        workers = []
        t_spawn = time.time()
        try:
            for _ in range(row["procs"]):
                workers.append(self.ours.start_worker(prefix))
            spawn_spread = time.time() - t_spawn

            def dead():
                return next((w for w in workers if w.poll() is not None), None)
            wait_until(lambda: self.bench.done(prefix) >= 1 or dead(), 120, "the first job")
            if dead():
                raise RuntimeError(f"a worker exited (code {dead().returncode}); see bench/out/scale-logs")
            win = Window(workers, servers)
            d0 = self.bench.done(prefix)
            marks = {}

            def finished():
                d = self.bench.done(prefix)
                for q in (0.1, 0.9):
                    if d >= q * n and q not in marks:
                        marks[q] = (time.time(), d)
                return d >= n or dead()
            wait_until(finished, 300, f"the {row['key']} drain", every=0.005)
            if dead():
                raise RuntimeError(f"a worker exited (code {dead().returncode}); see bench/out/scale-logs")
            rd = win.close()
        finally:
            for w in workers:
                self.procs.stop(w)
        runs = self.r.hvals(prefix + ":runs")
        (ta, da), (tb, db) = marks[0.1], marks[0.9]
        rd.update({"jobs": n, "jobs_timed": n - d0, "jobs_per_s": (n - d0) / rd["seconds"],
                   "jobs_per_s_10_90": (db - da) / (tb - ta) if tb > ta else None,
                   "spawn_spread_ms": 1000.0 * spawn_spread, "duplicates": sum(1 for v in runs if int(v) > 1)})
        if spread is not None:
            rd["keys_per_master_after_enqueue"] = spread
        rd["ceiling"] = ceiling(row, rd)
        return rd

    def latency(self, row):
        """run.py's latency phase with the readings: a ready, idle worker;
        n no-op jobs at 200 per second, one per call; p50 and p99 of
        t_start - t_enq."""
        servers = self._configure(row)
        prefix = self.bench.fresh(f"bench:scale:{row['key']}")
        n = self.n_latency
        w = self.bench.ready(self.ours, prefix)
        try:
            win = Window([w], servers)
            self.ours.enqueue(prefix, "noop", n, rate=200.0)
            wait_until(lambda: self.bench.done(prefix) >= n + 1 or w.poll() is not None, 60, "the latency run")
            rd = win.close()
        finally:
            self.procs.stop(w)
        waits = [float(v) * 1000.0 for k, v in self.r.hgetall(prefix + ":wait").items() if int(k) >= 0]
        rd.update({"jobs": len(waits), "rate": 200, "jobs_per_s": len(waits) / rd["seconds"],
                   "p50_ms": pct(waits, 0.50), "p99_ms": pct(waits, 0.99), "max_ms": max(waits)})
        rd["ceiling"] = ceiling(row, rd)
        return rd


DRAIN_ROWS = [
    {"key": "redis-1", "engine": "redis", "procs": 1, "label": "Redis, 1 worker process"},
    {"key": "redis-2", "engine": "redis", "procs": 2, "label": "Redis, 2 worker processes"},
    {"key": "redis-4", "engine": "redis", "procs": 4, "label": "Redis, 4 worker processes"},
    {"key": "cluster-4", "engine": "cluster", "procs": 4,
     "label": "Redis Cluster (3 masters + 3 replicas), 4 worker processes, 6 queues"},
    {"key": "sqlite-1", "engine": "sqlite", "procs": 1, "label": "SQLite (embedded engine), 1 worker process"},
]
LATENCY_ROWS = [
    {"key": "redis-1-latency", "engine": "redis", "procs": 1, "label": "Redis, 1 worker: enqueue→start at 200 jobs/s",
     "latency": True},
    {"key": "sqlite-1-latency", "engine": "sqlite", "procs": 1,
     "label": "SQLite, 1 worker: enqueue→start at 200 jobs/s", "latency": True},
]


def run_all(scale, args):
    """Every rep runs every drain row in turn (so a passing burst of other
    work spreads over the rows), then the latency rows once."""
    res = {r["key"]: [] for r in DRAIN_ROWS + LATENCY_ROWS}

    def quiet():
        before = wait_for_quiet(args.quiet_wait)
        if before >= 0.10:
            print(f"  (the machine is busy: other processes use {before:.0%} of it)", flush=True)

    log = scale.ours.log
    marks = []
    for rep in range(args.reps):
        marks.append(len(log))
        for row in DRAIN_ROWS:
            quiet()
            rd = scale.drain(row, rep)
            res[row["key"]].append(rd)
            if "not_run" in rd:
                print(f"  {row['key']:18s} {rd['not_run']}", flush=True)
            else:
                print(f"  {row['key']:18s} {rd['jobs_per_s']:8,.0f} jobs/s  workers {rd['workers_cores']:.2f} cores, "
                      f"redis {servers_text(rd, row)}, machine {rd['machine']:.0%}, others {rd['foreign']:.0%}"
                      f"  -> {rd['ceiling']}", flush=True)
    marks.append(len(log))
    for row in LATENCY_ROWS:
        quiet()
        rd = scale.latency(row)
        res[row["key"]].append(rd)
        print(f"  {row['key']:18s} p50 {rd['p50_ms']:.2f} ms, p99 {rd['p99_ms']:.2f} ms; workers "
              f"{rd['workers_cores']:.2f} cores, machine {rd['machine']:.0%}, others {rd['foreign']:.0%}", flush=True)
    # The command lines of the first rep and of the latency rows (the other
    # reps repeat the first's).
    scale.shown_commands = log[:marks[1]] + log[marks[-1]:]
    return res


# ---------------------------------------------------------------- report

def collapsed(lines):
    """Consecutive repeats (the worker processes of a row) as one line."""
    out = []
    for x in lines:
        if out and out[-1][0] == x:
            out[-1][1] += 1
        else:
            out.append([x, 1])
    return [x if k == 1 else f"{x}    # x {k} processes" for x, k in out]


def median_rep(reps):
    """The rep with the median jobs/s (the lower middle one of an even
    count), so that its readings go with its figure."""
    ran = sorted((r for r in reps if "not_run" not in r), key=lambda r: r["jobs_per_s"])
    return ran[(len(ran) - 1) // 2] if ran else None


def servers_text(rd, row):
    srv = rd["servers_core"]
    if row["engine"] == "redis":
        return f"{srv['broker']:.0%}"
    res = f"results Redis {srv['results']:.0%} (side effect only)"
    masters = [f"{k.split()[-1]} {v:.0%}" for k, v in srv.items() if k.startswith("master")]
    if not masters:
        return res
    replicas = [f"{v:.0%}" for k, v in srv.items() if k.startswith("replica")]
    return f"masters {', '.join(masters)}; replicas {', '.join(replicas)}; {res}"


def table(res):
    lines = ["| row | jobs/s | enqueue→start p50 / p99 | redis-server CPU (of one core) | worker processes' CPU "
             "(cores) | busiest worker thread (of one core) | machine CPU (of "
             f"{NPROC} cores) | I/O wait | other processes (of the machine) | ceiling |",
             "|---|---:|---|---|---:|---|---:|---:|---:|---|"]
    for row in DRAIN_ROWS + LATENCY_ROWS:
        all_ = res.get(row["key"]) or []
        if all_ and "not_run" in all_[0]:
            lines.append(f"| {row['label']} | {all_[0]['not_run']} | | | | | | | | |")
            continue
        rd = median_rep(all_)
        if rd is None:
            continue
        if "p50_ms" in rd:
            rate, lat = f"{rd['jobs_per_s']:,.0f} (offered 200)", f"{rd['p50_ms']:.2f} / {rd['p99_ms']:.2f} ms"
        else:
            ran = [r["jobs_per_s"] for r in all_ if "not_run" not in r]
            rate = f"{rd['jobs_per_s']:,.0f}" + (f" ({min(ran):,.0f}–{max(ran):,.0f})" if len(ran) > 1 else "")
            lat = ""
        bt = rd["busiest_thread"]
        lines.append(f"| {row['label']} | {rate} | {lat} | {servers_text(rd, row)} | {rd['workers_cores']:.2f} | "
                     f"{bt['core']:.0%} (`{bt['name']}`) | {rd['machine']:.0%} | {rd['iowait']:.0%} | "
                     f"{rd['foreign']:.0%} | {rd['ceiling']} |")
    return "\n".join(lines)


RULE = """The ceiling column applies this rule to the row's own readings, first match wins (a
reading is saturated at 90% or more of what it can use):

1. a broker redis-server at ≥ 90% of one core → **Redis CPU** (on the cluster, which master); the
   Redis that only records the side effect likewise → **results Redis CPU**;
2. the worker processes together at ≥ 90% of the cores they can use (min(processes × cores, cores):
   each process's runtime has one thread per core) → **worker CPU**;
3. the machine at ≥ 90% of all its cores → **machine CPU (N cores)**, with the cores each party used;
4. one worker thread at ≥ 90% of a core → **one worker thread** (its name);
5. I/O wait at ≥ 20% of the machine → **disk I/O**;
6. otherwise nothing is saturated and the time goes in waiting → **round trips (Redis and workers
   both below saturation)**; on SQLite, **waits on the SQLite write path**; on a latency row (a fixed
   200 jobs/s), **none at this rate**."""


def write_results(path, info, tab, args, commands, res, scale):
    opts = " ".join(a for a in ["--quick" if args.quick else "", f"--reps {args.reps}"] if a)
    worst = {k: max(r["foreign"] for r in reps if "foreign" in r) for k, reps in res.items()
             if any("foreign" in r for r in reps)}
    busy = sorted(((k, v) for k, v in worst.items() if v >= 0.05), key=lambda kv: -kv[1])
    notes = []
    if busy:
        notes.append("- **The machine was not quiet**: other processes used up to " + ", ".join(
            f"{v:.0%} during the {k} runs" for k, v in busy) + "; those figures are skewed by it.")
    c = median_rep(res.get("cluster-4") or [])
    if scale.cluster_queues:
        notes.append("- cluster queues (each master owns two): " + ", ".join(
            f"`{q}` on :{p}" for q, p in scale.cluster_queues) + (
            "; keys each master gained with the enqueue: " + ", ".join(
                f"{k} {v:,}" for k, v in c["keys_per_master_after_enqueue"].items()) if c else ""))
    cmd_lines = "\n".join(f"    {x}" for x in collapsed(commands))
    part = f"""## {SECTION}

Measured {info['date']} with `bench/scale {opts} --write-results` (this section is rewritten by it;
[README.md](README.md#scale-out) says how the figures are taken).

- machine: {info['nproc']} cores (`nproc`), {info['cpu']}, {info['memory_gib']} GiB memory, Linux {info['kernel']}
- {info['rustc']}; {info['redis_server']}; everything on this one box, all traffic on 127.0.0.1
- drain rows: {scale.n:,} no-op jobs enqueued (batched by 1,000) before the workers start, `bench-worker
  --concurrency 4` per process; jobs/s from the first job done to the last, the median of {args.reps} run(s)
  (range in brackets), with the readings of that run over the same window
- the side effect of every job goes to the private redis-server (`BENCH_REDIS_URL`); on the Redis rows that
  server is also the broker, on the SQLite and cluster rows it only records the side effect
- latency rows: a ready, idle worker; {scale.n_latency:,} no-op jobs at 200 per second, one per call, from
  `bench-enqueue`, another process: on SQLite the worker sees a job at its next look at the file (every
  100 ms, `CROSS_PROCESS_POLL`), where the all-in-one app, enqueueing in the worker's process, wakes it at once
- built from `{info.get('commit', '?')}`

{tab}

{RULE}

{chr(10).join(notes)}

Command lines of the first run of each row, in order (`$TMP` is the harness's temp dir; the binaries
are in `target/release`; every command also gets `BENCH_REDIS_URL` of the private Redis):

{cmd_lines}
"""
    results_md.write_part(path, part, SECTION)


# ---------------------------------------------------------------- main

def commit():
    """The checkout's commit, marked when code (anything but Markdown) has
    uncommitted changes."""
    def git(*a):
        return subprocess.run(["git", *a], cwd=HERE, capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ":/", ":(top,exclude,glob)**/*.md")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head + (" with uncommitted changes" if dirty else "")) if head else "unknown"


def main():
    ap = argparse.ArgumentParser(description="The no-op drain with 1, 2 and 4 worker processes on Redis, on a "
                                             "Redis Cluster and on SQLite (see bench/README.md).")
    ap.add_argument("--quick", action="store_true", help="small counts and one run per row, for a smoke run")
    ap.add_argument("--jobs", type=int, default=20000, help="jobs per drain (default 20000; --quick: 2000)")
    ap.add_argument("--reps", type=int, default=None, help="runs of every drain row (default 3; --quick: 1)")
    ap.add_argument("--write-results", action="store_true", help="rewrite the Scale-out section of bench/RESULTS.md")
    ap.add_argument("--quiet-wait", type=float, default=30.0, metavar="S",
                    help="before each row, wait up to S seconds for other processes to leave the machine "
                         "(under 10%% of it) (default 30)")
    args = ap.parse_args()
    if args.reps is None:
        args.reps = 1 if args.quick else 3
    args.reps = max(1, args.reps)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(sig, run._on_signal)
    signal.alarm(run.HARD_LIMIT_S)
    for b in ("bench-worker", "bench-enqueue"):
        if not os.access(os.path.join(run.BIN, b), os.X_OK):
            sys.exit(f"{os.path.join(run.BIN, b)} is missing: run bench/scale, or build with "
                     f"`cargo build --release -p paqueteria-bench`")
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install redis-server redis-tools)")

    started = time.time()
    workdir = tempfile.mkdtemp(prefix="paq-scale-")
    out_dir = os.path.join(HERE, "out")
    os.makedirs(out_dir, exist_ok=True)
    procs = Procs()
    commands = []
    try:
        scale = Scale(args, procs, workdir, commands)
        res = run_all(scale, args)
    finally:
        run.clean_up(procs, workdir, os.path.join(out_dir, "scale-logs"))

    info = run.versions(sys.executable)
    info["commit"] = commit()
    tab = table(res)
    print()
    print(tab)
    print(f"\n(total {time.time() - started:.0f} s)")
    with open(os.path.join(out_dir, "scale.json"), "w") as f:
        json.dump({"info": info, "options": vars(args), "results": res, "commands": commands,
                   "cluster_queues": scale.cluster_queues, "cluster_url": scale.cluster_url}, f, indent=2,
                  default=str)
    print(f"wrote {os.path.relpath(os.path.join(out_dir, 'scale.json'))}")
    if args.write_results:
        write_results(os.path.join(HERE, "RESULTS.md"), info, tab, args, scale.shown_commands, res, scale)
        print(f"wrote {os.path.relpath(os.path.join(HERE, 'RESULTS.md'))}")


if __name__ == "__main__":
    try:
        main()
    except run.Stop as e:
        sys.exit(str(e))
