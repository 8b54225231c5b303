//! The `log` provider: each message becomes one line of the server log, so a
//! new installation runs end to end with nothing configured.

use std::future;

use omnichannel_domain::ports::{BoxFuture, Delivery, Outgoing, Provider, ProviderError};

/// Writes each message to the log at `info` and takes it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogProvider;

impl Provider for LogProvider {
    fn send(&self, message: Outgoing) -> BoxFuture<'static, Result<Delivery, ProviderError>> {
        tracing::info!(
            communication.id = %message.communication_id,
            channel = %message.channel,
            "communication.type" = %message.communication_type,
            to = message.to.as_deref(),
            text = %message.message,
            "message sent to the log"
        );
        Box::pin(future::ready(Ok(Delivery::default())))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use omnichannel_domain::ids::{CommunicationId, DepartmentId, UserId};

    use super::*;
    use crate::test_logs::capture_logs;

    #[tokio::test]
    async fn writes_one_line_and_takes_the_message() {
        let id = CommunicationId::generate();
        let message = Outgoing {
            communication_id: id,
            user_id: UserId::generate(),
            department_id: DepartmentId::generate(),
            communication_type: "reminder".to_owned(),
            communication_type_name: "Reminder".to_owned(),
            channel: "sms".to_owned(),
            to: Some("+33612345678".to_owned()),
            message: "Your appointment is tomorrow".to_owned(),
        };
        let (logs, guard) = capture_logs();
        let answer = LogProvider.send(message);
        drop(guard);

        assert_eq!(answer.await, Ok(Delivery::default()));
        let log = logs.text();
        assert_eq!(log.lines().count(), 1, "{log}");
        for part in [
            "INFO",
            "message sent to the log",
            &format!("communication.id={id}"),
            "channel=sms",
            "communication.type=reminder",
            "to=\"+33612345678\"",
            "text=Your appointment is tomorrow",
        ] {
            assert!(log.contains(part), "{part:?} missing from {log}");
        }
    }
}
