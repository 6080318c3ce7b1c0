//! `bench-enqueue --kind K --count N --ms M --rate R --seq-start S [--batch B]`:
//! sends bench jobs through the real enqueue API. See `bench/README.md`.

use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use paqueteria_bench::{BenchEnv, KINDS, new_job};

#[derive(Parser)]
struct Args {
    /// noop, sleep_ms or cpu_ms.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(KINDS))]
    kind: String,
    /// Jobs to send.
    #[arg(long)]
    count: u64,
    /// Milliseconds for sleep_ms and cpu_ms.
    #[arg(long, default_value_t = 0)]
    ms: u64,
    /// Jobs per second on a fixed schedule; 0 = as fast as possible.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// seq of the first job; may be negative, also as a separate word
    /// (`--seq-start -1`).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seq_start: i64,
    /// Jobs per batched enqueue call; without it, one job per call.
    #[arg(long)]
    batch: Option<usize>,
    /// Calls in flight at once when sending as fast as possible (the app
    /// serves many requests at once; each still enqueues one job per call).
    #[arg(long, default_value_t = 16)]
    inflight: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let env = BenchEnv::from_env()?;
    let broker = env.broker().await?;
    let start = Instant::now();
    if let Some(batch) = args.batch.filter(|b| *b > 0) {
        let mut seq = args.seq_start;
        let end = args.seq_start + i64::try_from(args.count)?;
        while seq < end {
            let n = usize::try_from((end - seq).min(i64::try_from(batch)?))?;
            let jobs = (0..n)
                .map(|i| {
                    new_job(
                        &env,
                        &args.kind,
                        seq + i64::try_from(i).unwrap_or(0),
                        args.ms,
                    )
                })
                .collect();
            broker.enqueue_many(jobs).await?;
            seq += i64::try_from(n)?;
        }
    } else if args.rate > 0.0 {
        // A fixed schedule: send i at start + i/R, each in its own task so a
        // slow reply never delays the next send.
        let mut tasks = Vec::with_capacity(usize::try_from(args.count)?);
        for i in 0..args.count {
            let due = start + Duration::from_secs_f64(i as f64 / args.rate);
            tokio::time::sleep_until(due.into()).await;
            let job = new_job(
                &env,
                &args.kind,
                args.seq_start + i64::try_from(i)?,
                args.ms,
            );
            let broker = broker.clone();
            tasks.push(tokio::spawn(async move { broker.enqueue(job).await }));
        }
        for t in tasks {
            t.await??;
        }
    } else {
        let results: Vec<_> = futures::stream::iter(0..args.count)
            .map(|i| {
                let broker = broker.clone();
                let job = new_job(
                    &env,
                    &args.kind,
                    args.seq_start + i64::try_from(i).unwrap_or(0),
                    args.ms,
                );
                async move { broker.enqueue(job).await }
            })
            .buffer_unordered(args.inflight.max(1))
            .collect()
            .await;
        for r in results {
            r?;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "count": args.count, "seconds": seconds })
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::Args;
    use clap::Parser;

    /// The bench contract writes `--seq-start -1`, the value as its own word.
    #[test]
    fn a_negative_seq_start_is_accepted_as_a_separate_word() {
        for argv in [
            [
                "bench-enqueue",
                "--kind",
                "noop",
                "--count",
                "1",
                "--seq-start",
                "-1",
            ]
            .as_slice(),
            [
                "bench-enqueue",
                "--kind",
                "noop",
                "--count",
                "1",
                "--seq-start=-1",
            ]
            .as_slice(),
        ] {
            let args = Args::try_parse_from(argv).unwrap();
            assert_eq!(args.seq_start, -1, "{argv:?}");
        }
    }
}
