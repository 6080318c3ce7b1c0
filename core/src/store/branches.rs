//! Branches: the offices where parcels are handed in and picked up.

use super::rows::branch_from;
use super::{Branch, NewBranch, Store, StoreResult};

impl Store {
    /// Creates a branch.
    pub async fn create_branch(&self, b: &NewBranch) -> StoreResult<Branch> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO branches (code, name, city, address, phone, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&b.code)
        .bind(&b.name)
        .bind(&b.city)
        .bind(&b.address)
        .bind(b.phone.as_ref().map(|p| p.as_str().to_owned()))
        .bind(self.now())
        .fetch_one(&self.pool)
        .await?;
        self.branch(id).await
    }

    /// One branch.
    pub async fn branch(&self, id: i64) -> StoreResult<Branch> {
        let row = self
            .row_by_id(
                "SELECT id, code, name, city, address, phone, active FROM branches WHERE id = $1",
                id,
                "branch",
            )
            .await?;
        branch_from(&row)
    }

    /// Every branch, by code.
    pub async fn branches(&self) -> StoreResult<Vec<Branch>> {
        let rows = sqlx::query(
            "SELECT id, code, name, city, address, phone, active FROM branches ORDER BY code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(branch_from).collect()
    }
}
