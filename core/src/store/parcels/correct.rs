//! Correcting a parcel before it is received: the counter fixes what was
//! typed wrong at registration (recipient, destination, service, address,
//! package, weight, sizes, declared value, cash on delivery). The price is quoted
//! again from the tariff valid now, and the shipping payment follows it.

use sqlx::{Any, Row, Transaction};

use super::register::check_active_branch;
use super::status::{insert_event, insert_payment};
use crate::domain::branch_scope::{Branches, Staff, may_act};
use crate::domain::{Grams, Money, ParcelEvent, ParcelStatus, Role, Service};
use crate::store::customers::upsert_customer_row;
use crate::store::limits::{ADDRESS_CHARS, CODE_CHARS, Problem, parcel_numbers, too_long};
use crate::store::rows::{listed, service_str};
use crate::store::{Actor, NewCustomer, Parcel, Store, StoreError, StoreResult, search};

/// What a correction changes; a field left `None` keeps its value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParcelCorrection {
    /// Another recipient (created or updated by phone, as at registration).
    pub recipient: Option<NewCustomer>,
    /// Another destination branch (active).
    pub destination_branch_id: Option<i64>,
    /// Pickup or home delivery.
    pub service: Option<Service>,
    /// The delivery address (required for home delivery).
    pub delivery_address: Option<String>,
    /// The package type (selects the tariff).
    pub package_type: Option<String>,
    /// The zone (selects the tariff).
    pub zone: Option<String>,
    /// The weight.
    pub weight: Option<Grams>,
    /// Length, width, height in millimetres.
    pub dimensions_mm: Option<[i64; 3]>,
    /// The declared value.
    pub declared_value: Option<Money>,
    /// The cash to collect on delivery.
    pub cod_amount: Option<Money>,
}

impl ParcelCorrection {
    /// What is wrong with the values sent, every field named, before any
    /// database work (the same bounds as a registration).
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = self
            .recipient
            .as_ref()
            .map(|r| r.problems("recipient"))
            .unwrap_or_default();
        for (field, value, max) in [
            ("delivery_address", &self.delivery_address, ADDRESS_CHARS),
            ("package_type", &self.package_type, CODE_CHARS),
            ("zone", &self.zone, CODE_CHARS),
        ] {
            if let Some(v) = value {
                too_long(&mut out, field.to_owned(), v, max);
            }
        }
        for (field, value) in [("package_type", &self.package_type), ("zone", &self.zone)] {
            if value.as_ref().is_some_and(|v| v.trim().is_empty()) {
                out.push((field.to_owned(), "must not be empty".to_owned()));
            }
        }
        parcel_numbers(
            &mut out,
            self.weight,
            self.dimensions_mm,
            [
                ("declared_value", self.declared_value),
                ("cod_amount", self.cod_amount),
            ],
        );
        out
    }
}

/// A parcel's fields a correction may change, as they are or will be.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Details {
    destination_branch_id: i64,
    service: Service,
    delivery_address: String,
    package_type: String,
    zone: String,
    weight: Grams,
    dimensions_mm: [i64; 3],
    declared_value: Money,
    cod_amount: Money,
}

impl Details {
    fn of(p: &Parcel, zone: String) -> Self {
        Self {
            destination_branch_id: p.destination_branch_id,
            service: p.service,
            delivery_address: p.delivery_address.clone(),
            package_type: p.package_type.clone(),
            zone,
            weight: p.weight,
            dimensions_mm: p.dimensions_mm,
            declared_value: p.declared_value,
            cod_amount: p.cod_amount,
        }
    }

    fn corrected(&self, c: &ParcelCorrection) -> Self {
        let service = c.service.unwrap_or(self.service);
        // A parcel turned into a branch pickup keeps no address nobody
        // will go to, unless one is sent.
        let delivery_address = match (&c.delivery_address, service) {
            (Some(a), _) => a.trim().to_owned(),
            (None, Service::BranchPickup) if c.service.is_some() => String::new(),
            (None, _) => self.delivery_address.clone(),
        };
        Self {
            destination_branch_id: c
                .destination_branch_id
                .unwrap_or(self.destination_branch_id),
            service,
            delivery_address,
            package_type: c
                .package_type
                .as_ref()
                .map_or_else(|| self.package_type.clone(), |v| v.trim().to_owned()),
            zone: c
                .zone
                .as_ref()
                .map_or_else(|| self.zone.clone(), |v| v.trim().to_owned()),
            weight: c.weight.unwrap_or(self.weight),
            dimensions_mm: c.dimensions_mm.unwrap_or(self.dimensions_mm),
            declared_value: c.declared_value.unwrap_or(self.declared_value),
            cod_amount: c.cod_amount.unwrap_or(self.cod_amount),
        }
    }

    /// Whether the price depends on what changed from `before`.
    fn requotes(&self, before: &Self) -> bool {
        self.package_type != before.package_type
            || self.zone != before.zone
            || self.weight != before.weight
            || self.cod_amount != before.cod_amount
    }

    /// `field old → new` for each field that differs from `before`.
    fn changes(&self, before: &Self) -> Vec<String> {
        let mut out = Vec::new();
        let mut note = |field: &str, old: String, new: String| {
            if old != new {
                out.push(format!("{field}: {old} → {new}"));
            }
        };
        note(
            "destination_branch_id",
            before.destination_branch_id.to_string(),
            self.destination_branch_id.to_string(),
        );
        note(
            "service",
            service_str(before.service).to_owned(),
            service_str(self.service).to_owned(),
        );
        note(
            "delivery_address",
            format!("{:?}", before.delivery_address),
            format!("{:?}", self.delivery_address),
        );
        note(
            "package_type",
            before.package_type.clone(),
            self.package_type.clone(),
        );
        note("zone", before.zone.clone(), self.zone.clone());
        note(
            "weight_grams",
            before.weight.0.to_string(),
            self.weight.0.to_string(),
        );
        note(
            "dimensions_mm",
            format!("{:?}", before.dimensions_mm),
            format!("{:?}", self.dimensions_mm),
        );
        note(
            "declared_value",
            before.declared_value.to_string(),
            self.declared_value.to_string(),
        );
        note(
            "cod_amount",
            before.cod_amount.to_string(),
            self.cod_amount.to_string(),
        );
        out
    }
}

impl Store {
    /// Corrects parcel `id`, seen by the caller at `version`, while it is
    /// still `REGISTERED`: the fields of `c` that are sent replace the
    /// parcel's. When the package type, zone, weight or cash on delivery
    /// change, the price is quoted again from the tariff valid now (its fees
    /// copied onto the parcel, as at registration), and a shipping payment
    /// taken for the old price is voided and one for the new price taken
    /// (a payment voided by hand before stays as it is). The version goes
    /// up and the history gets a `correct` line naming each field changed,
    /// old and new; all in one transaction. A correction that changes
    /// nothing writes nothing and returns the parcel as it is.
    ///
    /// Those who may register the parcel may correct it (couriers never):
    /// its origin's operators, supervisors of its origin or destination, admins; with a
    /// new destination, the actor must be allowed for the new branches
    /// too ([`StoreError::Forbidden`]). A parcel no longer registered, or
    /// changed since `version`, gives [`StoreError::Conflict`]; fields past
    /// their bounds [`StoreError::Fields`]; an inactive destination or a
    /// package no tariff prices [`StoreError::Invalid`] naming the field.
    pub async fn correct_parcel(
        &self,
        id: i64,
        version: i64,
        c: &ParcelCorrection,
        actor: &Actor,
    ) -> StoreResult<Parcel> {
        let problems = c.problems();
        if !problems.is_empty() {
            return Err(StoreError::Fields(problems));
        }
        let parcel = self.parcel(id).await?;
        let staff = Staff {
            role: actor.role,
            branch_id: actor.branch_id,
        };
        check_correctable(&parcel, version, staff)?;
        let zone = match parcel.tariff_id {
            Some(t) => self.tariff(t).await?.zone,
            None => String::new(),
        };
        let before = Details::of(&parcel, zone);
        let after = before.corrected(c);
        if after.service == Service::HomeDelivery && after.delivery_address.is_empty() {
            return Err(StoreError::Invalid {
                field: "delivery_address",
                message: "is required for home delivery".to_owned(),
            });
        }
        let mut changes = after.changes(&before);
        // The recipient: another phone, or the same one under another name.
        let recipient = match &c.recipient {
            Some(new) => {
                let old = self.customer(parcel.recipient_id).await?;
                let (old_said, new_said) =
                    (said(&old.phone, &old.name), said(&new.phone, &new.name));
                (old_said != new_said).then(|| {
                    changes.insert(0, format!("recipient: {old_said} → {new_said}"));
                    new
                })
            }
            None => None,
        };
        if changes.is_empty() {
            return Ok(parcel);
        }
        let new_branches = Branches {
            origin: parcel.origin_branch_id,
            destination: after.destination_branch_id,
        };
        if !may_act(
            staff,
            ParcelStatus::Registered,
            &ParcelEvent::Receive,
            new_branches,
        ) {
            return Err(StoreError::Forbidden(format!(
                "you may not send parcel {} to branch {}: it would leave your branches",
                parcel.tracking_code, after.destination_branch_id
            )));
        }
        // The price, quoted again only when what it depends on changed: a
        // parcel keeps its amount when its tariff has since ended.
        let quote = if after.requotes(&before) {
            if after.zone.is_empty() {
                return Err(StoreError::Invalid {
                    field: "zone",
                    message: "the parcel's tariff is gone: say the zone to quote it again"
                        .to_owned(),
                });
            }
            Some(
                self.quote_parcel(
                    &after.package_type,
                    &after.zone,
                    after.weight,
                    after.cod_amount,
                )
                .await?,
            )
        } else {
            None
        };
        // A new recipient's name goes into the parcel's search words.
        let words = match recipient {
            Some(new) => {
                let sender = self.customer(parcel.sender_id).await?;
                Some(search::parcel_search_text(&sender.name, new.name.trim()))
            }
            None => None,
        };
        let now = self.now();
        let mut tx = self.begin().await?;
        // Read again in the transaction: the checks above hold for this row.
        let current = super::parcel_in(&mut tx, id).await?;
        check_correctable(&current, version, staff)?;
        if after.destination_branch_id != before.destination_branch_id {
            check_active_branch(
                &mut tx,
                after.destination_branch_id,
                "destination_branch_id",
            )
            .await?;
        }
        let mut next = current.clone();
        let mut renamed = None;
        if let Some(new) = recipient {
            let (id, was_renamed) = upsert_customer_row(&mut tx, new, now).await?;
            next.recipient_id = id;
            renamed = was_renamed.then_some(id);
        }
        next.destination_branch_id = after.destination_branch_id;
        next.service = after.service;
        next.delivery_address.clone_from(&after.delivery_address);
        next.package_type.clone_from(&after.package_type);
        next.weight = after.weight;
        next.dimensions_mm = after.dimensions_mm;
        next.declared_value = after.declared_value;
        next.cod_amount = after.cod_amount;
        next.version = current.version + 1;
        let mut notes = changes;
        if let Some((tariff, amount)) = &quote {
            next.tariff_id = Some(tariff.id);
            next.quoted_amount = *amount;
            next.storage_grace_hours = tariff.storage_grace_hours;
            next.storage_fee_per_day = tariff.storage_fee_per_day;
            next.cod_fee = tariff.cod_fee;
            if *amount != current.quoted_amount {
                notes.push(format!(
                    "quoted_amount: {} → {}",
                    current.quoted_amount, amount
                ));
            }
        }
        write_corrected(&mut tx, &next, words.as_deref(), version, now).await?;
        let note = notes.join("; ");
        if next.quoted_amount != current.quoted_amount {
            requote_shipping(&mut tx, &current, next.quoted_amount, actor, now).await?;
        }
        let at = actor.branch_id.unwrap_or(current.origin_branch_id);
        insert_event(
            &mut tx,
            id,
            "correct",
            (Some(ParcelStatus::Registered), ParcelStatus::Registered),
            (actor, at),
            Some(&note),
            now,
        )
        .await?;
        tx.commit().await?;
        // A recipient registered under a new name: their earlier parcels
        // are found by it too (as after a registration).
        if let Some(customer) = renamed {
            self.reindex_customer_parcels(customer).await?;
        }
        Ok(next)
    }
}

/// A customer as a history line names them: phone and name.
fn said(phone: &crate::domain::Phone, name: &str) -> String {
    format!("{} {}", phone.as_str(), name.trim())
}

/// Refuses a correction of `parcel` seen at `version` by `staff`: a
/// parcel changed since, past registration, or of branches the actor may
/// not register for.
fn check_correctable(parcel: &Parcel, version: i64, staff: Staff) -> StoreResult<()> {
    if staff.role == Role::Courier {
        return Err(StoreError::Forbidden(
            "couriers do not correct parcels: ask the counter".to_owned(),
        ));
    }
    let branches = Branches {
        origin: parcel.origin_branch_id,
        destination: parcel.destination_branch_id,
    };
    if !may_act(
        staff,
        ParcelStatus::Registered,
        &ParcelEvent::Receive,
        branches,
    ) {
        return Err(StoreError::Forbidden(format!(
            "parcel {} is corrected at its origin branch, by its staff",
            parcel.tracking_code
        )));
    }
    if parcel.version != version {
        return Err(StoreError::Conflict(format!(
            "parcel {} is at version {}, not {version}: reload it",
            parcel.tracking_code, parcel.version
        )));
    }
    if parcel.status != ParcelStatus::Registered {
        return Err(StoreError::Conflict(format!(
            "parcel {} is {}: only a parcel not yet received can be corrected",
            parcel.tracking_code,
            parcel.status.as_str()
        )));
    }
    Ok(())
}

/// Writes `next`'s corrected fields and its list item (and with a new
/// recipient, its search `words`), if the row is still at `version`.
async fn write_corrected(
    tx: &mut Transaction<'static, Any>,
    next: &Parcel,
    words: Option<&str>,
    version: i64,
    now: i64,
) -> StoreResult<()> {
    let changed = sqlx::query(
        "UPDATE parcels SET destination_branch_id = $1, service = $2, delivery_address = $3, \
         package_type = $4, weight_grams = $5, length_mm = $6, width_mm = $7, height_mm = $8, \
         declared_value = $9, cod_amount = $10, tariff_id = $11, quoted_amount = $12, \
         storage_grace_hours = $13, storage_fee_per_day = $14, cod_fee = $15, version = $16, \
         updated_at = $17, list_item = $18, recipient_id = $19, \
         search_text = COALESCE($20, search_text) WHERE id = $21 AND version = $22",
    )
    .bind(next.destination_branch_id)
    .bind(service_str(next.service))
    .bind(&next.delivery_address)
    .bind(&next.package_type)
    .bind(i64::from(next.weight.0))
    .bind(next.dimensions_mm[0])
    .bind(next.dimensions_mm[1])
    .bind(next.dimensions_mm[2])
    .bind(next.declared_value.0)
    .bind(next.cod_amount.0)
    .bind(next.tariff_id)
    .bind(next.quoted_amount.0)
    .bind(next.storage_grace_hours)
    .bind(next.storage_fee_per_day.0)
    .bind(next.cod_fee.0)
    .bind(next.version)
    .bind(now)
    .bind(listed(next)?.json())
    .bind(next.recipient_id)
    .bind(words)
    .bind(next.id)
    .bind(version)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "parcel {} changed while this correction was made: reload it",
            next.tracking_code
        )))
    }
}

/// The shipping payment follows a new price: each shipping payment still
/// standing is voided, saying why, and one for `amount` is taken. A parcel
/// whose shipping payment was voided by hand gets none.
async fn requote_shipping(
    tx: &mut Transaction<'static, Any>,
    parcel: &Parcel,
    amount: Money,
    actor: &Actor,
    now: i64,
) -> StoreResult<()> {
    let standing = sqlx::query(
        "SELECT id, amount FROM payments WHERE parcel_id = $1 AND kind = 'shipping' \
         AND voided_at IS NULL ORDER BY id",
    )
    .bind(parcel.id)
    .fetch_all(&mut **tx)
    .await?;
    if standing.is_empty() {
        return Ok(());
    }
    for row in &standing {
        let id: i64 = row.try_get("id")?;
        let old = Money(row.try_get("amount")?);
        sqlx::query(
            "UPDATE payments SET voided_at = $1, voided_by = $2, void_reason = $3 \
             WHERE id = $4 AND voided_at IS NULL",
        )
        .bind(now)
        .bind(actor.user_id)
        .bind(format!(
            "parcel corrected before reception: shipping {old} → {amount}"
        ))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    insert_payment(tx, parcel.id, "shipping", amount, actor, now).await
}
