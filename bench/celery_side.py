"""The Celery side of bench/run.py, kept out of it to keep it short."""

# The Celery side, written to a temp dir at run time (nothing here is
# imported as Celery code). Same kinds, same side effect as
# bench/src/lib.rs. Celery's defaults are left alone unless the harness asks
# for the at-least-once set-up (BENCH_CELERY_AT_LEAST_ONCE=1: acks_late,
# prefetch multiplier 1).
CELERY_TASKS = r'''
import os, time
import redis
from celery import Celery

app = Celery("benchtasks", broker=os.environ["BENCH_REDIS_URL"])
app.conf.update(
    task_default_queue=os.environ.get("BENCH_QUEUE", "default"),
    task_ignore_result=True,                  # no result backend is configured anyway
    broker_connection_retry_on_startup=True,  # silences a deprecation warning
    worker_hijack_root_logger=False,
)
if os.environ.get("BENCH_CELERY_AT_LEAST_ONCE") == "1":
    app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1)

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

# Celery's counterpart of bench-enqueue, same flags, same last line. One job
# per call is apply_async; batched is group(...).apply_async(), which is what
# Celery offers for sending many at once (it publishes them one by one over
# one producer: Celery has no batched publish).
CELERY_ENQUEUE = r'''
import argparse, json, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchtasks import app
from celery import group

a = argparse.ArgumentParser()
a.add_argument("--kind", required=True); a.add_argument("--count", type=int, required=True)
a.add_argument("--ms", type=int, default=0); a.add_argument("--rate", type=float, default=0.0)
a.add_argument("--seq-start", type=int, default=0); a.add_argument("--batch", type=int, default=0)
o = a.parse_args()
task = app.tasks[o.kind]
app.connection_for_write().ensure_connection(max_retries=3)  # connect outside the timed loop
start = time.time()
if o.batch:
    seq, end = o.seq_start, o.seq_start + o.count
    while seq < end:
        n = min(o.batch, end - seq)
        group(task.s(seq + i, time.time(), o.ms) for i in range(n)).apply_async()
        seq += n
else:
    for i in range(o.count):
        if o.rate > 0:
            d = start + i / o.rate - time.time()
            if d > 0:
                time.sleep(d)
        task.apply_async((o.seq_start + i, time.time(), o.ms))
print(json.dumps({"count": o.count, "seconds": time.time() - start}))
'''
