//! What is done to accounts after they exist: a user changes their own
//! password, an admin resets one or changes a user's role, branch, active
//! flag or name, and the paged list of users.
//!
//! Each change commits with its audit row, and ends at once the sessions it
//! must end: in the database, and in this process's session cache (so the
//! very next request with such a token is a 401, even one remembered a
//! moment ago). Another app process sharing the database may still accept
//! a token it remembered for up to `SESSION_CACHE_TTL`.

use serde::Serialize;
use sqlx::{Any, Transaction};

use super::audit::audit_in;
use super::limits::{NAME_CHARS, Problem};
use super::passwords::password_problem;
use super::users::{
    USER_COLUMNS, hash_password, off_the_async_threads, token_hash, user_from, verify_password,
};
use super::{AuditAction, AuditEntry, Engine, Store, StoreError, StoreResult, User};
use crate::domain::Role;

/// Who is acting, for the audit log.
#[derive(Clone, Copy, Debug)]
pub struct Acting<'a> {
    /// The signed-in user.
    pub user_id: i64,
    /// Their address, when known.
    pub client_addr: Option<&'a str>,
}

/// An admin's changes to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserChanges {
    /// A new role.
    pub role: Option<Role>,
    /// A new branch (`Some(None)`: none, which only an admin may have).
    pub branch_id: Option<Option<i64>>,
    /// Whether they may sign in; `false` ends their sessions.
    pub active: Option<bool>,
    /// A new full name.
    pub name: Option<String>,
}

/// One page of users, by email.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserPage {
    /// The users of this page.
    pub items: Vec<User>,
    /// Users in all.
    pub total: i64,
    /// This page, from 1.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

fn problems_of(problems: Vec<(&str, String)>) -> StoreResult<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Fields(
            problems
                .into_iter()
                .map(|(f, m)| (f.to_owned(), m))
                .collect::<Vec<Problem>>(),
        ))
    }
}

impl Store {
    /// Changes a user's own password: `current` must be theirs and `new`
    /// pass the policy (both are checked, every failing field named:
    /// `current_password`, `new_password`). Every session of the user but
    /// the one whose token is `keep_token` ends.
    pub async fn change_password(
        &self,
        actor: &Acting<'_>,
        current: &str,
        new: &str,
        keep_token: Option<&str>,
    ) -> StoreResult<()> {
        let mut problems = Vec::new();
        if let Some(p) = password_problem(new) {
            problems.push(("new_password", p));
        }
        let stored: Option<String> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1 AND active = $2")
                .bind(actor.user_id)
                .bind(1_i64)
                .fetch_optional(&self.pool)
                .await?;
        let stored = stored.ok_or(StoreError::NotFound("user"))?;
        let (given, phc) = (current.to_owned(), stored.clone());
        let matches = off_the_async_threads(move || verify_password(&given, &phc)).await?;
        if !matches {
            problems.insert(
                0,
                (
                    "current_password",
                    "is not your current password".to_owned(),
                ),
            );
        } else if problems.is_empty() && current == new {
            problems.push((
                "new_password",
                "must differ from the current password".to_owned(),
            ));
        }
        problems_of(problems)?;
        let password = new.to_owned();
        let hash = off_the_async_threads(move || hash_password(&password)).await??;
        let keep = keep_token.map(token_hash);
        let now = self.now();
        let mut tx = self.begin().await?;
        // Against the hash that was checked: a change made meanwhile (a
        // reset, another device) is not overwritten unseen.
        let changed =
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                .bind(hash)
                .bind(actor.user_id)
                .bind(&stored)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed == 0 {
            return Err(StoreError::Conflict(
                "the password was changed meanwhile; sign in again".to_owned(),
            ));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(actor.user_id)
            .bind(keep.as_deref().unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        audit_in(
            &mut tx,
            &AuditEntry {
                actor_id: Some(actor.user_id),
                action: AuditAction::PasswordChanged,
                subject: Some(&format!("user:{}", actor.user_id)),
                detail: "other sessions ended",
                client_addr: actor.client_addr,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        self.sessions.forget_user(actor.user_id, keep.as_deref());
        Ok(())
    }

    /// An admin sets a new password for user `id` (the policy applies,
    /// field `new_password`); every session of that user ends.
    pub async fn reset_password(&self, actor: &Acting<'_>, id: i64, new: &str) -> StoreResult<()> {
        if let Some(p) = password_problem(new) {
            return Err(StoreError::Invalid {
                field: "new_password",
                message: p,
            });
        }
        // 404 before any hashing
        self.user(id).await?;
        let password = new.to_owned();
        let hash = off_the_async_threads(move || hash_password(&password)).await??;
        let now = self.now();
        let mut tx = self.begin().await?;
        let changed = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("user"));
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit_in(
            &mut tx,
            &AuditEntry {
                actor_id: Some(actor.user_id),
                action: AuditAction::PasswordReset,
                subject: Some(&format!("user:{id}")),
                detail: "all sessions ended",
                client_addr: actor.client_addr,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        self.sessions.forget_user(id, None);
        Ok(())
    }

    /// An admin changes user `id`: role, branch, active flag, name. A role
    /// other than admin needs a branch (422 naming `branch_id`, when the
    /// role or the branch changes); the last
    /// active admin cannot be demoted or deactivated (409); deactivating
    /// ends every session of the user at once. The audit row names each
    /// field changed, before and after. Nothing changed, nothing written.
    pub async fn update_user(
        &self,
        actor: &Acting<'_>,
        id: i64,
        changes: &UserChanges,
    ) -> StoreResult<User> {
        let name = changes.name.as_ref().map(|n| n.trim().to_owned());
        let mut problems = Vec::new();
        if let Some(n) = &name {
            let chars = n.chars().count();
            if chars == 0 || chars > NAME_CHARS {
                problems.push((
                    "name",
                    format!("must have 1 to {NAME_CHARS} characters, got {chars}"),
                ));
            }
        }
        let mut tx = self.begin().await?;
        let may_demote =
            changes.role.is_some_and(|r| r != Role::Admin) || changes.active == Some(false);
        if may_demote {
            // PostgreSQL: the active admins are locked, in one order, before
            // anything is read, so that two admins demoting each other at
            // once are serialised and the second finds itself the last.
            // (SQLite's write transaction already holds the only lock.)
            self.lock_active_admins(&mut tx).await?;
        }
        let before = self.user_in(&mut tx, id).await?;
        let after = User {
            role: changes.role.unwrap_or(before.role),
            branch_id: changes.branch_id.unwrap_or(before.branch_id),
            active: changes.active.unwrap_or(before.active),
            name: name.unwrap_or_else(|| before.name.clone()),
            ..before.clone()
        };
        if let Some(branch) = after.branch_id.filter(|b| Some(*b) != before.branch_id) {
            let active: Option<i64> =
                sqlx::query_scalar("SELECT id FROM branches WHERE id = $1 AND active = $2")
                    .bind(branch)
                    .bind(1_i64)
                    .fetch_optional(&mut *tx)
                    .await?;
            if active.is_none() {
                problems.push(("branch_id", format!("no active branch {branch}")));
            }
        }
        // Judged when the role or the branch changes: an account made
        // before the rule can still be deactivated or renamed.
        let placing = changes.role.is_some() || changes.branch_id.is_some();
        if placing && after.role != Role::Admin && after.branch_id.is_none() {
            problems.push((
                "branch_id",
                format!("is required for a {}", after.role.as_str()),
            ));
        }
        problems_of(problems)?;
        let demoted = before.role == Role::Admin
            && before.active
            && (after.role != Role::Admin || !after.active);
        if demoted && self.other_active_admins(&mut tx, id).await? == 0 {
            return Err(StoreError::Conflict(
                "this is the last active admin: make another user admin first".to_owned(),
            ));
        }
        let detail = changed_fields(&before, &after);
        if detail.is_empty() {
            return Ok(before);
        }
        sqlx::query(
            "UPDATE users SET role = $1, branch_id = $2, active = $3, name = $4 WHERE id = $5",
        )
        .bind(after.role.as_str())
        .bind(after.branch_id)
        .bind(i64::from(after.active))
        .bind(&after.name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if before.active && !after.active {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        audit_in(
            &mut tx,
            &AuditEntry {
                actor_id: Some(actor.user_id),
                action: AuditAction::UserChanged,
                subject: Some(&format!("user:{id}")),
                detail: &detail,
                client_addr: actor.client_addr,
            },
            self.now(),
        )
        .await?;
        tx.commit().await?;
        // A remembered session holds the user as they were (their role
        // decides what they may do): forgotten, so the next request reads
        // the change, or finds no session.
        self.sessions.forget_user(id, None);
        Ok(after)
    }

    /// A page of users, by email. `page` from 1, `page_size` rows.
    pub async fn users_page(&self, page: u32, page_size: u32) -> StoreResult<UserPage> {
        let page = page.max(1);
        let limit = i64::from(page_size.max(1));
        let offset = i64::from(page - 1) * limit;
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY email, id LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(UserPage {
            items: rows.iter().map(user_from).collect::<StoreResult<_>>()?,
            total,
            page,
            page_size: page_size.max(1),
        })
    }

    /// User `id` read in `tx` (locked for the transaction on PostgreSQL).
    async fn user_in(&self, tx: &mut Transaction<'static, Any>, id: i64) -> StoreResult<User> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1{}",
            self.for_update()
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound("user"))?;
        user_from(&row)
    }

    async fn lock_active_admins(&self, tx: &mut Transaction<'static, Any>) -> StoreResult<()> {
        if self.engine == Engine::Postgres {
            sqlx::query(
                "SELECT id FROM users WHERE role = $1 AND active = $2 ORDER BY id FOR UPDATE",
            )
            .bind(Role::Admin.as_str())
            .bind(1_i64)
            .fetch_all(&mut **tx)
            .await?;
        }
        Ok(())
    }

    async fn other_active_admins(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: i64,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = $1 AND active = $2 AND id <> $3",
        )
        .bind(Role::Admin.as_str())
        .bind(1_i64)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
    }

    fn for_update(&self) -> &'static str {
        match self.engine {
            Engine::Postgres => " FOR UPDATE",
            Engine::Sqlite => "",
        }
    }
}

/// `role: operator → supervisor; active: true → false`: the fields that
/// differ between `before` and `after`.
fn changed_fields(before: &User, after: &User) -> String {
    let branch = |b: Option<i64>| b.map_or("none".to_owned(), |b| b.to_string());
    let mut out = Vec::new();
    if before.role != after.role {
        out.push(format!(
            "role: {} → {}",
            before.role.as_str(),
            after.role.as_str()
        ));
    }
    if before.branch_id != after.branch_id {
        out.push(format!(
            "branch_id: {} → {}",
            branch(before.branch_id),
            branch(after.branch_id)
        ));
    }
    if before.active != after.active {
        out.push(format!("active: {} → {}", before.active, after.active));
    }
    if before.name != after.name {
        out.push(format!("name: {} → {}", before.name, after.name));
    }
    out.join("; ")
}
