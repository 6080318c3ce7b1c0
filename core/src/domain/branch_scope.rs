//! Which branch's staff may see and act on a parcel.
//!
//! A parcel belongs to two branches: its origin (where it is handed in)
//! and its destination (where it is collected or delivered from). Admins
//! see and act on every parcel; everyone else belongs to one branch:
//! - they **see** the parcels from or to their branch;
//! - operators and couriers **act** only where the event happens: receive,
//!   dispatch and an early cancel at the origin; arrive, out for delivery,
//!   deliver, a failed attempt, a return and a late cancel at the
//!   destination;
//! - supervisors act on any parcel from or to their branch (the lifecycle
//!   still limits what their role may do).

use super::lifecycle::{ParcelEvent, ParcelStatus, Role};

/// Who acts: their role and their branch (`None` for an admin without
/// one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Staff {
    /// Their role.
    pub role: Role,
    /// Their branch.
    pub branch_id: Option<i64>,
}

/// The two branches of a parcel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Branches {
    /// Where it is handed in.
    pub origin: i64,
    /// Where it is collected or delivered from.
    pub destination: i64,
}

/// Whether `staff` may see a parcel between `branches`.
pub fn may_see(staff: Staff, branches: Branches) -> bool {
    staff.role == Role::Admin
        || staff
            .branch_id
            .is_some_and(|b| b == branches.origin || b == branches.destination)
}

/// The branch where `event` happens to a parcel in status `from`.
pub fn event_branch(from: ParcelStatus, event: &ParcelEvent, branches: Branches) -> i64 {
    use ParcelEvent as E;
    use ParcelStatus as S;
    match event {
        E::Receive | E::Dispatch => branches.origin,
        E::Cancel { .. } if matches!(from, S::Registered | S::Received) => branches.origin,
        _ => branches.destination,
    }
}

/// Whether `staff` may apply `event` to a parcel in `from` between
/// `branches`, as far as branches go (the role's own limits are the
/// lifecycle's).
pub fn may_act(staff: Staff, from: ParcelStatus, event: &ParcelEvent, branches: Branches) -> bool {
    match staff.role {
        Role::Admin => true,
        Role::Supervisor => may_see(staff, branches),
        Role::Operator | Role::Courier => {
            staff.branch_id == Some(event_branch(from, event, branches))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Branches = Branches {
        origin: 1,
        destination: 2,
    };

    fn staff(role: Role, branch: Option<i64>) -> Staff {
        Staff {
            role,
            branch_id: branch,
        }
    }

    #[test]
    fn operators_receive_at_the_origin_and_deliver_at_the_destination() {
        let at_origin = staff(Role::Operator, Some(1));
        let at_destination = staff(Role::Operator, Some(2));
        let receive = ParcelEvent::Receive;
        let deliver = ParcelEvent::Deliver;
        assert!(may_act(at_origin, ParcelStatus::Registered, &receive, B));
        assert!(!may_act(
            at_destination,
            ParcelStatus::Registered,
            &receive,
            B
        ));
        assert!(may_act(
            at_destination,
            ParcelStatus::AtDestination,
            &deliver,
            B
        ));
        assert!(!may_act(
            at_origin,
            ParcelStatus::AtDestination,
            &deliver,
            B
        ));
    }

    #[test]
    fn staff_of_a_third_branch_neither_see_nor_act() {
        for role in [Role::Supervisor, Role::Operator, Role::Courier] {
            let other = staff(role, Some(3));
            assert!(!may_see(other, B), "{role:?}");
            assert!(!may_act(
                other,
                ParcelStatus::InTransit,
                &ParcelEvent::Arrive,
                B
            ));
        }
        assert!(!may_see(staff(Role::Operator, None), B));
        assert!(may_see(staff(Role::Admin, None), B));
    }
}
