//! Script answers and job hashes, read into the broker's types.

use std::collections::HashMap;

use redis::Value;

use crate::broker::{JobId, JobInfo, JobState, Leased};
use crate::policy::{JobPolicy, RetryPolicy};

pub(super) fn info_from_hash(id: &str, queue: &str, h: &HashMap<String, String>) -> JobInfo {
    let int = |f: &str| h.get(f).and_then(|v| v.parse::<i64>().ok());
    JobInfo {
        id: JobId(id.to_owned()),
        queue: queue.to_owned(),
        name: h.get("n").cloned().unwrap_or_default(),
        payload: h.get("p").cloned().unwrap_or_default(),
        state: h
            .get("s")
            .and_then(|s| JobState::parse(s))
            .unwrap_or(JobState::Queued),
        attempts: int("a").and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        max_attempts: int("m").and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        enqueued_at_ms: int("e").unwrap_or(0),
        run_at_ms: int("r").unwrap_or(0),
        started_at_ms: int("st"),
        finished_at_ms: int("f"),
        last_error: h.get("err").cloned(),
        result: h.get("res").cloned(),
        worker: h.get("w").cloned(),
        // Absent from jobs enqueued without one, and from every job
        // enqueued before request ids were kept.
        request_id: h.get("rq").filter(|r| !r.is_empty()).cloned(),
    }
}

/// Jobs from the twelve-values-per-job answer of `take()`.
pub(super) fn parse_leased(vals: &[Value], queue: &str, token_prefix: &str) -> Vec<Leased> {
    vals.chunks_exact(12)
        .map(|f| Leased {
            id: JobId(as_string(&f[0])),
            queue: queue.to_owned(),
            name: as_string(&f[1]),
            payload: as_string(&f[2]),
            attempt: u32::try_from(as_int(&f[3])).unwrap_or(1),
            policy: JobPolicy {
                retry: RetryPolicy {
                    max_attempts: u32::try_from(as_int(&f[4])).unwrap_or(1),
                    backoff_base_ms: u64::try_from(as_int(&f[6])).unwrap_or(1000),
                    backoff_max_ms: u64::try_from(as_int(&f[7])).unwrap_or(60_000),
                },
                timeout_ms: u64::try_from(as_int(&f[5])).unwrap_or(300_000),
            },
            enqueued_at_ms: as_int(&f[8]),
            due_at_ms: as_int(&f[9]),
            token: format!("{token_prefix}{}", as_int(&f[10])),
            request_id: Some(as_string(&f[11])).filter(|r| !r.is_empty()),
        })
        .collect()
}

fn as_string(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        _ => String::new(),
    }
}

pub(super) fn as_int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => as_string(other).parse().unwrap_or(0),
    }
}
