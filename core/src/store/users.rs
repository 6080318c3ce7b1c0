//! Users, passwords and sign-in sessions.
//!
//! Passwords are hashed with Argon2id (the `argon2` crate's defaults). A
//! session token is 32 random bytes shown once to the client; the store
//! keeps only its SHA-256, with an expiry.

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Store, StoreError, StoreResult};
use crate::domain::Role;

/// A user of the app.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Email, the sign-in name.
    pub email: String,
    /// Full name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Branch they work at.
    pub branch_id: Option<i64>,
    /// Whether they may sign in.
    pub active: bool,
}

/// A user to create.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Email.
    pub email: String,
    /// Full name.
    pub name: String,
    /// Plain password (see [`super::passwords`]); only its hash is stored.
    pub password: String,
    /// Role.
    pub role: Role,
    /// Branch.
    pub branch_id: Option<i64>,
}

/// Written without the password.
impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("branch_id", &self.branch_id)
            .finish_non_exhaustive()
    }
}

fn role_from(s: &str) -> StoreResult<Role> {
    Role::ALL
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| StoreError::Database(format!("unknown role {s:?} in the database")))
}

/// The hash of a password, in PHC string form.
pub fn hash_password(password: &str) -> StoreResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Database(format!("hash a password: {e}")))
}

/// Password hashing is CPU work of tens of milliseconds: it runs on the
/// blocking pool, never on the async threads that serve every other
/// request, and at most as many at once as the machine has cores, so a
/// flood of sign-ins queues here instead of taking every thread.
pub(super) async fn off_the_async_threads<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> StoreResult<T> {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from))
    });
    let _permit = permits
        .acquire()
        .await
        .map_err(|e| StoreError::Database(format!("password hashing: {e}")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Database(format!("password hashing: {e}")))
}

pub(super) fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Fills `bytes` from the operating system's secure random source.
pub fn random_bytes(bytes: &mut [u8]) {
    OsRng.fill_bytes(bytes);
}

pub(super) fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) const USER_COLUMNS: &str = "id, email, name, role, branch_id, active";

pub(super) fn user_from(r: &sqlx::any::AnyRow) -> StoreResult<User> {
    Ok(User {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: role_from(&r.try_get::<String, _>("role")?)?,
        branch_id: r.try_get("branch_id")?,
        active: r.try_get::<i64, _>("active")? != 0,
    })
}

impl Store {
    /// Creates a user. The password must pass the policy
    /// ([`super::passwords`]).
    pub async fn create_user(&self, u: &NewUser) -> StoreResult<User> {
        self.add_user(u, None).await
    }

    /// Creates a user as `actor` (an admin) did, with an audit row
    /// (`user_created`) committed with it. Any role but admin needs a
    /// branch (as for `Store::update_user`).
    pub async fn create_user_by(
        &self,
        u: &NewUser,
        actor: &super::accounts::Acting<'_>,
    ) -> StoreResult<User> {
        if u.role != Role::Admin && u.branch_id.is_none() {
            return Err(StoreError::Invalid {
                field: "branch_id",
                message: format!("is required for a {}", u.role.as_str()),
            });
        }
        self.add_user(u, Some(actor)).await
    }

    async fn add_user(
        &self,
        u: &NewUser,
        actor: Option<&super::accounts::Acting<'_>>,
    ) -> StoreResult<User> {
        let email = u.email.trim().to_lowercase();
        if !email.contains('@') {
            return Err(StoreError::Invalid {
                field: "email",
                message: "is not an email address".to_owned(),
            });
        }
        if email.chars().count() > super::limits::EMAIL_CHARS {
            return Err(StoreError::Invalid {
                field: "email",
                message: format!("must be at most {} characters", super::limits::EMAIL_CHARS),
            });
        }
        let name_chars = u.name.trim().chars().count();
        if name_chars == 0 || name_chars > super::limits::NAME_CHARS {
            return Err(StoreError::Invalid {
                field: "name",
                message: format!("must have 1 to {} characters", super::limits::NAME_CHARS),
            });
        }
        if let Some(problem) = super::passwords::password_problem(&u.password) {
            return Err(StoreError::Invalid {
                field: "password",
                message: problem,
            });
        }
        if let Some(branch) = u.branch_id {
            let active: Option<i64> =
                sqlx::query_scalar("SELECT id FROM branches WHERE id = $1 AND active = $2")
                    .bind(branch)
                    .bind(1_i64)
                    .fetch_optional(&self.pool)
                    .await?;
            if active.is_none() {
                return Err(StoreError::Invalid {
                    field: "branch_id",
                    message: format!("no active branch {branch}"),
                });
            }
        }
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&self.pool)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a user with email {email} already exists"
            )));
        }
        let password = u.password.clone();
        let hash = off_the_async_threads(move || hash_password(&password)).await??;
        let now = self.now();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, name, password_hash, role, branch_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&email)
        .bind(u.name.trim())
        .bind(hash)
        .bind(u.role.as_str())
        .bind(u.branch_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(actor) = actor {
            let detail = format!(
                "email: {email}; role: {}; branch_id: {}",
                u.role.as_str(),
                u.branch_id.map_or("none".to_owned(), |b| b.to_string())
            );
            super::audit::audit_in(
                &mut tx,
                &super::AuditEntry {
                    actor_id: Some(actor.user_id),
                    action: super::AuditAction::UserCreated,
                    subject: Some(&format!("user:{id}")),
                    detail: &detail,
                    client_addr: actor.client_addr,
                },
                now,
            )
            .await?;
        }
        tx.commit().await?;
        self.user(id).await
    }

    /// One user.
    pub async fn user(&self, id: i64) -> StoreResult<User> {
        let row = self
            .row_by_id(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"),
                id,
                "user",
            )
            .await?;
        user_from(&row)
    }

    /// Every user, by email.
    pub async fn users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_from).collect()
    }

    /// How many users exist (the first start creates an admin when none does).
    pub async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    /// The active user with this email and password, if they match.
    pub async fn authenticate(&self, email: &str, password: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1"
        ))
        .bind(email.trim().to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        let password = password.to_owned();
        let Some(row) = row else {
            // Spend the same time as a real check, so timing does not tell
            // which emails exist.
            static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            off_the_async_threads(move || {
                let dummy =
                    DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
                verify_password(&password, dummy)
            })
            .await?;
            return Ok(None);
        };
        let hash: String = row.try_get("password_hash")?;
        let user = user_from(&row)?;
        let ok = off_the_async_threads(move || verify_password(&password, &hash)).await?;
        Ok((user.active && ok).then_some(user))
    }

    /// Opens a session for `user_id` that lasts `ttl_ms`; returns the token.
    pub async fn create_session(&self, user_id: i64, ttl_ms: i64) -> StoreResult<String> {
        let mut bytes = [0u8; 32];
        random_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let now = self.now();
        sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash(&token))
            .bind(user_id)
            .bind(now + ttl_ms)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// The active user a live session token belongs to.
    ///
    /// A session found is remembered for up to `SESSION_CACHE_TTL` (never
    /// past its expiry), so that a signed-in client's requests do not each
    /// read the database to learn who is asking. Ending a session forgets
    /// it at once in this process; another app process sharing the database
    /// may accept it for up to that long.
    pub async fn session_user(&self, token: &str) -> StoreResult<Option<User>> {
        let key = token_hash(token);
        let now = self.now();
        if let Some((user, until)) = self.sessions.entries.get(&key) {
            if until > now {
                return Ok(Some(user));
            }
            self.sessions.entries.invalidate(&key);
        }
        // A user changed or a session ended while this lookup ran must not
        // be remembered as it was read (see `SessionCache::forget_user`).
        let generation = self.sessions.generation();
        let row = sqlx::query(&format!(
            "SELECT {}, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = 1",
            USER_COLUMNS
                .split(", ")
                .map(|c| format!("u.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(&key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = user_from(&row)?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let ttl = i64::try_from(SESSION_CACHE_TTL.as_millis()).unwrap_or(i64::MAX);
        self.sessions.remember(
            generation,
            key,
            (user.clone(), expires_at.min(now.saturating_add(ttl))),
        );
        Ok(Some(user))
    }

    /// Ends a session.
    pub async fn delete_session(&self, token: &str) -> StoreResult<()> {
        let key = token_hash(token);
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&key)
            .execute(&self.pool)
            .await?;
        self.sessions.entries.invalidate(&key);
        Ok(())
    }

    /// The language user `id` chose for the web UI (`es`, `en`), or
    /// `None` when they follow their browser's.
    pub async fn user_language(&self, id: i64) -> StoreResult<Option<String>> {
        let row: Option<Option<String>> =
            sqlx::query_scalar("SELECT language FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.ok_or(StoreError::NotFound("user"))
    }

    /// Sets (or with `None` clears) the language user `id` reads the web UI
    /// in: a language tag of 2 to 8 ASCII letters (which languages the UI
    /// speaks is the app's business).
    pub async fn set_user_language(&self, id: i64, language: Option<&str>) -> StoreResult<()> {
        let is_tag =
            |t: &str| (2..=8).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphabetic());
        if language.is_some_and(|t| !is_tag(t)) {
            return Err(StoreError::Invalid {
                field: "language",
                message: "must be a language tag such as es or en".to_owned(),
            });
        }
        let changed = sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
            .bind(language.map(str::to_ascii_lowercase))
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }
}

/// How long a session looked up is trusted without reading it again.
pub const SESSION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Sessions recently looked up: token hash → (user, trusted until, ms).
///
/// A user's entries are forgotten when the user changes (role, branch,
/// active flag, password): the next request reads the database again.
/// `generation` counts those changes, so that a lookup that read the
/// database before a change and finishes after it does not put back what
/// it read.
#[derive(Clone)]
pub(crate) struct SessionCache {
    entries: moka::sync::Cache<String, (User, i64)>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl SessionCache {
    pub(crate) fn new() -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(SESSION_CACHE_TTL)
                .build(),
            generation: std::sync::Arc::default(),
        }
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Remembers `value` under `key`, unless a user changed since
    /// `generation` was read (the value may be stale).
    fn remember(&self, generation: u64, key: String, value: (User, i64)) {
        self.entries.insert(key.clone(), value);
        // Checked after the insert: a change that raced with it either
        // bumped the generation already (the entry is dropped here) or
        // comes later and forgets the entry itself.
        if self.generation() != generation {
            self.entries.invalidate(&key);
        }
    }

    /// Forgets every remembered session of `user_id`, but the one whose
    /// token hashes to `keep`.
    pub(super) fn forget_user(&self, user_id: i64, keep: Option<&str>) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        for (key, (user, _)) in &self.entries {
            if user.id == user_id && keep != Some(key.as_str()) {
                self.entries.invalidate(key.as_str());
            }
        }
    }
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}
