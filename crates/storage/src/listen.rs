//! Wakes the workers of this process when another process queues work:
//! PostgreSQL's `LISTEN`/`NOTIFY` on [`DISPATCH_CHANNEL`](crate::DISPATCH_CHANNEL).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::RunQueryDsl;

use crate::database_url::DatabaseUrl;
use crate::error::StorageError;

/// How often the listening connection is read. Reading consumes what the
/// server has sent and does not wait, so this is the wake-up latency.
const POLL: Duration = Duration::from_millis(20);
/// The pause before connecting again after the connection was lost.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// A thread with a connection of its own that listens for queued work.
#[derive(Debug)]
pub struct Listener {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Listener {
    /// On PostgreSQL, starts listening and calls `wake` whenever work was
    /// queued by any process, and once after each reconnection (a
    /// notification may have been missed meanwhile). `None` on SQLite, where
    /// one process owns the database and wakes its workers in memory.
    pub fn start(
        database_url: &str,
        wake: impl Fn() + Send + 'static,
    ) -> Result<Option<Self>, StorageError> {
        let DatabaseUrl::Postgres(url) = DatabaseUrl::parse(database_url)? else {
            return Ok(None);
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("omnichannel-listen".to_owned())
            .spawn(move || listen(&url, &stopped, &wake))
            .map_err(StorageError::Listen)?;
        Ok(Some(Self { stop, thread }))
    }

    /// Stops listening and waits for the thread.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if self.thread.join().is_err() {
            tracing::error!("the listener thread panicked");
        }
    }
}

fn listen(url: &str, stop: &AtomicBool, wake: &dyn Fn()) {
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let connected = crate::connection::establish_pg(url)
            .map_err(anyhow::Error::new)
            .and_then(|mut conn| {
                diesel::sql_query(format!("LISTEN {}", crate::DISPATCH_CHANNEL))
                    .execute(&mut conn)
                    .map_err(anyhow::Error::new)?;
                Ok(conn)
            });
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot listen for queued work; trying again"
                );
                std::thread::sleep(RECONNECT_AFTER);
                continue;
            }
        };
        if !first {
            tracing::info!("listening for queued work again");
        }
        first = false;
        wake();
        while !stop.load(Ordering::Relaxed) {
            let mut woken = false;
            let mut lost = None;
            for notification in conn.notifications_iter() {
                match notification {
                    Ok(_) => woken = true,
                    Err(error) => {
                        lost = Some(error);
                        break;
                    }
                }
            }
            if woken {
                wake();
            }
            if let Some(error) = lost {
                tracing::warn!(%error, "the listening connection was lost; reconnecting");
                std::thread::sleep(RECONNECT_AFTER);
                break;
            }
            std::thread::sleep(POLL);
        }
    }
}
