//! `email.send`: one email over SMTP (lettre), text and HTML from the
//! event's template, or into the outbox when no SMTP server is configured.
//! Effectively-once on the notification row, like `sms.send`.

use std::sync::Arc;

use paqueteria_core::jobs::SendEmail;
use paqueteria_core::store::Claim;
use serde_json::json;

use super::sms::{notified, send_failed, store_error};
use super::{Handlers, JobContext, JobError, JobResult, Services};
use crate::transport::email::{Mailer, Templates};
use paqueteria_core::telemetry::Sent;

/// Templates whose email repeats the event's own sentence (it carries the
/// reason the staff gave).
const WITH_MESSAGE: &[&str] = &["failed_attempt", "cancelled", "returned"];

/// Registers `email.send`; a malformed `SMTP_URL` or `MAIL_FROM` fails here.
pub fn register(h: &mut Handlers, services: &Arc<Services>) -> anyhow::Result<()> {
    let templates = Arc::new(Templates::load()?);
    let mailer = match &services.settings.transports.smtp {
        Some(smtp) => Some(Arc::new(Mailer::new(smtp)?)),
        None => None,
    };
    let s = services.clone();
    h.register::<SendEmail, _, _>(move |ctx, job| {
        let (s, templates, mailer) = (s.clone(), templates.clone(), mailer.clone());
        async move { send(&s, &templates, mailer.as_deref(), ctx, job).await }
    });
    Ok(())
}

/// The template's values: the job's context plus the parcel's facts.
async fn context(s: &Services, template: &str, given: &serde_json::Value) -> serde_json::Value {
    let mut ctx = match given {
        serde_json::Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let public = &s.settings.transports.public_url;
    if let Some(parcel_id) = ctx.get("parcel_id").and_then(serde_json::Value::as_i64)
        && let Ok(p) = s.store.parcel(parcel_id).await
    {
        let code = p.tracking_code.as_str().to_owned();
        ctx.insert(
            "track_url".into(),
            format!("{public}/api/v1/track/{code}").into(),
        );
        ctx.insert("tracking_code".into(), code.into());
        ctx.insert("status".into(), p.status.as_str().into());
        for (key, branch) in [
            ("origin", p.origin_branch_id),
            ("destination", p.destination_branch_id),
        ] {
            if let Ok(b) = s.store.branch(branch).await {
                ctx.insert(key.into(), b.name.into());
            }
        }
    }
    if WITH_MESSAGE.contains(&template)
        && let Some(m) = ctx.get("subject").cloned()
    {
        ctx.insert("message".into(), m);
    }
    serde_json::Value::Object(ctx)
}

async fn send(
    s: &Services,
    templates: &Templates,
    mailer: Option<&Mailer>,
    ctx: JobContext,
    job: SendEmail,
) -> JobResult {
    if !templates.has(&job.template) {
        return Err(JobError::abort(format!(
            "no email template {:?}",
            job.template
        )));
    }
    let id = job.notification_id;
    match s.store.claim_notification(id).await.map_err(store_error)? {
        Claim::Send(_) => {}
        Claim::AlreadySent(n) => {
            notified("email", Sent::Duplicate);
            tracing::info!(job_id = %ctx.id, notification_id = id, "email already sent; nothing to do");
            return Ok(Some(
                json!({ "skipped": "already sent", "provider_message_id": n.provider_message_id }),
            ));
        }
        Claim::Unknown(_) => {
            notified("email", Sent::Unknown);
            tracing::warn!(job_id = %ctx.id, notification_id = id,
                "an earlier attempt stopped during the send; not sending again to avoid a duplicate");
            return Ok(Some(
                json!({ "skipped": "outcome of an earlier attempt unknown" }),
            ));
        }
    }
    let values = context(s, &job.template, &job.context).await;
    let mail = match templates.render(&job.template, &values) {
        Ok(m) => m,
        Err(e) => {
            s.store
                .mark_notification_failed(id, &e)
                .await
                .map_err(store_error)?;
            notified("email", Sent::Rejected);
            return Err(JobError::Abort(e));
        }
    };
    let Some(mailer) = mailer else {
        s.store
            .deliver_to_outbox(id, Some(&mail.subject), &mail.text, Some(&mail.html))
            .await
            .map_err(store_error)?;
        notified("email", Sent::Outboxed);
        tracing::info!(job_id = %ctx.id, notification_id = id, "email kept in the outbox (no SMTP configured)");
        return Ok(Some(json!({ "transport": "outbox" })));
    };
    match mailer.send(&job.to, &mail).await {
        Ok(answer) => {
            s.store
                .mark_notification_sent(id, "smtp", Some(&answer))
                .await
                .map_err(store_error)?;
            notified("email", Sent::Sent);
            tracing::info!(job_id = %ctx.id, notification_id = id, "email sent");
            Ok(Some(
                json!({ "transport": "smtp", "server_answer": answer }),
            ))
        }
        Err(e) => {
            notified("email", e.outcome());
            Err(send_failed(s, id, e).await)
        }
    }
}
