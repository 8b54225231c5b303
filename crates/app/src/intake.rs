//! Group commit of single sends: the sends that arrive while a group is being
//! stored wait, and are stored together by the next one, in one transaction
//! (one multi-row `INSERT`, one wake-up of the workers, one commit). A send
//! alone is a group of one and waits for nothing; under load each commit
//! carries every send that arrived while the groups before it were stored.
//!
//! No thread of its own: a caller that finds fewer than [`MAX_STORING`]
//! groups being stored stores the pending sends, the others wait on a
//! condition variable.

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use omnichannel_domain::ports::{BulkInsert, CommunicationRepository, GroupInsert, RepoError};
use omnichannel_domain::{ApiKeyId, Communication, Event};

/// The most sends one transaction stores.
const MAX_GROUP: usize = 1_000;
/// The most groups stored at once. One: a group's statement has a fixed cost
/// (parse, plan, commit) that outweighs overlapping two (measured: two at
/// once took fewer sends a second than one, with or without the `NOTIFY`).
const MAX_STORING: usize = 1;

/// What became of one send.
#[derive(Debug)]
pub(crate) enum Intake {
    Stored,
    /// The API key it was sent with was revoked before it could be stored.
    KeyRevoked,
    /// A client, department, type or channel it names does not exist.
    MissingReference,
    /// The database failed; nothing of it is stored.
    Failed(anyhow::Error),
}

struct Pending {
    ticket: u64,
    communication: Communication,
    events: Vec<Event>,
    key: Option<ApiKeyId>,
}

#[derive(Default)]
struct State {
    next_ticket: u64,
    pending: Vec<Pending>,
    /// Callers storing a group.
    storing: usize,
    /// Outcomes not yet taken by their callers, by ticket.
    done: HashMap<u64, Intake>,
}

/// Stores one group: `CommunicationRepository::insert_group`.
type StoreGroup = dyn Fn(&BulkInsert, &[ApiKeyId]) -> Result<GroupInsert, RepoError> + Send + Sync;

pub(crate) struct GroupCommit {
    store: Box<StoreGroup>,
    state: Mutex<State>,
    stored: Condvar,
}

impl GroupCommit {
    pub(crate) fn new(repo: Arc<dyn CommunicationRepository>) -> Self {
        Self::storing_with(move |group, keys| repo.insert_group(group, keys))
    }

    fn storing_with(
        store: impl Fn(&BulkInsert, &[ApiKeyId]) -> Result<GroupInsert, RepoError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            store: Box::new(store),
            state: Mutex::default(),
            stored: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `communication` with `events`, with the sends of other callers
    /// that are pending, if `key` (when given) is still active then. Blocks
    /// until it is stored or refused.
    pub(crate) fn store(
        &self,
        communication: Communication,
        events: Vec<Event>,
        key: Option<ApiKeyId>,
    ) -> Intake {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.pending.push(Pending {
            ticket,
            communication,
            events,
            key,
        });
        loop {
            if let Some(outcome) = state.done.remove(&ticket) {
                return outcome;
            }
            if state.storing >= MAX_STORING || state.pending.is_empty() {
                state = self
                    .stored
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.storing += 1;
            let take = state.pending.len().min(MAX_GROUP);
            let group: Vec<Pending> = state.pending.drain(..take).collect();
            drop(state);
            let tickets: Vec<u64> = group.iter().map(|p| p.ticket).collect();
            let outcomes = catch_unwind(AssertUnwindSafe(|| self.store_group(group)))
                .unwrap_or_else(|_| {
                    tickets
                        .iter()
                        .map(|&t| {
                            (
                                t,
                                Intake::Failed(anyhow::anyhow!("storing the group panicked")),
                            )
                        })
                        .collect()
                });
            state = self.lock();
            state.storing -= 1;
            state.done.extend(outcomes);
            self.stored.notify_all();
        }
    }

    /// Stores `group`; a group refused for a revoked key is stored again
    /// without the sends of that key, one refused for a missing reference is
    /// stored one send at a time, so that each gets its own answer.
    fn store_group(&self, mut group: Vec<Pending>) -> Vec<(u64, Intake)> {
        let mut outcomes = Vec::with_capacity(group.len());
        while !group.is_empty() {
            let keys: Vec<ApiKeyId> = group
                .iter()
                .filter_map(|p| p.key)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let insert = BulkInsert {
                communications: group.iter().map(|p| p.communication.clone()).collect(),
                events: group.iter().flat_map(|p| p.events.clone()).collect(),
            };
            match (self.store)(&insert, &keys) {
                Ok(GroupInsert::Stored) => {
                    outcomes.extend(group.drain(..).map(|p| (p.ticket, Intake::Stored)));
                }
                Ok(GroupInsert::Revoked(revoked)) => {
                    let (refused, rest): (Vec<_>, Vec<_>) = group
                        .into_iter()
                        .partition(|p| p.key.is_some_and(|key| revoked.contains(&key)));
                    if refused.is_empty() {
                        // The store named no key of this group: it cannot be
                        // told apart, so refuse none and fail all.
                        outcomes.extend(rest.into_iter().map(|p| {
                            (
                                p.ticket,
                                Intake::Failed(anyhow::anyhow!(
                                    "the store refused keys the group does not hold: {revoked:?}"
                                )),
                            )
                        }));
                        group = Vec::new();
                    } else {
                        outcomes
                            .extend(refused.into_iter().map(|p| (p.ticket, Intake::KeyRevoked)));
                        group = rest;
                    }
                }
                Ok(GroupInsert::MissingReference) if group.len() == 1 => {
                    outcomes.extend(
                        group
                            .drain(..)
                            .map(|p| (p.ticket, Intake::MissingReference)),
                    );
                }
                Ok(GroupInsert::MissingReference) => {
                    for one in group.drain(..) {
                        outcomes.extend(self.store_group(vec![one]));
                    }
                }
                Err(error) => {
                    let error = anyhow::Error::new(error);
                    let message = format!("{error:#}");
                    outcomes.extend(
                        group
                            .drain(..)
                            .map(|p| (p.ticket, Intake::Failed(anyhow::anyhow!("{message}")))),
                    );
                }
            }
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    use chrono::Utc;
    use omnichannel_domain::{
        CommunicationId, CommunicationStatus, DepartmentId, EventKind, Message, TypeId, UserId,
    };

    use super::*;

    fn communication(user_id: UserId) -> (Communication, Vec<Event>) {
        let now = Utc::now();
        let communication = Communication {
            id: CommunicationId::generate(),
            department_id: DepartmentId::generate(),
            user_id,
            type_id: TypeId::generate(),
            requested_source_id: None,
            source_id: None,
            communication_date: now,
            status: CommunicationStatus::NotSent,
            status_reason: None,
            message: Message::parse("hello".to_owned()).expect("a message"),
            sent_at: None,
            delivered_at: None,
            read_at: None,
            attempts: 0,
            next_attempt_at: None,
            provider_message_id: None,
            batch_id: None,
            created_at: now,
            updated_at: now,
        };
        let created = Event::new(communication.id, now, EventKind::Created);
        (communication, vec![created])
    }

    fn pending(commit: &GroupCommit) -> usize {
        commit.lock().pending.len()
    }

    #[test]
    fn sends_arriving_while_a_group_is_stored_are_stored_together_by_the_next() {
        let (release, held) = mpsc::channel::<()>();
        let held = Mutex::new(held);
        let (sizes_tx, sizes) = mpsc::channel::<(usize, usize)>();
        let sizes_tx = Mutex::new(sizes_tx);
        let commit = GroupCommit::storing_with(move |group, _| {
            sizes_tx
                .lock()
                .expect("sizes")
                .send((group.communications.len(), group.events.len()))
                .expect("the test listens");
            // The first group waits until the test lets it go.
            if group.communications.len() == 1 {
                held.lock().expect("held").recv().expect("released");
            }
            Ok(GroupInsert::Stored)
        });
        let send = || {
            let (c, e) = communication(UserId::generate());
            commit.store(c, e, None)
        };
        std::thread::scope(|scope| {
            let mut handles = vec![scope.spawn(send)];
            assert_eq!(sizes.recv().expect("the first group"), (1, 1));
            handles.extend((0..5).map(|_| scope.spawn(send)));
            while pending(&commit) < 5 {
                std::thread::sleep(Duration::from_millis(1));
            }
            release.send(()).expect("the first group waits");
            assert_eq!(sizes.recv().expect("the second group"), (5, 5));
            for handle in handles {
                assert!(matches!(handle.join().expect("no panic"), Intake::Stored));
            }
        });
        assert!(sizes.try_recv().is_err(), "two commits for six sends");
    }

    #[test]
    fn a_group_with_a_missing_reference_is_stored_one_send_at_a_time() {
        let missing = UserId::generate();
        let commit = GroupCommit::storing_with(move |group, _| {
            Ok(
                if group.communications.iter().any(|c| c.user_id == missing) {
                    GroupInsert::MissingReference
                } else {
                    GroupInsert::Stored
                },
            )
        });
        let group = [UserId::generate(), missing, UserId::generate()]
            .into_iter()
            .enumerate()
            .map(|(ticket, user)| {
                let (communication, events) = communication(user);
                Pending {
                    ticket: ticket as u64,
                    communication,
                    events,
                    key: None,
                }
            })
            .collect();
        let outcomes: HashMap<u64, Intake> = commit.store_group(group).into_iter().collect();
        assert_eq!(outcomes.len(), 3);
        assert!(matches!(outcomes[&0], Intake::Stored));
        assert!(matches!(outcomes[&1], Intake::MissingReference));
        assert!(matches!(outcomes[&2], Intake::Stored));
    }

    #[test]
    fn the_sends_of_a_revoked_key_are_refused_and_the_others_stored() {
        let revoked = ApiKeyId::generate();
        let active = ApiKeyId::generate();
        let calls = AtomicUsize::new(0);
        let commit = GroupCommit::storing_with(move |group, keys| {
            let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if keys.contains(&revoked) {
                return Ok(GroupInsert::Revoked(vec![revoked]));
            }
            assert_eq!(call, 2, "stored again without the revoked key's sends");
            assert_eq!(group.communications.len(), 2);
            Ok(GroupInsert::Stored)
        });
        let group = [Some(revoked), Some(active), None]
            .into_iter()
            .enumerate()
            .map(|(ticket, key)| {
                let (communication, events) = communication(UserId::generate());
                Pending {
                    ticket: ticket as u64,
                    communication,
                    events,
                    key,
                }
            })
            .collect();
        let outcomes: HashMap<u64, Intake> = commit.store_group(group).into_iter().collect();
        assert!(matches!(outcomes[&0], Intake::KeyRevoked));
        assert!(matches!(outcomes[&1], Intake::Stored));
        assert!(matches!(outcomes[&2], Intake::Stored));
    }

    #[test]
    fn a_failed_group_fails_each_of_its_sends_and_the_next_group_is_stored() {
        let calls = AtomicUsize::new(0);
        let commit = GroupCommit::storing_with(move |_, _| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(anyhow::anyhow!("the database is gone").into())
            } else {
                Ok(GroupInsert::Stored)
            }
        });
        let (c, e) = communication(UserId::generate());
        let Intake::Failed(error) = commit.store(c, e, None) else {
            panic!("the first store fails");
        };
        assert!(
            error.to_string().contains("the database is gone"),
            "{error}"
        );
        let (c, e) = communication(UserId::generate());
        assert!(matches!(commit.store(c, e, None), Intake::Stored));
    }
}
