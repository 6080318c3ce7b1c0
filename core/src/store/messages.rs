//! Which messages a status change sends, to whom, saying what.
//!
//! One SMS per change to the customer who needs to act or know, plus an
//! email with the same template when that customer gave an address.

use crate::domain::{ParcelEvent, Service};

/// A message to write to the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// `sms` or `email`.
    pub channel: &'static str,
    /// Phone or email address.
    pub recipient: String,
    /// Template name (the email job renders it).
    pub template: &'static str,
    /// SMS text, or the email's subject.
    pub body: String,
}

/// What the messages need to know about the parcel.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    /// Tracking code.
    pub code: &'a str,
    /// Pickup or delivery.
    pub service: Service,
    /// Origin branch name.
    pub origin: &'a str,
    /// Destination branch name.
    pub destination: &'a str,
    /// Sender phone and email.
    pub sender: (&'a str, Option<&'a str>),
    /// Recipient phone and email.
    pub recipient: (&'a str, Option<&'a str>),
}

/// The messages an event sends.
pub fn for_event(event: &ParcelEvent, f: &Facts<'_>) -> Vec<Message> {
    let code = f.code;
    let (to, template, body) = match event {
        ParcelEvent::Receive => (
            f.recipient,
            "received",
            format!(
                "Paqueteria: su envio {code} fue recibido en {}. Le avisaremos cuando llegue.",
                f.origin
            ),
        ),
        ParcelEvent::Arrive if f.service == Service::BranchPickup => (
            f.recipient,
            "ready_for_pickup",
            format!(
                "Paqueteria: su envio {code} esta listo para recoger en {}. Traiga su documento y el PIN de entrega.",
                f.destination
            ),
        ),
        ParcelEvent::OutForDelivery => (
            f.recipient,
            "out_for_delivery",
            format!("Paqueteria: su envio {code} salio a reparto hoy."),
        ),
        ParcelEvent::Deliver => (
            f.sender,
            "delivered",
            format!("Paqueteria: su envio {code} fue entregado."),
        ),
        ParcelEvent::FailAttempt { reason } => (
            f.recipient,
            "failed_attempt",
            format!(
                "Paqueteria: no pudimos entregar {code} ({reason}). Puede recogerlo en {}.",
                f.destination
            ),
        ),
        ParcelEvent::Cancel { reason } => (
            f.sender,
            "cancelled",
            format!("Paqueteria: el envio {code} fue cancelado: {reason}."),
        ),
        ParcelEvent::Return { reason } => (
            f.sender,
            "returned",
            format!("Paqueteria: el envio {code} se devuelve al remitente: {reason}."),
        ),
        ParcelEvent::Arrive | ParcelEvent::Dispatch => return Vec::new(),
    };
    let mut out = vec![Message {
        channel: "sms",
        recipient: to.0.to_owned(),
        template,
        body: body.clone(),
    }];
    if let Some(email) = to.1.filter(|e| !e.is_empty()) {
        out.push(Message {
            channel: "email",
            recipient: email.to_owned(),
            template,
            body,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts<'static> {
        Facts {
            code: "PQ000012341CO",
            service: Service::BranchPickup,
            origin: "Centro",
            destination: "Norte",
            sender: ("+573001111111", Some("ana@example.com")),
            recipient: ("+573002222222", None),
        }
    }

    #[test]
    fn ready_for_pickup_goes_to_the_recipient_by_sms_only_when_no_email() {
        let m = for_event(&ParcelEvent::Arrive, &facts());
        assert_eq!(m.len(), 1);
        assert_eq!(
            (m[0].channel, m[0].recipient.as_str()),
            ("sms", "+573002222222")
        );
        assert!(m[0].body.contains("Norte") && m[0].body.contains("PQ000012341CO"));
    }

    #[test]
    fn delivery_tells_the_sender_by_sms_and_email() {
        let m = for_event(&ParcelEvent::Deliver, &facts());
        let channels: Vec<_> = m
            .iter()
            .map(|m| (m.channel, m.recipient.as_str()))
            .collect();
        assert_eq!(
            channels,
            vec![("sms", "+573001111111"), ("email", "ana@example.com")]
        );
    }

    #[test]
    fn dispatch_sends_nothing() {
        assert!(for_event(&ParcelEvent::Dispatch, &facts()).is_empty());
    }
}
