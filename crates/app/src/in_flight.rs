//! The provider calls a dispatcher has in flight, with the lease each holds,
//! so that a shutdown can wait for them a while and give back the leases of
//! those that did not end.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use omnichannel_domain::CommunicationId;
use omnichannel_domain::ports::Outcome;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The calls in flight: tasks, and the lease of each call not yet ended.
#[derive(Default)]
pub(crate) struct InFlight {
    calls: JoinSet<()>,
    leases: Arc<Mutex<HashMap<CommunicationId, uuid::Uuid>>>,
}

impl InFlight {
    /// Runs `call` as a task; its outcome goes to `done`. The call counts as
    /// ended once its outcome is sent (nothing awaits in between, so an
    /// abort never falls between the two).
    pub(crate) fn spawn(
        &mut self,
        id: CommunicationId,
        lease: uuid::Uuid,
        call: impl Future<Output = Outcome> + Send + 'static,
        done: mpsc::UnboundedSender<Outcome>,
    ) {
        lock(&self.leases).insert(id, lease);
        let leases = self.leases.clone();
        self.calls.spawn(async move {
            let outcome = call.await;
            lock(&leases).remove(&id);
            drop(done.send(outcome));
        });
        // Forget the tasks that have ended.
        while self.calls.try_join_next().is_some() {}
    }

    /// Waits for every call to end, at most `grace` (`None`: as long as they
    /// take), then cancels the rest: answers their communications and leases.
    pub(crate) async fn end(
        mut self,
        grace: Option<std::time::Duration>,
    ) -> Vec<(CommunicationId, uuid::Uuid)> {
        let all = async { while self.calls.join_next().await.is_some() {} };
        let ended = match grace {
            Some(grace) => tokio::time::timeout(grace, all).await.is_ok(),
            None => {
                all.await;
                true
            }
        };
        if !ended {
            self.calls.abort_all();
            while self.calls.join_next().await.is_some() {}
        }
        lock(&self.leases).drain().collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
