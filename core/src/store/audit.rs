//! The audit log: who signed in (or failed to), changed a role or a
//! password, voided a payment, reissued a pickup PIN, or acted on the job
//! queues (pause, resume, cancel, run now, retry, discard), when, and from
//! which address. Rows are only ever added; admins read them.

use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};

use super::{Store, StoreResult};

/// What was done.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A sign-in that succeeded.
    SignIn,
    /// A sign-in with a wrong password or an unknown or inactive account
    /// (the subject is the email given).
    SignInFailed,
    /// A user's role, branch or active flag changed.
    UserChanged,
    /// A user created.
    UserCreated,
    /// A user changed their own password.
    PasswordChanged,
    /// An admin set a new password for a user.
    PasswordReset,
    /// A payment voided (the detail is the reason).
    PaymentVoided,
    /// A new pickup PIN issued for a parcel.
    PinReissued,
    /// A failed SMS or email sent again from the console.
    MessageResent,
    /// A job queue paused (the subject is `queue:<name>`).
    QueuePaused,
    /// A job queue resumed.
    QueueResumed,
    /// A job cancelled, or asked to stop (the subject is `job:<id>`).
    JobCancelled,
    /// A scheduled or retrying job made due now.
    JobRunNow,
    /// Dead jobs queued again; the detail says how many and which (ids,
    /// or the filter).
    JobsRetried,
    /// Dead jobs deleted; the detail says how many and which.
    JobsDiscarded,
    /// A queue's waiting jobs deleted (the subject is `queue:<name>`; the
    /// detail says how many).
    QueuePurged,
    /// A job enqueued again as a copy, its payload maybe edited (the
    /// subject is the new `job:<id>`; the detail names the original).
    JobDuplicated,
    /// A schedule entry run outside its schedule (the subject is
    /// `schedule:<entry>`; the detail names the job).
    ScheduleRunNow,
}

impl AuditAction {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::UserChanged => "user_changed",
            Self::UserCreated => "user_created",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::PaymentVoided => "payment_voided",
            Self::PinReissued => "pin_reissued",
            Self::MessageResent => "message_resent",
            Self::QueuePaused => "queue_paused",
            Self::QueueResumed => "queue_resumed",
            Self::JobCancelled => "job_cancelled",
            Self::JobRunNow => "job_run_now",
            Self::JobsRetried => "jobs_retried",
            Self::JobsDiscarded => "jobs_discarded",
            Self::QueuePurged => "queue_purged",
            Self::JobDuplicated => "job_duplicated",
            Self::ScheduleRunNow => "schedule_run_now",
        }
    }

    /// Every action, as the log's filters offer them.
    pub const ALL: [AuditAction; 18] = [
        Self::SignIn,
        Self::SignInFailed,
        Self::UserChanged,
        Self::UserCreated,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::PaymentVoided,
        Self::PinReissued,
        Self::MessageResent,
        Self::QueuePaused,
        Self::QueueResumed,
        Self::JobCancelled,
        Self::JobRunNow,
        Self::JobsRetried,
        Self::JobsDiscarded,
        Self::QueuePurged,
        Self::JobDuplicated,
        Self::ScheduleRunNow,
    ];

    /// The action named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One audited action, to write.
#[derive(Clone, Debug)]
pub struct AuditEntry<'a> {
    /// Who did it (`None` for an unknown or failed sign-in).
    pub actor_id: Option<i64>,
    /// What.
    pub action: AuditAction,
    /// To what: `user:7`, `payment:12`, `parcel:40`, `queue:sms`,
    /// `job:<id>`, or the email of a sign-in.
    pub subject: Option<&'a str>,
    /// Words worth keeping (a void's reason, the fields changed). Never a
    /// password, a PIN or a token.
    pub detail: &'a str,
    /// The client's address, when known.
    pub client_addr: Option<&'a str>,
}

/// One row of the audit log.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    /// Id; later rows have larger ids.
    pub id: i64,
    /// When (Unix ms).
    pub created_at_ms: i64,
    /// Who.
    pub actor_id: Option<i64>,
    /// Their name, when a user acted.
    pub actor_name: Option<String>,
    /// What.
    pub action: AuditAction,
    /// To what.
    pub subject: Option<String>,
    /// Details.
    pub detail: String,
    /// From which address.
    pub client_addr: Option<String>,
}

/// Which rows to read: newest first, `limit` of them, older than
/// `before_id` when given.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only this actor.
    pub actor_id: Option<i64>,
    /// Only rows older than this id (the next page).
    pub before_id: Option<i64>,
    /// How many rows, at most.
    pub limit: u32,
}

/// The longest detail kept; longer ones are cut.
const DETAIL_CHARS: usize = 500;

impl Store {
    /// Writes `entry` to the audit log.
    pub async fn audit(&self, entry: &AuditEntry<'_>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        audit_in(&mut tx, entry, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reads the audit log, newest first.
    pub async fn audit_log(&self, f: &AuditFilter) -> StoreResult<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT a.id, a.created_at, a.actor_id, u.name AS actor_name, a.action, a.subject, \
             a.detail, a.client_addr FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id \
             WHERE (CAST($1 AS TEXT) IS NULL OR a.action = $1) \
             AND (CAST($2 AS BIGINT) IS NULL OR a.actor_id = $2) \
             AND (CAST($3 AS BIGINT) IS NULL OR a.id < $3) ORDER BY a.id DESC LIMIT $4",
        )
        .bind(f.action.map(AuditAction::as_str))
        .bind(f.actor_id)
        .bind(f.before_id)
        .bind(i64::from(f.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let action: String = r.try_get("action")?;
                Ok(AuditRow {
                    id: r.try_get("id")?,
                    created_at_ms: r.try_get("created_at")?,
                    actor_id: r.try_get("actor_id")?,
                    actor_name: r.try_get("actor_name")?,
                    action: AuditAction::parse(&action).ok_or_else(|| {
                        super::StoreError::Database(format!(
                            "unknown audit action {action:?} in the database"
                        ))
                    })?,
                    subject: r.try_get("subject")?,
                    detail: r.try_get("detail")?,
                    client_addr: r.try_get("client_addr")?,
                })
            })
            .collect()
    }
}

/// Writes `entry` in `tx`, so it commits with the change it records.
pub(super) async fn audit_in(
    tx: &mut Transaction<'static, Any>,
    entry: &AuditEntry<'_>,
    now: i64,
) -> StoreResult<()> {
    let detail: String = entry.detail.chars().take(DETAIL_CHARS).collect();
    let subject: Option<String> = entry
        .subject
        .map(|s| s.chars().take(super::limits::EMAIL_CHARS).collect());
    sqlx::query(
        "INSERT INTO audit_log (created_at, actor_id, action, subject, detail, client_addr) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now)
    .bind(entry.actor_id)
    .bind(entry.action.as_str())
    .bind(subject)
    .bind(detail)
    .bind(entry.client_addr)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
