//! `sms.send` and `email.send` through the real runtime and broker: SMS to a
//! fake of the Liwa gateway that speaks its wire format (and fails on
//! demand), email to a real SMTP server (maildev) whose captured message is
//! read back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::common::{Env, Fault, Liwa, Maildev, TO_DESTINATION, eventually, register, setup, walk};
use paqueteria_core::domain::ParcelEvent;
use paqueteria_core::jobs::Job;
use paqueteria_core::store::Notification;
use paqueteria_jobs::broker::JobState;
use paqueteria_worker::transport::ratelimit::RateLimit;

const QUEUES: &[&str] = &["sms", "default"];

async fn relay(env: &Env) {
    env.store()
        .relay_outbox(env.broker().as_ref(), 100)
        .await
        .unwrap();
}

async fn notes(env: &Env, parcel: i64, channel: &str) -> Vec<Notification> {
    env.store()
        .notifications(parcel)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.channel == channel)
        .collect()
}

async fn job_state(env: &Env, n: &Notification) -> (JobState, Option<String>) {
    let id = paqueteria_jobs::JobId::parse(n.job_id.clone().unwrap()).unwrap();
    let info = env.broker().job(&id).await.unwrap().unwrap();
    (info.state, info.last_error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_reaches_the_gateway_once_with_both_headers_and_records_its_id() {
    let liwa = Liwa::start().await;
    let env = Env::start(false, &liwa.env(), QUEUES).await;
    let s = env.store();
    let (a, b) = setup(s).await;
    // The first send finds the token expired: one new login, then success.
    liwa.fail_next(Fault::Unauthorized);
    let p = walk(
        s,
        register(s, a, b, 1, false).await,
        &[ParcelEvent::Receive],
    )
    .await;
    relay(&env).await;
    eventually(
        Duration::from_secs(20),
        "the SMS row to be sent",
        || async { notes(&env, p.id, "sms").await[0].state == "sent" },
    )
    .await;
    let sent = liwa.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["number"], "573002200001", "E.164 without the plus");
    assert_eq!(sent[0]["type"], 1);
    assert!(
        sent[0]["message"]
            .as_str()
            .unwrap()
            .contains(p.tracking_code.as_str())
    );
    assert_eq!(liwa.logins(), 2, "logged in, then once more after the 401");
    let n = &notes(&env, p.id, "sms").await[0];
    assert_eq!(n.transport.as_deref(), Some("liwa"));
    assert_eq!(n.provider_message_id.as_deref(), Some("299303865"));

    // The same message delivered again (a second job for the row, as a
    // redelivery would be) sends nothing.
    let mut again = paqueteria_core::jobs::SendSms {
        notification_id: n.id,
        to: paqueteria_core::domain::Phone::parse(&n.recipient).unwrap(),
        body: n.body.clone(),
    }
    .to_new_job()
    .unwrap();
    again.id = paqueteria_jobs::JobId::generate();
    let id = env.broker().enqueue(again).await.unwrap().id;
    eventually(
        Duration::from_secs(20),
        "the second job to finish",
        || async { env.broker().job(&id).await.unwrap().unwrap().state == JobState::Succeeded },
    )
    .await;
    let result = env
        .broker()
        .job(&id)
        .await
        .unwrap()
        .unwrap()
        .result
        .unwrap();
    assert!(result.contains("already sent"), "{result}");
    assert_eq!(liwa.messages().len(), 1, "still one SMS");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_errors_retry_and_refusals_go_to_the_dead_set_with_the_message() {
    let liwa = Liwa::start().await;
    let env = Env::start(false, &liwa.env(), QUEUES).await;
    let s = env.store();
    let (a, b) = setup(s).await;

    liwa.fail_next(Fault::ServerError);
    let p = walk(
        s,
        register(s, a, b, 1, false).await,
        &[ParcelEvent::Receive],
    )
    .await;
    relay(&env).await;
    let n = notes(&env, p.id, "sms").await.remove(0);
    eventually(Duration::from_secs(20), "a retry after the 500", || async {
        job_state(&env, &n).await.0 == JobState::Retrying
    })
    .await;
    let (_, error) = job_state(&env, &n).await;
    assert!(error.unwrap().contains("500"));
    let n = notes(&env, p.id, "sms").await.remove(0);
    assert_eq!(n.state, "enqueued", "given back for the retry");
    assert!(liwa.messages().is_empty());

    liwa.fail_next(Fault::TooMany);
    let q = walk(
        s,
        register(s, a, b, 2, false).await,
        &[ParcelEvent::Receive],
    )
    .await;
    relay(&env).await;
    let n = notes(&env, q.id, "sms").await.remove(0);
    eventually(Duration::from_secs(20), "a retry after the 429", || async {
        job_state(&env, &n).await.0 == JobState::Retrying
    })
    .await;

    liwa.fail_next(Fault::Refused("Numero invalido"));
    let r = walk(
        s,
        register(s, a, b, 3, false).await,
        &[ParcelEvent::Receive],
    )
    .await;
    relay(&env).await;
    let n = notes(&env, r.id, "sms").await.remove(0);
    eventually(
        Duration::from_secs(20),
        "the refusal in the dead set",
        || async { job_state(&env, &n).await.0 == JobState::Dead },
    )
    .await;
    let (_, error) = job_state(&env, &n).await;
    assert!(error.unwrap().contains("Numero invalido"));
    let n = notes(&env, r.id, "sms").await.remove(0);
    assert_eq!(n.state, "failed");
    assert!(n.error.unwrap().contains("Numero invalido"));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_gateway_times_out_and_the_attempt_is_retried() {
    let liwa = Liwa::start().await;
    let mut vars = liwa.env();
    vars.push(("SMS_TIMEOUT", "300ms".to_owned()));
    let env = Env::start(false, &vars, QUEUES).await;
    let s = env.store();
    let (a, b) = setup(s).await;
    liwa.fail_next(Fault::Slow(Duration::from_secs(2)));
    let p = walk(
        s,
        register(s, a, b, 1, false).await,
        &[ParcelEvent::Receive],
    )
    .await;
    relay(&env).await;
    let n = notes(&env, p.id, "sms").await.remove(0);
    eventually(
        Duration::from_secs(20),
        "a retry after the timeout",
        || async { job_state(&env, &n).await.0 == JobState::Retrying },
    )
    .await;
    assert!(job_state(&env, &n).await.1.unwrap().contains("timed out"));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_arrives_at_the_smtp_server_with_both_parts() {
    let mail = Maildev::start().await;
    let vars = vec![
        ("SMTP_URL", mail.smtp_url()),
        (
            "MAIL_FROM",
            "Paqueteria <no-reply@paqueteria.test>".to_owned(),
        ),
    ];
    let env = Env::start(false, &vars, QUEUES).await;
    let s = env.store();
    let (a, b) = setup(s).await;
    let p = walk(s, register(s, a, b, 7, true).await, &TO_DESTINATION).await;
    relay(&env).await;
    eventually(Duration::from_secs(20), "two emails captured", || async {
        mail.emails().await.len() == 2
    })
    .await;
    let emails = mail.emails().await;
    let code = p.tracking_code.as_str();
    let ready = emails
        .iter()
        .find(|e| {
            e["subject"]
                .as_str()
                .unwrap()
                .contains("listo para recoger")
        })
        .expect("the ready-for-pickup email");
    assert_eq!(ready["to"][0]["address"], "cliente7@example.com");
    assert_eq!(ready["from"][0]["address"], "no-reply@paqueteria.test");
    assert!(ready["subject"].as_str().unwrap().contains(code));
    let text = ready["text"].as_str().unwrap();
    assert!(
        text.contains(code) && text.contains("Medellín Norte"),
        "{text}"
    );
    let html = ready["html"].as_str().unwrap();
    assert!(
        html.contains(code) && html.contains("<a href=\"http://127.0.0.1:8000/api/v1/track/"),
        "{html}"
    );
    for n in notes(&env, p.id, "email").await {
        assert_eq!(
            (n.state.as_str(), n.transport.as_deref()),
            ("sent", Some("smtp"))
        );
    }
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_smtp_password_is_a_permanent_failure() {
    let mail = Maildev::start().await;
    let url = format!(
        "smtp://{}:wrong@127.0.0.1:{}",
        crate::common::SMTP_USER,
        mail.smtp_port
    );
    let vars = vec![
        ("SMTP_URL", url),
        ("MAIL_FROM", "no-reply@paqueteria.test".to_owned()),
    ];
    let env = Env::start(false, &vars, QUEUES).await;
    let s = env.store();
    let (a, b) = setup(s).await;
    let p = walk(s, register(s, a, b, 7, true).await, &[ParcelEvent::Receive]).await;
    relay(&env).await;
    let n = notes(&env, p.id, "email").await.remove(0);
    eventually(
        Duration::from_secs(20),
        "the email job in the dead set",
        || async { job_state(&env, &n).await.0 == JobState::Dead },
    )
    .await;
    assert!(mail.emails().await.is_empty());
    env.finish().await;
}

/// Two workers' limiters on one Redis share one budget: 12 messages at
/// 5 a second take at least 2.2 s however they are split.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sms_rate_limit_is_shared_through_redis() {
    let url =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    two_limiters_share_one_budget(&url, &url).await;
}

/// The same on a Redis Cluster (`TEST_REDIS_CLUSTER_URL`, which
/// `scripts/test` sets), the second limiter knowing only the last node of
/// the URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sms_rate_limit_is_shared_through_a_redis_cluster() {
    let url = std::env::var("TEST_REDIS_CLUSTER_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_REDIS_CLUSTER_URL is unset: run scripts/test, which starts a local \
             Redis Cluster, or set it to a cluster's URL (redis+cluster://host:port,...)"
        )
    });
    let (scheme, rest) = url.split_once("://").unwrap();
    let (auth, hosts) = rest.rsplit_once('@').unwrap_or(("", rest));
    let last = hosts.split('/').next().unwrap().rsplit(',').next().unwrap();
    let at = if auth.is_empty() {
        String::new()
    } else {
        format!("{auth}@")
    };
    let base = scheme.trim_end_matches("+cluster");
    let one_node = format!("{base}+cluster://{at}{last}");
    two_limiters_share_one_budget(&url, &one_node).await;
}

async fn two_limiters_share_one_budget(url_a: &str, url_b: &str) {
    let prefix = format!("test:{}", uuid::Uuid::now_v7().simple());
    let mut a = RateLimit::redis(url_a, &prefix, 5).await.unwrap();
    let mut b = RateLimit::redis(url_b, &prefix, 5).await.unwrap();
    let started = Instant::now();
    tokio::join!(
        async {
            for _ in 0..6 {
                a.acquire().await;
            }
        },
        async {
            for _ in 0..6 {
                b.acquire().await;
            }
        }
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2_150),
        "12 at 5/s took {took:?}"
    );
}

/// Five SMS at a limit of one a second: each waits for its turn (in its slot
/// when the turn is near, snoozed otherwise), none uses up an attempt, and
/// the gateway sees them one a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_over_the_rate_limit_wait_their_turn_without_using_attempts() {
    let liwa = Liwa::start().await;
    let mut vars = liwa.env();
    vars.push(("SMS_RATE_LIMIT", "1".to_owned()));
    let env = Env::start(false, &vars, QUEUES).await;
    let s = env.store();
    let (a, b) = setup(s).await;
    let mut parcels = Vec::new();
    for n in 1..=5 {
        parcels.push(
            walk(
                s,
                register(s, a, b, n, false).await,
                &[ParcelEvent::Receive],
            )
            .await,
        );
    }
    let started = Instant::now();
    relay(&env).await;
    eventually(Duration::from_secs(30), "five SMS sent", || async {
        liwa.messages().len() == 5
    })
    .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(3_900),
        "five SMS at one a second went out in {took:?}"
    );
    for p in &parcels {
        let n = notes(&env, p.id, "sms").await.remove(0);
        eventually(Duration::from_secs(10), "the SMS job to finish", || async {
            job_state(&env, &n).await.0 == JobState::Succeeded
        })
        .await;
        let id = paqueteria_jobs::JobId::parse(n.job_id.clone().unwrap()).unwrap();
        let info = env.broker().job(&id).await.unwrap().unwrap();
        assert_eq!(info.attempts, 1, "waiting for a turn is not an attempt");
    }
    env.finish().await;
}
