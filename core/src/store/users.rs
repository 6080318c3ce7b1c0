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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    /// Email.
    pub email: String,
    /// Full name.
    pub name: String,
    /// Plain password (at least 10 characters); only its hash is stored.
    pub password: String,
    /// Role.
    pub role: Role,
    /// Branch.
    pub branch_id: Option<i64>,
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

fn verify_password(password: &str, phc: &str) -> bool {
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

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const USER_COLUMNS: &str = "id, email, name, role, branch_id, active";

fn user_from(r: &sqlx::any::AnyRow) -> StoreResult<User> {
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
    /// Creates a user.
    pub async fn create_user(&self, u: &NewUser) -> StoreResult<User> {
        let email = u.email.trim().to_lowercase();
        if !email.contains('@') {
            return Err(StoreError::Invalid {
                field: "email",
                message: "is not an email address".to_owned(),
            });
        }
        if u.password.chars().count() < 10 {
            return Err(StoreError::Invalid {
                field: "password",
                message: "must have at least 10 characters".to_owned(),
            });
        }
        let hash = hash_password(&u.password)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, name, password_hash, role, branch_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&email)
        .bind(u.name.trim())
        .bind(hash)
        .bind(u.role.as_str())
        .bind(u.branch_id)
        .bind(self.now())
        .fetch_one(&self.pool)
        .await?;
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
        let Some(row) = row else {
            // Spend the same time as a real check, so timing does not tell
            // which emails exist.
            static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            let dummy =
                DUMMY.get_or_init(|| hash_password("not a real password").unwrap_or_default());
            let _ = verify_password(password, dummy);
            return Ok(None);
        };
        let hash: String = row.try_get("password_hash")?;
        let user = user_from(&row)?;
        Ok((user.active && verify_password(password, &hash)).then_some(user))
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
        if let Some((user, until)) = self.sessions.0.get(&key) {
            if until > now {
                return Ok(Some(user));
            }
            self.sessions.0.invalidate(&key);
        }
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
        self.sessions
            .0
            .insert(key, (user.clone(), expires_at.min(now.saturating_add(ttl))));
        Ok(Some(user))
    }

    /// Ends a session.
    pub async fn delete_session(&self, token: &str) -> StoreResult<()> {
        let key = token_hash(token);
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&key)
            .execute(&self.pool)
            .await?;
        self.sessions.0.invalidate(&key);
        Ok(())
    }
}

/// How long a session looked up is trusted without reading it again.
pub const SESSION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Sessions recently looked up: token hash → (user, trusted until, ms).
#[derive(Clone)]
pub(crate) struct SessionCache(moka::sync::Cache<String, (User, i64)>);

impl SessionCache {
    pub(crate) fn new() -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(SESSION_CACHE_TTL)
                .build(),
        )
    }
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("entries", &self.0.entry_count())
            .finish()
    }
}
