//! A parcel's life, and who may move it: the one place status changes are
//! decided.
//!
//! ```text
//! REGISTERED ─receive─▶ RECEIVED ─dispatch─▶ IN_TRANSIT ─arrive─▶ AT_DESTINATION
//!                           └──────── arrive (same branch) ─────────▲   │
//!   AT_DESTINATION ─out_for_delivery─▶ OUT_FOR_DELIVERY ─deliver─▶ DELIVERED
//!          ▲                                   │
//!          └────────────── fail_attempt ───────┘     (counts an attempt)
//!   AT_DESTINATION ─deliver (branch pickup at the counter)─▶ DELIVERED
//!   AT_DESTINATION ─return─▶ RETURNED
//!   before OUT_FOR_DELIVERY ─cancel (reason)─▶ CANCELLED
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a user may do.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, users and settings included.
    Admin,
    /// Runs a branch: cancels, voids payments, sees reports.
    Supervisor,
    /// Counter staff: registers, receives, hands over parcels.
    Operator,
    /// Delivers: only out-for-delivery, deliver and fail-attempt.
    Courier,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Supervisor, Role::Operator, Role::Courier];

    /// The role's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Operator => "operator",
            Role::Courier => "courier",
        }
    }
}

/// Where a parcel is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParcelStatus {
    /// Registered, not yet handed in.
    Registered,
    /// Handed in at the origin branch.
    Received,
    /// On its way to the destination branch.
    InTransit,
    /// At the destination branch: waiting for pickup or delivery.
    AtDestination,
    /// With a courier.
    OutForDelivery,
    /// Delivered (ends).
    Delivered,
    /// Cancelled with a reason (ends).
    Cancelled,
    /// Sent back to the sender (ends).
    Returned,
}

impl ParcelStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ParcelStatus; 8] = [
        ParcelStatus::Registered,
        ParcelStatus::Received,
        ParcelStatus::InTransit,
        ParcelStatus::AtDestination,
        ParcelStatus::OutForDelivery,
        ParcelStatus::Delivered,
        ParcelStatus::Cancelled,
        ParcelStatus::Returned,
    ];

    /// Whether the parcel's life has ended.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Cancelled | Self::Returned)
    }

    /// The status's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "REGISTERED",
            Self::Received => "RECEIVED",
            Self::InTransit => "IN_TRANSIT",
            Self::AtDestination => "AT_DESTINATION",
            Self::OutForDelivery => "OUT_FOR_DELIVERY",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
            Self::Returned => "RETURNED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for ParcelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the parcel reaches its recipient.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// The recipient picks it up at the destination branch.
    BranchPickup,
    /// A courier takes it to the recipient's address.
    HomeDelivery,
}

/// The facts of a parcel that decide its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Pickup or delivery.
    pub service: Service,
    /// Origin and destination are the same branch: no transit.
    pub same_branch: bool,
}

/// Something that happens to a parcel.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ParcelEvent {
    /// Handed in at the origin branch.
    Receive,
    /// Leaves the origin branch.
    Dispatch,
    /// Reaches the destination branch.
    Arrive,
    /// Given to a courier.
    OutForDelivery,
    /// Handed to the recipient.
    Deliver,
    /// The courier could not deliver it.
    FailAttempt {
        /// Why (nobody home, wrong address…).
        reason: String,
    },
    /// Cancelled.
    Cancel {
        /// Why; required.
        reason: String,
    },
    /// Sent back to the sender.
    Return {
        /// Why; required.
        reason: String,
    },
}

impl ParcelEvent {
    /// The event's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Receive => "receive",
            Self::Dispatch => "dispatch",
            Self::Arrive => "arrive",
            Self::OutForDelivery => "out_for_delivery",
            Self::Deliver => "deliver",
            Self::FailAttempt { .. } => "fail_attempt",
            Self::Cancel { .. } => "cancel",
            Self::Return { .. } => "return",
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            Self::FailAttempt { reason } | Self::Cancel { reason } | Self::Return { reason } => {
                Some(reason)
            }
            _ => None,
        }
    }
}

/// Why a status change is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransition {
    /// The event makes no sense in this status (or for this route).
    #[error("cannot {event} a parcel that is {from}")]
    NotFromHere {
        /// Current status.
        from: ParcelStatus,
        /// The event's name.
        event: &'static str,
    },
    /// The role may not do this.
    #[error("a {role} may not {event} parcels")]
    Forbidden {
        /// The actor's role.
        role: &'static str,
        /// The event's name.
        event: &'static str,
    },
    /// The event needs a reason and got none.
    #[error("{event} needs a reason")]
    ReasonRequired {
        /// The event's name.
        event: &'static str,
    },
}

/// The result of an accepted event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The new status.
    pub to: ParcelStatus,
    /// The event was a failed delivery attempt (the parcel counts them).
    pub failed_attempt: bool,
}

/// Decides a status change: `event` on a parcel in `from` on `route`, by a
/// user with `role`.
pub fn transition(
    from: ParcelStatus,
    event: &ParcelEvent,
    role: Role,
    route: Route,
) -> Result<Transition, InvalidTransition> {
    use ParcelEvent as E;
    use ParcelStatus as S;
    let name = event.name();
    if event.reason().is_some_and(|r| r.trim().is_empty()) {
        return Err(InvalidTransition::ReasonRequired { event: name });
    }
    let not_here = || InvalidTransition::NotFromHere { from, event: name };
    let to = match (from, event) {
        (S::Registered, E::Receive) => S::Received,
        (S::Received, E::Dispatch) if !route.same_branch => S::InTransit,
        (S::InTransit, E::Arrive) => S::AtDestination,
        (S::Received, E::Arrive) if route.same_branch => S::AtDestination,
        (S::AtDestination, E::OutForDelivery) if route.service == Service::HomeDelivery => {
            S::OutForDelivery
        }
        (S::OutForDelivery, E::Deliver) => S::Delivered,
        (S::AtDestination, E::Deliver) if route.service == Service::BranchPickup => S::Delivered,
        (S::OutForDelivery, E::FailAttempt { .. }) => S::AtDestination,
        (S::Registered | S::Received | S::InTransit | S::AtDestination, E::Cancel { .. }) => {
            S::Cancelled
        }
        (S::AtDestination, E::Return { .. }) => S::Returned,
        _ => return Err(not_here()),
    };
    let allowed = match (role, event) {
        (Role::Admin, _) => true,
        (Role::Courier, E::OutForDelivery | E::Deliver | E::FailAttempt { .. }) => {
            // A courier delivers at the door, not across the counter.
            from == S::OutForDelivery || matches!(event, E::OutForDelivery)
        }
        (Role::Courier, _) => false,
        // Counter staff may cancel a registration that was never handed in;
        // anything later needs a supervisor.
        (Role::Operator, E::Cancel { .. }) => from == S::Registered,
        (Role::Operator | Role::Supervisor, _) => true,
    };
    if !allowed {
        return Err(InvalidTransition::Forbidden {
            role: role.as_str(),
            event: name,
        });
    }
    Ok(Transition {
        to,
        failed_attempt: matches!(event, E::FailAttempt { .. }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParcelStatus as S;

    fn events() -> Vec<ParcelEvent> {
        vec![
            ParcelEvent::Receive,
            ParcelEvent::Dispatch,
            ParcelEvent::Arrive,
            ParcelEvent::OutForDelivery,
            ParcelEvent::Deliver,
            ParcelEvent::FailAttempt {
                reason: "nobody home".into(),
            },
            ParcelEvent::Cancel {
                reason: "sender asked".into(),
            },
            ParcelEvent::Return {
                reason: "not collected".into(),
            },
        ]
    }

    fn routes() -> Vec<Route> {
        let mut r = Vec::new();
        for service in [Service::BranchPickup, Service::HomeDelivery] {
            for same_branch in [false, true] {
                r.push(Route {
                    service,
                    same_branch,
                });
            }
        }
        r
    }

    /// The lifecycle, written out independently of `transition`:
    /// (from, event, to, who may, and on which routes).
    fn expected(from: S, event: &str, route: Route) -> Option<(S, &'static [Role])> {
        use Role::*;
        const STAFF: &[Role] = &[Admin, Supervisor, Operator];
        const ALL: &[Role] = &[Admin, Supervisor, Operator, Courier];
        const BOSSES: &[Role] = &[Admin, Supervisor];
        let home = route.service == Service::HomeDelivery;
        Some(match (from, event) {
            (S::Registered, "receive") => (S::Received, STAFF),
            (S::Received, "dispatch") if !route.same_branch => (S::InTransit, STAFF),
            (S::InTransit, "arrive") => (S::AtDestination, STAFF),
            (S::Received, "arrive") if route.same_branch => (S::AtDestination, STAFF),
            (S::AtDestination, "out_for_delivery") if home => (S::OutForDelivery, ALL),
            (S::OutForDelivery, "deliver") => (S::Delivered, ALL),
            (S::AtDestination, "deliver") if !home => (S::Delivered, STAFF),
            (S::OutForDelivery, "fail_attempt") => (S::AtDestination, ALL),
            (S::Registered, "cancel") => (S::Cancelled, STAFF),
            (S::Received | S::InTransit | S::AtDestination, "cancel") => (S::Cancelled, BOSSES),
            (S::AtDestination, "return") => (S::Returned, STAFF),
            _ => return None,
        })
    }

    #[test]
    fn transition_follows_the_whole_table() {
        let mut accepted = 0;
        for from in S::ALL {
            for event in events() {
                for route in routes() {
                    for role in Role::ALL {
                        let got = transition(from, &event, role, route);
                        match expected(from, event.name(), route) {
                            Some((to, roles)) if roles.contains(&role) => {
                                assert_eq!(
                                    got.map(|t| t.to),
                                    Ok(to),
                                    "{from} {} {role:?} {route:?}",
                                    event.name()
                                );
                                accepted += 1;
                            }
                            Some(_) => assert!(
                                matches!(got, Err(InvalidTransition::Forbidden { .. })),
                                "{from} {} by {role:?} must be forbidden, got {got:?}",
                                event.name()
                            ),
                            None => assert!(
                                matches!(got, Err(InvalidTransition::NotFromHere { .. })),
                                "{from} {} on {route:?} must be refused, got {got:?}",
                                event.name()
                            ),
                        }
                    }
                }
            }
        }
        assert!(
            accepted > 40,
            "the table accepted only {accepted} combinations"
        );
    }

    #[test]
    fn final_statuses_accept_nothing() {
        for from in S::ALL.into_iter().filter(|s| s.is_final()) {
            for event in events() {
                for route in routes() {
                    assert!(transition(from, &event, Role::Admin, route).is_err());
                }
            }
        }
    }

    #[test]
    fn cancel_and_return_need_a_reason() {
        let route = Route {
            service: Service::BranchPickup,
            same_branch: false,
        };
        for event in [
            ParcelEvent::Cancel {
                reason: "  ".into(),
            },
            ParcelEvent::Return {
                reason: String::new(),
            },
            ParcelEvent::FailAttempt {
                reason: String::new(),
            },
        ] {
            assert!(matches!(
                transition(S::AtDestination, &event, Role::Admin, route),
                Err(InvalidTransition::ReasonRequired { .. })
            ));
        }
    }

    #[test]
    fn a_failed_attempt_is_counted_and_returns_to_the_branch() {
        let route = Route {
            service: Service::HomeDelivery,
            same_branch: false,
        };
        let t = transition(
            S::OutForDelivery,
            &ParcelEvent::FailAttempt {
                reason: "closed".into(),
            },
            Role::Courier,
            route,
        );
        assert_eq!(
            t,
            Ok(Transition {
                to: S::AtDestination,
                failed_attempt: true
            })
        );
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
    }
}
