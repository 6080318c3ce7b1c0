//! Email: templates per event (text and HTML, minijinja, HTML escaped) and
//! SMTP through lettre.
//!
//! `SMTP_URL` is lettre's URL form: `smtp://user:pass@host:587?tls=required`
//! for STARTTLS, `smtps://user:pass@host:465` for TLS, `smtp://host:25` for
//! a plain relay.

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use paqueteria_core::settings::SmtpSettings;
use secrecy::ExposeSecret;

use super::SendError;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(
            (concat!($name, ".txt"), include_str!(concat!("../../templates/email/", $name, ".txt"))),
            (concat!($name, ".html"), include_str!(concat!("../../templates/email/", $name, ".html"))),
        )*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "received",
    "ready_for_pickup",
    "out_for_delivery",
    "delivered",
    "failed_attempt",
    "cancelled",
    "returned",
    "pickup_reminder",
    "report_ready",
    "report_failed",
);

const LAYOUT: &str = include_str!("../../templates/email/layout.html");

/// A rendered email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Text part.
    pub text: String,
    /// HTML part.
    pub html: String,
}

/// The email templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads every template; a broken one is a start-up error.
    pub fn load() -> anyhow::Result<Self> {
        let mut env = Environment::new();
        // Escape in the HTML templates only; the text part stays as written.
        // Links the app builds itself (from APP_PUBLIC_URL) are marked safe
        // in the templates so their slashes stay readable.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.add_template("layout.html", LAYOUT)?;
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    /// Whether a template exists.
    pub fn has(&self, template: &str) -> bool {
        self.env.get_template(&format!("{template}.txt")).is_ok()
    }

    /// Renders `template` with `context`: the text template's first line
    /// is the subject.
    pub fn render(&self, template: &str, context: &serde_json::Value) -> Result<Rendered, String> {
        let text_t = self
            .env
            .get_template(&format!("{template}.txt"))
            .map_err(|_| format!("no email template {template:?}"))?;
        let html_t = self
            .env
            .get_template(&format!("{template}.html"))
            .map_err(|_| format!("no email template {template:?}"))?;
        let text = text_t
            .render(context)
            .map_err(|e| format!("template {template}: {e}"))?;
        let html = html_t
            .render(context)
            .map_err(|e| format!("template {template}: {e}"))?;
        let (subject, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
        Ok(Rendered {
            subject: subject.trim().to_owned(),
            text: body.trim_start_matches('\n').to_owned(),
            html,
        })
    }
}

/// An SMTP mailer.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Builds the mailer; a URL or sender lettre refuses names its variable.
    pub fn new(settings: &SmtpSettings) -> anyhow::Result<Self> {
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.url.expose_secret())
                .map_err(|e| anyhow::anyhow!("SMTP_URL: {e}"))?
                .timeout(Some(std::time::Duration::from_secs(20)))
                .build();
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|e| anyhow::anyhow!("MAIL_FROM {:?}: {e}", settings.from))?;
        Ok(Self { transport, from })
    }

    /// Sends one email; returns the server's answer to the message.
    pub async fn send(&self, to: &str, mail: &Rendered) -> Result<String, SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient {to:?}: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))?;
        match self.transport.send(message).await {
            Ok(reply) => Ok(reply.message().collect::<Vec<_>>().join(" ")),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(format!("SMTP refused: {e}"))),
            Err(e) => Err(SendError::Transient(format!("SMTP: {e}"))),
        }
    }
}
