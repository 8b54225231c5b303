//! The contract of `CommunicationRepository` and `DispatchQueue`, run on
//! `Store` against both backends: the communications, their history, the
//! changes under a client's lock and the dispatch queue, races included.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::{Barrier, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use omnichannel_domain::auth::ApiKey;
use omnichannel_domain::decision::Counted;
use omnichannel_domain::ports::{
    ApiKeyRepository, AvailabilityRepository, BulkInsert, Claim, ClientWrite, CommunicationFilter,
    CommunicationRepository, CommunicationSourceRepository, CommunicationStats,
    CommunicationTypeRepository, DepartmentRepository, DispatchQueue, FavoriteSourceRepository,
    GroupInsert, HourlyCount, Outcome, Page, PolicySnapshot, RepoError, RuleRepository, Step,
    Stored, UserRepository,
};
use omnichannel_domain::{
    ApiKeyId, Availability, AvailabilityStatus, BatchId, Code, Communication, CommunicationId,
    CommunicationSource, CommunicationStatus, CommunicationType, Department, DepartmentId,
    DictionaryStatus, Event, EventKind, FavoriteSource, Message, Name, PersonName, Rule, RuleId,
    RuleLimit, SourceId, SourceKind, StatusReason, TimeUnit, TypeId, User, UserId,
};
use omnichannel_storage::{DISPATCH_CHANNEL, Store};
use uuid::Uuid;

use crate::db::{Backend, TestDb, both_backends};

// ---- fixtures -------------------------------------------------------------

/// `seconds` after a fixed moment later than any migration ran, in whole
/// microseconds: what both backends store exactly.
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(seconds)
}

const ALL: Page = Page {
    limit: Page::MAX_LIMIT,
    offset: 0,
};

const DAY: i64 = 86_400;

fn new_user(store: &Store, name: &str) -> User {
    let user = User {
        id: UserId::generate(),
        first_name: PersonName::parse(name).unwrap(),
        last_name: PersonName::parse("Client").unwrap(),
        phone: None,
        email: None,
        push_token: None,
        external_id: None,
        created_at: at(0),
        updated_at: at(0),
    };
    UserRepository::insert(store, &user).expect("insert user");
    user
}

fn new_api_key(store: &Store, name: &str) -> ApiKey {
    let key = ApiKey {
        id: ApiKeyId::generate(),
        name: Name::parse(name).unwrap(),
        key: format!("key-{}", Uuid::new_v4().simple()),
        secret_hash: format!("hash-of-the-secret-of-{name}"),
        created_at: at(0),
        last_used_at: None,
    };
    ApiKeyRepository::insert(store, &key).expect("insert an API key");
    key
}

fn new_department(store: &Store, name: &str) -> Department {
    let department = Department {
        id: DepartmentId::generate(),
        name: Name::parse(name).unwrap(),
        created_at: at(0),
        updated_at: at(0),
    };
    DepartmentRepository::insert(store, &department).expect("insert department");
    department
}

fn new_type(store: &Store, code: &str) -> CommunicationType {
    let item = CommunicationType {
        id: TypeId::generate(),
        code: Code::parse(code).unwrap(),
        name: Name::parse(format!("Type {code}")).unwrap(),
        status: DictionaryStatus::Active,
        created_at: at(0),
        updated_at: at(0),
    };
    CommunicationTypeRepository::insert(store, &item).expect("insert type");
    item
}

fn new_source(store: &Store, code: &str) -> CommunicationSource {
    let item = CommunicationSource {
        id: SourceId::generate(),
        code: Code::parse(code).unwrap(),
        name: Name::parse(format!("Source {code}")).unwrap(),
        kind: SourceKind::Sms,
        status: DictionaryStatus::Active,
        created_at: at(0),
        updated_at: at(0),
    };
    CommunicationSourceRepository::insert(store, &item).expect("insert source");
    item
}

fn new_rule(
    store: &Store,
    department_id: DepartmentId,
    type_id: Option<TypeId>,
    limit: i64,
    unit: TimeUnit,
) -> Rule {
    let rule = Rule {
        id: RuleId::generate(),
        department_id,
        type_id,
        limit: RuleLimit::new(limit, unit, 1).unwrap(),
        created_at: at(0),
        updated_at: at(0),
    };
    RuleRepository::insert(store, &rule).expect("insert rule");
    rule
}

/// A client in a department, a type and a channel of their own.
struct World {
    user: User,
    department: Department,
    type_: CommunicationType,
    source: CommunicationSource,
}

fn world(store: &Store, tag: &str) -> World {
    World {
        user: new_user(store, &format!("Ann {tag}")),
        department: new_department(store, &format!("Department {tag}")),
        type_: new_type(store, &format!("type_{tag}")),
        source: new_source(store, &format!("source_{tag}")),
    }
}

/// A communication of the world's client, created at `at(0)`.
fn communication(w: &World, status: CommunicationStatus, date: DateTime<Utc>) -> Communication {
    Communication {
        id: CommunicationId::generate(),
        department_id: w.department.id,
        user_id: w.user.id,
        type_id: w.type_.id,
        requested_source_id: None,
        source_id: None,
        communication_date: date,
        status,
        status_reason: None,
        message: Message::parse("Your appointment is tomorrow").unwrap(),
        sent_at: None,
        delivered_at: None,
        read_at: None,
        attempts: 0,
        next_attempt_at: None,
        provider_message_id: None,
        batch_id: None,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn waiting(w: &World, date: DateTime<Utc>) -> Communication {
    communication(w, CommunicationStatus::NotSent, date)
}

fn booked(w: &World, date: DateTime<Utc>) -> Communication {
    communication(w, CommunicationStatus::Booked, date)
}

fn sent(w: &World, sent_at: DateTime<Utc>) -> Communication {
    Communication {
        source_id: Some(w.source.id),
        sent_at: Some(sent_at),
        attempts: 1,
        ..communication(w, CommunicationStatus::Sent, sent_at)
    }
}

fn created(c: &Communication) -> Vec<Event> {
    vec![Event::new(c.id, c.created_at, EventKind::Created)]
}

fn store_all(store: &Store, items: &[&Communication]) {
    for item in items {
        CommunicationRepository::insert(store, item, &created(item)).expect("insert communication");
    }
}

/// What a claim handed its planner, if it called it.
struct Claimed {
    claims: Vec<Claim>,
    snapshot: PolicySnapshot,
}

impl Claimed {
    fn ids(&self) -> Vec<CommunicationId> {
        self.claims.iter().map(|c| c.communication.id).collect()
    }

    fn lease(&self) -> Uuid {
        self.claims[0].lease
    }
}

/// Claims at `now` under a lease until `until`, writing what `plan` answers.
fn claim(
    store: &Store,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: u32,
    mut plan: impl FnMut(&[Claim]) -> Vec<Step>,
) -> Option<Claimed> {
    let mut seen = None;
    let count = store
        .claim(now, until, limit, &mut |claims, snapshot| {
            seen = Some(Claimed {
                claims: claims.to_vec(),
                snapshot: snapshot.clone(),
            });
            plan(claims)
        })
        .expect("claim");
    assert_eq!(count, seen.as_ref().map_or(0, |s| s.claims.len()));
    seen
}

fn no_steps(_: &[Claim]) -> Vec<Step> {
    Vec::new()
}

/// Reserves every claim on `channel` at `at`.
fn reserve_all(channel: SourceId, at: DateTime<Utc>) -> impl FnMut(&[Claim]) -> Vec<Step> {
    move |claims| {
        claims
            .iter()
            .map(|c| {
                let id = c.communication.id;
                Step::Reserve {
                    id,
                    channel,
                    at,
                    events: vec![Event::new(id, at, EventKind::ChannelChosen).with_channel("sms")],
                }
            })
            .collect()
    }
}

/// The snapshot and stored communication a change under the client's lock
/// sees; it writes nothing.
fn look(
    store: &Store,
    user_id: UserId,
    department_id: DepartmentId,
    current: Option<CommunicationId>,
    now: DateTime<Utc>,
) -> (PolicySnapshot, Option<Stored>) {
    let mut seen = None;
    store
        .decide_for_client(
            user_id,
            department_id,
            current,
            now,
            &mut |snapshot, stored| {
                seen = Some((snapshot.clone(), stored.cloned()));
                None
            },
        )
        .expect("decide_for_client");
    seen.expect("the decision ran")
}

fn counted(
    snapshot: &PolicySnapshot,
    user_id: UserId,
    department_id: DepartmentId,
) -> Vec<Counted> {
    snapshot.clients[&(user_id, department_id)].counted.clone()
}

fn get(store: &Store, id: CommunicationId) -> Communication {
    CommunicationRepository::get(store, id)
        .expect("get")
        .expect("the communication is stored")
}

/// The text `sql` selects for `id` (`{id}` in `sql` is replaced).
fn text(db: &TestDb, sql: &str, id: CommunicationId) -> String {
    let texts = db.texts(&sql.replace("{id}", &id.to_string()));
    assert_eq!(texts.len(), 1, "{sql}");
    texts.into_iter().next().unwrap()
}

// ---- communications and their history ---------------------------------------

both_backends! {
    fn a_communication_round_trips_with_its_events(db: &TestDb) {
        let store = db.store();
        let communications: &dyn CommunicationRepository = &store;
        let w = world(&store, "a");
        let other = new_source(&store, "other");
        let mut item = sent(&w, at(30));
        item.requested_source_id = Some(other.id);
        item.status = CommunicationStatus::Delivered;
        item.status_reason = Some(StatusReason::Receipt);
        item.delivered_at = Some(at(40));
        item.read_at = Some(at(50));
        item.attempts = 3;
        item.next_attempt_at = Some(at(25));
        item.provider_message_id = Some("provider-1".to_owned());
        item.batch_id = Some(BatchId::generate());
        item.communication_date = at(20) + Duration::microseconds(123_456);
        item.updated_at = at(60);
        let events = vec![
            Event::new(item.id, at(0), EventKind::Created),
            Event::deferred(item.id, at(1), at(20), StatusReason::RateLimited),
            Event::new(item.id, at(30), EventKind::ChannelChosen)
                .with_channel("sms")
                .with_detail("the first favourite"),
            Event::new(item.id, at(30), EventKind::Sent).with_channel("sms"),
            Event::new(item.id, at(31), EventKind::AttemptFailed)
                .with_detail("timeout")
                .with_reason(StatusReason::ProviderError),
        ];

        communications.insert(&item, &events).expect("insert");

        assert_eq!(communications.get(item.id).expect("get"), Some(item.clone()));
        assert_eq!(communications.events(item.id).expect("events"), events);
        let missing = CommunicationId::generate();
        assert_eq!(communications.get(missing).expect("get a missing one"), None);
        assert_eq!(communications.events(missing).expect("no events"), Vec::new());

        let again = communications.insert(&item, &[]);
        assert!(matches!(again, Err(RepoError::Conflict("id"))), "{again:?}");
        assert_eq!(communications.events(item.id).expect("events").len(), events.len());
    }

    fn a_communication_is_found_by_its_provider_message_id(db: &TestDb) {
        let store = db.store();
        let communications: &dyn CommunicationRepository = &store;
        let w = world(&store, "a");
        let mut older = sent(&w, at(30));
        older.provider_message_id = Some("SM-shared".to_owned());
        let mut newer = sent(&w, at(40));
        newer.provider_message_id = Some("SM-shared".to_owned());
        newer.created_at = at(5);
        let mut other = sent(&w, at(50));
        other.provider_message_id = Some("SM-other".to_owned());
        let none = waiting(&w, at(10));
        store_all(&store, &[&older, &newer, &other, &none]);

        let found = |id: &str| {
            communications
                .find_by_provider_message_id(id)
                .expect("find")
                .map(|c| c.id)
        };
        assert_eq!(found("SM-other"), Some(other.id));
        // Two answers of one id: the newest communication.
        assert_eq!(found("SM-shared"), Some(newer.id));
        assert_eq!(found("SM-missing"), None);
        assert_eq!(found(""), None);
    }

    fn a_failed_insert_stores_nothing(db: &TestDb) {
        let store = db.store();
        let communications: &dyn CommunicationRepository = &store;
        let w = world(&store, "a");
        let item = waiting(&w, at(10));
        let stray = Event::new(CommunicationId::generate(), at(0), EventKind::Created);

        let failed = communications.insert(&item, &[Event::new(item.id, at(0), EventKind::Created), stray]);

        assert!(matches!(failed, Err(RepoError::Unexpected(_))), "{failed:?}");
        assert_eq!(communications.get(item.id).expect("get"), None);
    }

    fn a_group_is_stored_whole_or_not_at_all(db: &TestDb) {
        let store = db.store();
        let communications: &dyn CommunicationRepository = &store;
        let w = world(&store, "a");
        let key = new_api_key(&store, "group");
        let mut with_everything = sent(&w, at(30));
        with_everything.requested_source_id = Some(w.source.id);
        with_everything.provider_message_id = Some("provider-1".to_owned());
        with_everything.batch_id = Some(BatchId::generate());
        with_everything.next_attempt_at = Some(at(25));
        with_everything.communication_date = at(20) + Duration::microseconds(123_456);
        let items = [waiting(&w, at(10)), booked(&w, at(1_000)), with_everything];
        let group = |items: &[Communication]| BulkInsert {
            communications: items.to_vec(),
            events: items.iter().flat_map(created).collect(),
        };

        let stored = communications.insert_group(&group(&items), &[key.id]).expect("store");
        assert_eq!(stored, GroupInsert::Stored);
        for item in &items {
            assert_eq!(communications.get(item.id).expect("get").as_ref(), Some(item));
            assert_eq!(communications.events(item.id).expect("events"), created(item));
        }

        // A missing client: nothing of the group.
        let mut stray = waiting(&w, at(10));
        stray.user_id = UserId::generate();
        let good = waiting(&w, at(10));
        let refused = communications.insert_group(&group(&[good.clone(), stray]), &[]).expect("refuse");
        assert_eq!(refused, GroupInsert::MissingReference);
        assert_eq!(communications.get(good.id).expect("get"), None);

        // A revoked key, or one that does not exist: nothing, and which.
        let unknown = ApiKeyId::generate();
        let revoked = communications.insert_group(&group(std::slice::from_ref(&good)), &[key.id, unknown]).expect("refuse");
        assert_eq!(revoked, GroupInsert::Revoked(vec![unknown]));
        ApiKeyRepository::revoke(&store, key.id, at(40)).expect("revoke");
        let revoked = communications.insert_group(&group(std::slice::from_ref(&good)), &[key.id]).expect("refuse");
        assert_eq!(revoked, GroupInsert::Revoked(vec![key.id]));
        assert_eq!(communications.get(good.id).expect("get"), None);
        assert_eq!(communications.insert_group(&group(std::slice::from_ref(&good)), &[]).expect("store"), GroupInsert::Stored);
        assert!(communications.get(good.id).expect("get").is_some());
    }

    fn a_stored_value_the_domain_refuses_is_an_error(db: &TestDb) {
        let store = db.store();
        let communications: &dyn CommunicationRepository = &store;
        let w = world(&store, "a");
        let item = waiting(&w, at(10));
        communications.insert(&item, &created(&item)).expect("insert");
        db.execute("UPDATE communications SET message = ''").expect("corrupt");

        let read = communications.get(item.id);

        assert!(matches!(read, Err(RepoError::Unexpected(_))), "{read:?}");
        assert!(db.execute("UPDATE communications SET status = 'sending'").is_err());
        assert!(db.execute("UPDATE communications SET status_reason = 'later'").is_err());
        assert!(db.execute("UPDATE communication_events SET kind = 'Sent'").is_err());
    }

    fn communications_are_listed_newest_first_by_every_filter(db: &TestDb) {
        let store = db.store();
        let communications: &dyn CommunicationRepository = &store;
        let w1 = world(&store, "a");
        let w2 = World {
            user: new_user(&store, "Bob"),
            department: new_department(&store, "Department b"),
            type_: new_type(&store, "type_b"),
            source: new_source(&store, "source_b"),
        };
        let batch = BatchId::generate();
        let c1 = Communication {
            source_id: Some(w1.source.id),
            batch_id: Some(batch),
            created_at: at(1),
            ..waiting(&w1, at(100))
        };
        let c2 = Communication { created_at: at(2), ..booked(&w2, at(200)) };
        let c3 = Communication {
            department_id: w2.department.id,
            source_id: Some(w2.source.id),
            batch_id: Some(batch),
            created_at: at(3),
            ..sent(&w1, at(300))
        };
        let c4 = Communication {
            source_id: Some(w1.source.id),
            status: CommunicationStatus::Failed,
            status_reason: Some(StatusReason::NoChannel),
            department_id: w2.department.id,
            created_at: at(3),
            ..waiting(&w2, at(400))
        };
        store_all(&store, &[&c1, &c2, &c3, &c4]);
        // Newest first by creation, then by id.
        let mut newest_first = [&c1, &c2, &c3, &c4];
        newest_first.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
        let expected = |wanted: &[&Communication]| -> Vec<CommunicationId> {
            newest_first
                .iter()
                .filter(|c| wanted.iter().any(|w| w.id == c.id))
                .map(|c| c.id)
                .collect()
        };
        let ids = |filter: CommunicationFilter| -> Vec<CommunicationId> {
            let page = communications.list(&filter, ALL).expect("list");
            assert_eq!(page.total, page.items.len() as u64, "{filter:?}");
            page.items.into_iter().map(|c| c.id).collect()
        };

        assert_eq!(ids(CommunicationFilter::default()), expected(&[&c1, &c2, &c3, &c4]));
        let cases = [
            (CommunicationFilter { status: Some(CommunicationStatus::Sent), ..Default::default() }, vec![&c3]),
            (CommunicationFilter { user_id: Some(w1.user.id), ..Default::default() }, vec![&c1, &c3]),
            (CommunicationFilter { department_id: Some(w2.department.id), ..Default::default() }, vec![&c2, &c3, &c4]),
            (CommunicationFilter { type_id: Some(w2.type_.id), ..Default::default() }, vec![&c2, &c4]),
            (CommunicationFilter { source_id: Some(w1.source.id), ..Default::default() }, vec![&c1, &c4]),
            (CommunicationFilter { batch_id: Some(batch), ..Default::default() }, vec![&c1, &c3]),
            (CommunicationFilter { from: Some(at(200)), ..Default::default() }, vec![&c2, &c3, &c4]),
            (CommunicationFilter { to: Some(at(300)), ..Default::default() }, vec![&c1, &c2]),
            (CommunicationFilter { from: Some(at(200)), to: Some(at(300)), ..Default::default() }, vec![&c2]),
            (
                CommunicationFilter {
                    user_id: Some(w2.user.id),
                    status: Some(CommunicationStatus::Booked),
                    ..Default::default()
                },
                vec![&c2],
            ),
            (CommunicationFilter { batch_id: Some(BatchId::generate()), ..Default::default() }, vec![]),
        ];
        for (filter, wanted) in cases {
            assert_eq!(ids(filter.clone()), expected(&wanted), "{filter:?}");
        }

        let page = communications
            .list(&CommunicationFilter::default(), Page { limit: 2, offset: 1 })
            .expect("list a page");
        assert_eq!(page.total, 4);
        let all = expected(&[&c1, &c2, &c3, &c4]);
        assert_eq!(page.items.iter().map(|c| c.id).collect::<Vec<_>>(), all[1..3]);
        assert_eq!(page.items[0], *newest_first[1]);
        let past_the_end = communications
            .list(&CommunicationFilter::default(), Page { limit: 2, offset: 10 })
            .expect("list past the end");
        assert_eq!((past_the_end.items.len(), past_the_end.total), (0, 4));
    }

    fn rows_with_communications_cannot_be_deleted(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let requested = new_source(&store, "requested");
        new_rule(&store, w.department.id, None, 1, TimeUnit::Day);
        let item = Communication {
            requested_source_id: Some(requested.id),
            source_id: Some(w.source.id),
            ..waiting(&w, at(10))
        };
        store_all(&store, &[&item]);

        let refused = [
            ("user", UserRepository::delete(&store, w.user.id)),
            ("department", DepartmentRepository::delete(&store, w.department.id)),
            ("type", CommunicationTypeRepository::delete(&store, w.type_.id)),
            ("source", CommunicationSourceRepository::delete(&store, w.source.id)),
            ("requested source", CommunicationSourceRepository::delete(&store, requested.id)),
        ];

        for (what, result) in refused {
            assert!(matches!(result, Err(RepoError::Referenced)), "{what}: {result:?}");
        }
        assert!(UserRepository::get(&store, w.user.id).expect("get user").is_some());
        assert!(DepartmentRepository::get(&store, w.department.id).expect("get").is_some());
        let rules = RuleRepository::list(&store, w.department.id, ALL).expect("list rules");
        assert_eq!(rules.total, 1, "the department's rules are kept too");
        assert_eq!(get(&store, item.id), item);
    }
}

// ---- conditional updates ----------------------------------------------------

both_backends! {
    fn update_if_writes_only_the_expected_status(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let item = booked(&w, at(1_000));
        store_all(&store, &[&item]);
        let cancelled = Communication {
            status: CommunicationStatus::Cancelled,
            updated_at: at(50),
            ..item.clone()
        };
        let event = Event::new(item.id, at(50), EventKind::Cancelled);

        let stale = store.update_if(&cancelled, CommunicationStatus::NotSent, at(50), std::slice::from_ref(&event));
        assert!(!stale.expect("update_if"));
        assert_eq!(get(&store, item.id), item);
        assert_eq!(store.events(item.id).expect("events").len(), 1);
        assert_eq!(store.next_due().expect("next_due"), Some(at(1_000)));

        let written = store.update_if(&cancelled, CommunicationStatus::Booked, at(50), std::slice::from_ref(&event));
        assert!(written.expect("update_if"));
        assert_eq!(get(&store, item.id), cancelled);
        assert_eq!(store.events(item.id).expect("events"), [created(&item), vec![event]].concat());
        // Cancelled: neither queued nor counted any more.
        assert_eq!(store.next_due().expect("next_due"), None);
        new_rule(&store, w.department.id, None, 1, TimeUnit::Day);
        let (snapshot, _) = look(&store, w.user.id, w.department.id, None, at(1_000));
        assert_eq!(counted(&snapshot, w.user.id, w.department.id), []);
    }

    fn update_if_waits_for_a_live_lease_to_end(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let item = waiting(&w, at(10));
        store_all(&store, &[&item]);
        let claimed = claim(&store, at(100), at(130), 10, reserve_all(w.source.id, at(100)))
            .expect("claimed");
        let rescheduled = Communication {
            status: CommunicationStatus::Booked,
            communication_date: at(5_000),
            updated_at: at(120),
            ..item.clone()
        };

        let held = store.update_if(&rescheduled, CommunicationStatus::NotSent, at(129), &[]);
        assert!(!held.expect("update_if"));

        let expired = store.update_if(&rescheduled, CommunicationStatus::NotSent, at(130), &[]);
        assert!(expired.expect("update_if"));
        assert_eq!(get(&store, item.id), rescheduled);
        // The lease is gone: the worker's completion writes nothing.
        store
            .complete(&[Outcome::Sent {
                id: item.id,
                lease: claimed.lease(),
                provider_message_id: None,
                events: vec![Event::new(item.id, at(131), EventKind::Sent)],
            }])
            .expect("complete");
        assert_eq!(get(&store, item.id), rescheduled);
        assert_eq!(store.next_due().expect("next_due"), Some(at(5_000)));
        assert_eq!(text(db, "SELECT coalesce(lease_id, 'none') AS value FROM communications WHERE id = '{id}'", item.id), "none");
    }
}

// ---- changes under a client's lock -------------------------------------------

both_backends! {
    fn a_change_under_the_lock_sees_the_client_and_writes_its_answer(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let day = new_rule(&store, w.department.id, None, 2, TimeUnit::Day);
        let availability = Availability::new(
            w.user.id,
            AvailabilityStatus::Blocked,
            Some(at(0)),
            Some(at(DAY)),
        )
        .unwrap();
        AvailabilityRepository::put(&store, &availability).expect("put availability");
        let earlier = sent(&w, at(3 * DAY - 100));
        let current = booked(&w, at(3 * DAY));
        store_all(&store, &[&earlier, &current]);

        let (snapshot, stored) = look(&store, w.user.id, w.department.id, Some(current.id), at(3 * DAY));

        let client = &snapshot.clients[&(w.user.id, w.department.id)];
        assert_eq!(client.user, w.user);
        assert_eq!(client.availability, availability);
        // Not `current` itself.
        assert_eq!(client.counted, [Counted { at: earlier.sent_at.unwrap(), type_id: w.type_.id }]);
        assert_eq!(snapshot.departments[&w.department.id].rules, [day]);
        assert!(snapshot.types.iter().any(|t| t.id == w.type_.id));
        assert!(snapshot.sources.iter().any(|s| s.id == w.source.id));
        assert_eq!(stored, Some(Stored { communication: current.clone(), in_flight: false }));

        let moved = Communication {
            communication_date: at(4 * DAY),
            updated_at: at(100),
            ..current.clone()
        };
        let event = Event::new(current.id, at(100), EventKind::Booked);
        store
            .decide_for_client(w.user.id, w.department.id, Some(current.id), at(100), &mut |_, stored| {
                assert!(stored.is_some());
                Some(ClientWrite::Update(moved.clone(), vec![event.clone()]))
            })
            .expect("update");
        assert_eq!(get(&store, current.id), moved);
        assert_eq!(store.events(current.id).expect("events"), [created(&current), vec![event]].concat());
        assert_eq!(store.next_due().expect("next_due"), Some(at(4 * DAY)));

        let new = booked(&w, at(5 * DAY));
        store
            .decide_for_client(w.user.id, w.department.id, None, at(100), &mut |_, stored| {
                assert_eq!(stored, None);
                Some(ClientWrite::Insert(new.clone(), created(&new)))
            })
            .expect("insert");
        assert_eq!(get(&store, new.id), new);
        let (snapshot, _) = look(&store, w.user.id, w.department.id, None, at(5 * DAY));
        let moments: Vec<_> = counted(&snapshot, w.user.id, w.department.id).iter().map(|c| c.at).collect();
        assert_eq!(moments, [at(4 * DAY), at(5 * DAY)], "the sent one is older than the day");

        let taken = store.decide_for_client(w.user.id, w.department.id, None, at(100), &mut |_, _| {
            Some(ClientWrite::Insert(new.clone(), Vec::new()))
        });
        assert!(matches!(taken, Err(RepoError::Conflict("id"))), "{taken:?}");
    }

    fn a_change_under_the_lock_of_an_unknown_client_sees_no_client(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let nobody = UserId::generate();
        let nowhere = DepartmentId::generate();

        let (snapshot, stored) = look(&store, nobody, nowhere, Some(CommunicationId::generate()), at(0));

        assert!(snapshot.clients.is_empty());
        assert_eq!(snapshot.departments.get(&nowhere).cloned().unwrap_or_default(), Default::default());
        assert!(snapshot.types.len() >= 7);
        assert_eq!(stored, None);
        // `current` is looked for among the client's communications only, and
        // a write must stay under the lock taken.
        let theirs = waiting(&w, at(10));
        store_all(&store, &[&theirs]);
        let (_, stored) = look(&store, nobody, w.department.id, Some(theirs.id), at(0));
        assert_eq!(stored, None);
        let escaped = store.decide_for_client(nobody, w.department.id, None, at(0), &mut |_, _| {
            Some(ClientWrite::Update(theirs.clone(), Vec::new()))
        });
        assert!(matches!(escaped, Err(RepoError::Unexpected(_))), "{escaped:?}");
    }

    fn changes_under_the_lock_of_one_client_take_turns(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        new_rule(&store, w.department.id, None, 1, TimeUnit::Day);
        let (user_id, department_id) = (w.user.id, w.department.id);

        let start = Barrier::new(8);
        let inserted: usize = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..8)
                .map(|_| {
                    let store = store.clone();
                    let (w, start) = (&w, &start);
                    scope.spawn(move || {
                        let mut wrote = 0;
                        start.wait();
                        store
                            .decide_for_client(user_id, department_id, None, at(100), &mut |snapshot, _| {
                                if snapshot.clients[&(user_id, department_id)].counted.is_empty() {
                                    wrote += 1;
                                    // Without the lock, the others would read
                                    // meanwhile and insert too.
                                    std::thread::sleep(StdDuration::from_millis(20));
                                    let booking = booked(w, at(200));
                                    Some(ClientWrite::Insert(booking.clone(), created(&booking)))
                                } else {
                                    None
                                }
                            })
                            .expect("decide_for_client");
                        wrote
                    })
                })
                .collect();
            runs.into_iter().map(|run| run.join().expect("the thread ends")).sum()
        });

        assert_eq!(inserted, 1);
        let filter = CommunicationFilter { user_id: Some(user_id), ..Default::default() };
        assert_eq!(CommunicationRepository::list(&store, &filter, ALL).expect("list").total, 1);
    }
}

// ---- the dispatch queue -----------------------------------------------------

both_backends! {
    fn a_claim_takes_due_unleased_communications_up_to_the_limit(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let first = waiting(&w, at(10));
        let due_booking = booked(&w, at(20));
        let third = waiting(&w, at(30));
        let future_booking = booked(&w, at(1_000));
        let retry_later = Communication { next_attempt_at: Some(at(500)), ..waiting(&w, at(0)) };
        let done = sent(&w, at(5));
        store_all(&store, &[&third, &future_booking, &retry_later, &done, &due_booking, &first]);
        assert_eq!(store.next_due().expect("next_due"), Some(at(10)));
        assert!(claim(&store, at(9), at(40), 10, no_steps).is_none(), "nothing is due yet");

        let claimed = claim(&store, at(100), at(130), 2, reserve_all(w.source.id, at(100)))
            .expect("claimed");
        assert_eq!(claimed.ids(), [first.id, due_booking.id]);
        assert_eq!(claimed.claims[0].communication, first);
        assert_eq!(claimed.claims[1].communication, due_booking);
        assert!(claimed.claims.iter().all(|c| c.lease == claimed.lease()
            && c.given_up.is_empty()
            && c.channel_attempts == 0));

        let rest = claim(&store, at(100), at(130), 10, no_steps).expect("claimed");
        assert_eq!(rest.ids(), [third.id]);
        assert_ne!(rest.lease(), claimed.lease());
        // A claim without a step leaves it as it was: due.
        let again = claim(&store, at(100), at(131), 10, reserve_all(w.source.id, at(100)))
            .expect("claimed");
        assert_eq!(again.ids(), [third.id]);
        assert!(claim(&store, at(129), at(160), 10, no_steps).is_none(), "every lease holds");
        // A reserved one is due again when its lease ends.
        assert_eq!(store.next_due().expect("next_due"), Some(at(130)));

        let later = claim(&store, at(600), at(630), 10, no_steps).expect("claimed");
        // Due at the same moment: by id.
        let mut same_moment = [first.id, due_booking.id];
        same_moment.sort();
        assert_eq!(later.ids(), [same_moment[0], same_moment[1], third.id, retry_later.id]);
        assert!(claim(&store, at(0), at(30), 0, no_steps).is_none(), "a limit of zero");
    }

    fn the_plan_sees_the_snapshot_of_the_claimed_clients(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let other_department = new_department(&store, "Department b");
        let other = World {
            user: new_user(&store, "Bob"),
            department: other_department.clone(),
            type_: w.type_.clone(),
            source: w.source.clone(),
        };
        let day = new_rule(&store, w.department.id, None, 3, TimeUnit::Day);
        let hour = new_rule(&store, w.department.id, Some(w.type_.id), 1, TimeUnit::Hour);
        let favourite = FavoriteSource {
            department_id: w.department.id,
            type_id: w.type_.id,
            source_id: w.source.id,
            priority: 0,
        };
        FavoriteSourceRepository::add(&store, &favourite).expect("add favourite");
        let availability =
            Availability::new(w.user.id, AvailabilityStatus::Blocked, Some(at(0)), None).unwrap();
        AvailabilityRepository::put(&store, &availability).expect("put availability");
        let now = at(10 * DAY);

        // A reservation whose worker died: claimed again, it does not count
        // against itself.
        let crashed = waiting(&w, now - Duration::seconds(500));
        let due = waiting(&w, now - Duration::seconds(100));
        let theirs = waiting(&other, now - Duration::seconds(50));
        store_all(&store, &[&crashed]);
        claim(&store, now - Duration::seconds(400), now - Duration::seconds(370), 10,
              reserve_all(w.source.id, now - Duration::seconds(400)))
            .expect("reserved");

        let within = sent(&w, now - Duration::hours(20));
        let booking = booked(&w, now + Duration::hours(5));
        let too_old = sent(&w, now - Duration::hours(25));
        let gave_up = Communication {
            status: CommunicationStatus::Failed,
            status_reason: Some(StatusReason::NoChannel),
            ..waiting(&w, now - Duration::hours(2))
        };
        let cancelled = Communication {
            status: CommunicationStatus::Cancelled,
            ..booked(&w, now + Duration::hours(1))
        };
        let elsewhere = Communication {
            department_id: other_department.id,
            ..sent(&w, now - Duration::hours(1))
        };
        // Bob in the first department: not a claimed client there.
        let not_claimed = Communication {
            department_id: w.department.id,
            ..sent(&other, now - Duration::hours(1))
        };
        store_all(&store, &[&due, &theirs, &within, &booking, &too_old, &gave_up, &cancelled, &elsewhere, &not_claimed]);

        let claimed = claim(&store, now, now + Duration::seconds(30), 10, no_steps).expect("claimed");

        assert_eq!(claimed.ids(), [crashed.id, due.id, theirs.id]);
        let snapshot = &claimed.snapshot;
        let mut keys: Vec<_> = snapshot.clients.keys().copied().collect();
        keys.sort();
        let mut expected_keys = vec![(w.user.id, w.department.id), (other.user.id, other_department.id)];
        expected_keys.sort();
        assert_eq!(keys, expected_keys);
        let client = &snapshot.clients[&(w.user.id, w.department.id)];
        assert_eq!(client.user, w.user);
        assert_eq!(client.availability, availability);
        assert_eq!(
            client.counted,
            [
                Counted { at: within.sent_at.unwrap(), type_id: w.type_.id },
                Counted { at: booking.communication_date, type_id: w.type_.id },
            ]
        );
        let bob = &snapshot.clients[&(other.user.id, other_department.id)];
        assert_eq!(bob.availability, Availability::always(other.user.id));
        assert_eq!(bob.counted, [], "a department without a rule counts nothing");
        let policy = &snapshot.departments[&w.department.id];
        let mut rules = policy.rules.clone();
        rules.sort_by_key(|r| r.id);
        let mut expected_rules = vec![day, hour];
        expected_rules.sort_by_key(|r| r.id);
        assert_eq!(rules, expected_rules);
        assert_eq!(policy.favorites, [favourite]);
        assert_eq!(snapshot.departments[&other_department.id], Default::default());
        assert!(snapshot.types.iter().any(|t| t.id == w.type_.id));
        assert!(snapshot.types.iter().any(|t| t.code.as_str() == "mass"));
        assert!(snapshot.sources.iter().any(|s| s.code.as_str() == "sms"));
    }

    fn reserve_defer_and_fail_write_what_they_say(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        new_rule(&store, w.department.id, None, 5, TimeUnit::Day);
        let reserved = waiting(&w, at(10));
        let deferred = booked(&w, at(20));
        let failed = waiting(&w, at(30));
        store_all(&store, &[&reserved, &deferred, &failed]);
        let channel_chosen = Event::new(reserved.id, at(100), EventKind::ChannelChosen).with_channel("sms");
        let waits = Event::deferred(deferred.id, at(100), at(500), StatusReason::RateLimited);
        let gives_up = Event::new(failed.id, at(101), EventKind::Failed).with_reason(StatusReason::NoChannel);

        let claimed = claim(&store, at(100), at(130), 10, |_| {
            vec![
                Step::Reserve { id: reserved.id, channel: w.source.id, at: at(100), events: vec![channel_chosen.clone()] },
                Step::Defer { id: deferred.id, until: at(500), reason: StatusReason::RateLimited, events: vec![waits.clone()] },
                Step::Fail { id: failed.id, at: at(101), reason: StatusReason::NoChannel, events: vec![gives_up.clone()] },
            ]
        })
        .expect("claimed");
        assert_eq!(claimed.claims.len(), 3);

        assert_eq!(
            get(&store, reserved.id),
            Communication { source_id: Some(w.source.id), updated_at: at(100), ..reserved.clone() }
        );
        assert_eq!(
            get(&store, deferred.id),
            Communication {
                status: CommunicationStatus::NotSent,
                status_reason: Some(StatusReason::RateLimited),
                next_attempt_at: Some(at(500)),
                updated_at: at(100),
                ..deferred.clone()
            }
        );
        assert_eq!(
            get(&store, failed.id),
            Communication {
                status: CommunicationStatus::Failed,
                status_reason: Some(StatusReason::NoChannel),
                updated_at: at(101),
                ..failed.clone()
            }
        );
        assert_eq!(store.events(reserved.id).expect("events"), [created(&reserved), vec![channel_chosen]].concat());
        assert_eq!(store.events(deferred.id).expect("events"), [created(&deferred), vec![waits]].concat());
        assert_eq!(store.events(failed.id).expect("events"), [created(&failed), vec![gives_up]].concat());

        // The reservation counts from its moment on, and is in flight while
        // the lease lasts; the others do not count.
        let (snapshot, stored) = look(&store, w.user.id, w.department.id, Some(reserved.id), at(129));
        assert!(stored.expect("stored").in_flight);
        assert_eq!(counted(&snapshot, w.user.id, w.department.id), []);
        let (snapshot, stored) = look(&store, w.user.id, w.department.id, None, at(129));
        assert_eq!(stored, None);
        assert_eq!(
            counted(&snapshot, w.user.id, w.department.id),
            [Counted { at: at(100), type_id: w.type_.id }]
        );
        let (_, stored) = look(&store, w.user.id, w.department.id, Some(reserved.id), at(130));
        assert!(!stored.expect("stored").in_flight);
        assert_eq!(
            text(db, "SELECT lease_id AS value FROM communications WHERE id = '{id}'", reserved.id),
            claimed.lease().to_string()
        );
        // Due: the reservation when its lease ends, the deferral at its moment.
        assert_eq!(store.next_due().expect("next_due"), Some(at(130)));
        let retaken = claim(&store, at(499), at(529), 10, no_steps).expect("claimed");
        assert_eq!(retaken.ids(), [reserved.id]);
        let retaken = claim(&store, at(500), at(530), 10, no_steps).expect("claimed");
        assert_eq!(retaken.ids(), [reserved.id, deferred.id]);
    }

    fn a_step_about_a_communication_not_claimed_writes_nothing(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let due = waiting(&w, at(10));
        let later = waiting(&w, at(1_000));
        store_all(&store, &[&due, &later]);

        let refused = store.claim(at(100), at(130), 10, &mut |claims, _| {
            let mut steps = reserve_all(w.source.id, at(100))(claims);
            steps.push(Step::Fail { id: later.id, at: at(100), reason: StatusReason::NoChannel, events: Vec::new() });
            steps
        });

        assert!(matches!(refused, Err(RepoError::Unexpected(_))), "{refused:?}");
        assert_eq!(get(&store, due.id), due);
        assert_eq!(get(&store, later.id), later);
        assert_eq!(store.events(due.id).expect("events").len(), 1);
    }

    fn a_completion_writes_only_under_its_lease(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let email = new_source(&store, "email_a");
        let delivered = waiting(&w, at(10));
        let retried = waiting(&w, at(11));
        let abandoned = waiting(&w, at(12));
        store_all(&store, &[&delivered, &retried, &abandoned]);
        let claimed = claim(&store, at(100), at(130), 10, reserve_all(w.source.id, at(100)))
            .expect("claimed");
        let lease = claimed.lease();
        let sent_event = Event::new(delivered.id, at(102), EventKind::Sent).with_channel("sms");
        let retry_event = Event::new(retried.id, at(102), EventKind::AttemptFailed).with_detail("timeout");
        let give_up_event = Event::new(abandoned.id, at(103), EventKind::AttemptFailed).with_detail("refused");
        let outcomes = |lease: Uuid| {
            vec![
                Outcome::Sent { id: delivered.id, lease, provider_message_id: Some("p-1".to_owned()), events: vec![sent_event.clone()] },
                Outcome::Retry { id: retried.id, lease, at: at(200), channel_attempts: 2, events: vec![retry_event.clone()] },
                Outcome::GiveUpChannel { id: abandoned.id, lease, channel: w.source.id, at: at(150), events: vec![give_up_event.clone()] },
            ]
        };
        let before = [&delivered, &retried, &abandoned].map(|c| get(&store, c.id));

        store.complete(&outcomes(Uuid::new_v4())).expect("complete under another lease");
        assert_eq!([&delivered, &retried, &abandoned].map(|c| get(&store, c.id)), before);
        assert_eq!(store.events(delivered.id).expect("events").len(), 2);

        store.complete(&outcomes(lease)).expect("complete");

        assert_eq!(
            get(&store, delivered.id),
            Communication {
                status: CommunicationStatus::Sent,
                source_id: Some(w.source.id),
                sent_at: Some(at(100)),
                attempts: 1,
                provider_message_id: Some("p-1".to_owned()),
                // When the batch is written: its latest event.
                updated_at: at(103),
                ..delivered.clone()
            }
        );
        assert_eq!(
            get(&store, retried.id),
            Communication {
                source_id: Some(w.source.id),
                status_reason: Some(StatusReason::Retrying),
                attempts: 1,
                next_attempt_at: Some(at(200)),
                updated_at: at(103),
                ..retried.clone()
            }
        );
        assert_eq!(
            get(&store, abandoned.id),
            Communication {
                source_id: Some(w.source.id),
                attempts: 1,
                next_attempt_at: Some(at(150)),
                updated_at: at(103),
                ..abandoned.clone()
            }
        );
        let history = |c: &Communication| store.events(c.id).expect("events");
        assert_eq!(history(&delivered).last(), Some(&sent_event));
        assert_eq!(history(&retried).last(), Some(&retry_event));
        assert_eq!(history(&abandoned).last(), Some(&give_up_event));

        // Again: the lease is gone, nothing is written twice.
        store.complete(&outcomes(lease)).expect("complete again");
        assert_eq!(history(&delivered).len(), 3);
        assert_eq!(get(&store, delivered.id).attempts, 1);

        // Only the sent one counts; the others wait for their moment.
        new_rule(&store, w.department.id, None, 5, TimeUnit::Day);
        let (snapshot, _) = look(&store, w.user.id, w.department.id, None, at(140));
        assert_eq!(counted(&snapshot, w.user.id, w.department.id), [Counted { at: at(100), type_id: w.type_.id }]);
        assert_eq!(store.next_due().expect("next_due"), Some(at(150)));
        let next = claim(&store, at(150), at(180), 10, |claims| {
            claims.iter().map(|c| Step::Reserve { id: c.communication.id, channel: email.id, at: at(150), events: Vec::new() }).collect()
        })
        .expect("claimed");
        assert_eq!(next.ids(), [abandoned.id]);
        assert_eq!(next.claims[0].given_up, [w.source.id]);
        assert_eq!(next.claims[0].channel_attempts, 0);
        store
            .complete(&[Outcome::GiveUpChannel { id: abandoned.id, lease: next.lease(), channel: email.id, at: at(160), events: Vec::new() }])
            .expect("complete");
        let last = claim(&store, at(200), at(230), 10, no_steps).expect("claimed");
        assert_eq!(last.ids(), [abandoned.id, retried.id]);
        assert_eq!(last.claims[0].given_up, [w.source.id, email.id]);
        assert_eq!(last.claims[0].communication.updated_at, at(150), "no event: as the reservation left it");
        assert_eq!(last.claims[1].channel_attempts, 2);
        assert_eq!(last.claims[1].given_up, []);
    }

    fn a_release_gives_back_the_leases_still_held_and_makes_them_due_now(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let cut_short = waiting(&w, at(10));
        let held = waiting(&w, at(11));
        let done = waiting(&w, at(12));
        store_all(&store, &[&cut_short, &held, &done]);
        let claimed = claim(&store, at(100), at(130), 10, reserve_all(w.source.id, at(100)))
            .expect("claimed");
        let lease = claimed.lease();
        store
            .complete(&[Outcome::Sent { id: done.id, lease, provider_message_id: None, events: Vec::new() }])
            .expect("complete");
        let (held_before, done_before) = (get(&store, held.id), get(&store, done.id));
        let events_before = store.events(cut_short.id).expect("events");

        // `held` is named under a lease it does not hold; `done` holds none any more.
        store
            .release(&[(cut_short.id, lease), (held.id, Uuid::new_v4()), (done.id, lease)], at(105))
            .expect("release");

        assert_eq!(
            get(&store, cut_short.id),
            Communication { source_id: Some(w.source.id), updated_at: at(105), ..cut_short.clone() }
        );
        assert_eq!(get(&store, held.id), held_before);
        assert_eq!(get(&store, done.id), done_before);
        assert_eq!(store.events(cut_short.id).expect("events"), events_before, "no event, no `sent`");
        assert_eq!(
            text(db, "SELECT COALESCE(lease_id, 'none') AS value FROM communications WHERE id = '{id}'", cut_short.id),
            "none"
        );
        // Its reservation no longer counts: the sent one and the one still
        // held do.
        new_rule(&store, w.department.id, None, 5, TimeUnit::Day);
        let (snapshot, stored) = look(&store, w.user.id, w.department.id, Some(cut_short.id), at(106));
        assert!(!stored.expect("stored").in_flight);
        let (snapshot_all, _) = look(&store, w.user.id, w.department.id, None, at(106));
        assert_eq!(counted(&snapshot_all, w.user.id, w.department.id).len(), 2);
        assert_eq!(counted(&snapshot, w.user.id, w.department.id).len(), 2);
        // Due at once, for the next claim; the one still held is not.
        assert_eq!(store.next_due().expect("next_due"), Some(at(105)));
        let retaken = claim(&store, at(106), at(136), 10, no_steps).expect("claimed");
        assert_eq!(retaken.ids(), [cut_short.id]);
        assert_eq!(retaken.claims[0].channel_attempts, 0);
        // Nothing to release: no error.
        store.release(&[], at(107)).expect("release nothing");
    }

    fn a_completion_writes_each_row_its_own_values(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let email = new_source(&store, "email_a");
        // Held by a claim of its own: its lease is not the batch's.
        let elsewhere = waiting(&w, at(1));
        let items: Vec<Communication> = (0..110).map(|i| waiting(&w, at(10 + i))).collect();
        store_all(&store, &[&elsewhere]);
        store_all(&store, &items.iter().collect::<Vec<_>>());
        let other = claim(&store, at(150), at(180), 1, reserve_all(w.source.id, at(150)))
            .expect("claimed");
        assert_eq!(other.ids(), [elsewhere.id]);
        let claimed = claim(&store, at(150), at(180), 500, reserve_all(w.source.id, at(150)))
            .expect("claimed");
        assert_eq!(claimed.ids(), items.iter().map(|c| c.id).collect::<Vec<_>>());
        let lease = claimed.lease();
        let (sent, rest) = items.split_at(50);
        let (retried, abandoned) = rest.split_at(50);
        let channel = |i: usize| if i.is_multiple_of(2) { w.source.id } else { email.id };
        let provider_id = |i: usize| format!("p-{i}");
        let sent_event = |c: &Communication| Event::new(c.id, at(152), EventKind::Sent).with_channel("sms");
        let retry_event = |c: &Communication| Event::new(c.id, at(153), EventKind::AttemptFailed).with_detail("timeout");
        let give_up_event = |c: &Communication| Event::new(c.id, at(154), EventKind::AttemptFailed).with_detail("refused");
        let stale_event = |c: &Communication| Event::new(c.id, at(151), EventKind::AttemptFailed).with_detail("stale");

        let mut outcomes = Vec::new();
        // Stale: under a lease the row does not hold, or no longer holds.
        outcomes.push(Outcome::Retry { id: sent[0].id, lease: Uuid::new_v4(), at: at(900), channel_attempts: 9, events: vec![stale_event(&sent[0])] });
        outcomes.push(Outcome::Sent { id: elsewhere.id, lease, provider_message_id: Some("stale".to_owned()), events: vec![stale_event(&elsewhere)] });
        for (i, c) in sent.iter().enumerate() {
            outcomes.push(Outcome::Sent { id: c.id, lease, provider_message_id: Some(provider_id(i)), events: vec![sent_event(c)] });
        }
        for (i, c) in retried.iter().enumerate() {
            outcomes.push(Outcome::Retry { id: c.id, lease, at: at(200 + i as i64), channel_attempts: 1 + i as u32 % 3, events: vec![retry_event(c)] });
        }
        for (i, c) in abandoned.iter().enumerate() {
            outcomes.push(Outcome::GiveUpChannel { id: c.id, lease, channel: channel(i), at: at(300 + i as i64), events: vec![give_up_event(c)] });
        }
        // Another lease in the same batch.
        outcomes.push(Outcome::GiveUpChannel { id: elsewhere.id, lease: other.lease(), channel: email.id, at: at(400), events: Vec::new() });

        store.complete(&outcomes).expect("complete");

        let history = |c: &Communication| store.events(c.id).expect("events");
        let chosen = |c: &Communication| Event::new(c.id, at(150), EventKind::ChannelChosen).with_channel("sms");
        for (i, c) in sent.iter().enumerate() {
            assert_eq!(
                get(&store, c.id),
                Communication {
                    status: CommunicationStatus::Sent,
                    source_id: Some(w.source.id),
                    sent_at: Some(at(150)),
                    attempts: 1,
                    provider_message_id: Some(provider_id(i)),
                    updated_at: at(154),
                    ..c.clone()
                }
            );
            assert_eq!(history(c), [created(c), vec![chosen(c), sent_event(c)]].concat());
        }
        for (i, c) in retried.iter().enumerate() {
            assert_eq!(
                get(&store, c.id),
                Communication {
                    source_id: Some(w.source.id),
                    status_reason: Some(StatusReason::Retrying),
                    attempts: 1,
                    next_attempt_at: Some(at(200 + i as i64)),
                    updated_at: at(154),
                    ..c.clone()
                }
            );
            assert_eq!(history(c), [created(c), vec![chosen(c), retry_event(c)]].concat());
        }
        for (i, c) in abandoned.iter().enumerate() {
            assert_eq!(
                get(&store, c.id),
                Communication {
                    source_id: Some(w.source.id),
                    attempts: 1,
                    next_attempt_at: Some(at(300 + i as i64)),
                    updated_at: at(154),
                    ..c.clone()
                }
            );
            assert_eq!(history(c), [created(c), vec![chosen(c), give_up_event(c)]].concat());
        }
        assert_eq!(
            get(&store, elsewhere.id),
            Communication {
                source_id: Some(w.source.id),
                attempts: 1,
                next_attempt_at: Some(at(400)),
                updated_at: at(154),
                ..elsewhere.clone()
            },
            "written under its own lease, not as the stale sent outcome says"
        );
        assert_eq!(history(&elsewhere), [created(&elsewhere), vec![chosen(&elsewhere)]].concat());
        assert_eq!(
            text(db, "SELECT provider_message_id AS value FROM communications WHERE id = '{id}'", sent[7].id),
            "p-7"
        );

        // Each waits for its own moment, with its own calls and channels.
        assert_eq!(store.next_due().expect("next_due"), Some(at(200)));
        let again = claim(&store, at(1_000), at(1_030), 500, no_steps).expect("claimed");
        let mut expected: Vec<_> = retried.iter().chain(abandoned).map(|c| c.id).collect();
        expected.push(elsewhere.id);
        assert_eq!(again.ids(), expected);
        for (i, c) in again.claims[..50].iter().enumerate() {
            assert_eq!((c.channel_attempts, c.given_up.as_slice()), (1 + i as u32 % 3, &[][..]));
        }
        for (i, c) in again.claims[50..60].iter().enumerate() {
            assert_eq!((c.channel_attempts, c.given_up.as_slice()), (0, &[channel(i)][..]));
        }
        assert_eq!(again.claims[60].given_up, [email.id]);
    }

    fn an_expired_lease_is_taken_over(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        new_rule(&store, w.department.id, None, 1, TimeUnit::Day);
        let item = waiting(&w, at(10));
        store_all(&store, &[&item]);
        let first = claim(&store, at(100), at(130), 10, reserve_all(w.source.id, at(100)))
            .expect("claimed");
        assert!(claim(&store, at(120), at(150), 10, no_steps).is_none());

        let second = claim(&store, at(131), at(161), 10, reserve_all(w.source.id, at(131)))
            .expect("taken over");

        assert_eq!(second.ids(), [item.id]);
        assert_ne!(second.lease(), first.lease());
        assert_eq!(counted(&second.snapshot, w.user.id, w.department.id), [], "its own reservation");
        let sent = |lease| Outcome::Sent { id: item.id, lease, provider_message_id: None, events: Vec::new() };
        store.complete(&[sent(first.lease())]).expect("complete the first");
        assert_eq!(get(&store, item.id).status, CommunicationStatus::NotSent);
        store.complete(&[sent(second.lease())]).expect("complete the second");
        let done = get(&store, item.id);
        assert_eq!((done.status, done.sent_at, done.attempts), (CommunicationStatus::Sent, Some(at(131)), 1));
        assert_eq!(store.next_due().expect("next_due"), None);
    }

    fn concurrent_claims_share_out_the_queue(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let clients: Vec<World> = (0..4)
            .map(|i| World {
                user: new_user(&store, &format!("Client {i}")),
                department: w.department.clone(),
                type_: w.type_.clone(),
                source: w.source.clone(),
            })
            .collect();
        let mut all = BTreeSet::new();
        for (i, client) in clients.iter().cycle().take(40).enumerate() {
            let item = waiting(client, at(i as i64));
            store_all(&store, &[&item]);
            all.insert(item.id);
        }
        let now = at(100);
        let taken = Mutex::new(Vec::new());

        std::thread::scope(|scope| {
            for _ in 0..2 {
                let store = store.clone();
                let taken = &taken;
                let channel = w.source.id;
                scope.spawn(move || {
                    loop {
                        let claimed = claim(&store, now, now + Duration::seconds(60), 3, reserve_all(channel, now));
                        if let Some(claimed) = claimed {
                            taken.lock().unwrap().extend(claimed.ids());
                        } else if store.next_due().expect("next_due").is_none_or(|due| due > now) {
                            break;
                        }
                    }
                });
            }
        });

        let taken = taken.into_inner().unwrap();
        let distinct: BTreeSet<_> = taken.iter().copied().collect();
        assert_eq!(taken.len(), distinct.len(), "a communication was claimed twice");
        assert_eq!(distinct, all);
    }

    fn next_due_is_the_earliest_queued_moment(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        assert_eq!(store.next_due().expect("next_due"), None);
        let items = [
            sent(&w, at(5)),
            booked(&w, at(300)),
            Communication { next_attempt_at: Some(at(200)), ..waiting(&w, at(1)) },
            Communication { status: CommunicationStatus::Cancelled, ..booked(&w, at(100)) },
        ];
        store_all(&store, &items.iter().collect::<Vec<_>>());
        assert_eq!(store.next_due().expect("next_due"), Some(at(200)));
    }
}

// ---- counts by hour and status ----------------------------------------------

const HOUR: i64 = 3_600;

/// A communication of the world's client with `status`, created at `created_at`.
fn new_at(w: &World, status: CommunicationStatus, created_at: DateTime<Utc>) -> Communication {
    Communication {
        created_at,
        updated_at: created_at,
        ..communication(w, status, created_at)
    }
}

/// `(hour, status, count)` of each group, sorted.
fn hourly(
    store: &Store,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, &'static str, u64)> {
    let mut groups: Vec<_> = store
        .hourly_counts(from, to)
        .expect("hourly_counts")
        .into_iter()
        .map(
            |HourlyCount {
                 hour,
                 status,
                 count,
             }| (hour, status.as_str(), count),
        )
        .collect();
    groups.sort_unstable();
    groups
}

both_backends! {
    fn the_communications_created_in_a_range_are_counted_by_hour_and_current_status(db: &TestDb) {
        use CommunicationStatus::{Booked, Delivered, Failed, NotSent, Sent};
        let store = db.store();
        let w = world(&store, "a");
        let micro = Duration::microseconds(1);
        let items = [
            new_at(&w, Sent, at(0) - micro),
            new_at(&w, NotSent, at(0)),
            new_at(&w, Sent, at(HOUR) - micro),
            new_at(&w, Sent, at(HOUR)),
            new_at(&w, Sent, at(HOUR + 1_800)),
            new_at(&w, Failed, at(HOUR + 1_800)),
            new_at(&w, Booked, at(2 * HOUR + 5)),
            new_at(&w, Sent, at(3 * HOUR)),
        ];
        store_all(&store, &items.iter().collect::<Vec<_>>());
        // The current status counts, not the one it was created with.
        let delivered = Communication { status: Delivered, updated_at: at(4 * HOUR), ..items[4].clone() };
        assert!(store.update_if(&delivered, Sent, at(4 * HOUR), &[]).expect("update_if"));

        // Created exactly at `from`: in; exactly at `to`: out.
        assert_eq!(
            hourly(&store, at(0), at(3 * HOUR)),
            [
                (at(0), "not_sent", 1),
                (at(0), "sent", 1),
                (at(HOUR), "delivered", 1),
                (at(HOUR), "failed", 1),
                (at(HOUR), "sent", 1),
                (at(2 * HOUR), "booked", 1),
            ]
        );
        // A range off the hours: each is still counted in the hour it was
        // created in, and only within the range.
        assert_eq!(
            hourly(&store, at(0) + micro, at(HOUR + 1_800)),
            [(at(0), "sent", 1), (at(HOUR), "sent", 1)]
        );
        assert_eq!(
            hourly(&store, at(0) - micro, at(3 * HOUR) + micro),
            [
                (at(0) - Duration::hours(1), "sent", 1),
                (at(0), "not_sent", 1),
                (at(0), "sent", 1),
                (at(HOUR), "delivered", 1),
                (at(HOUR), "failed", 1),
                (at(HOUR), "sent", 1),
                (at(2 * HOUR), "booked", 1),
                (at(3 * HOUR), "sent", 1),
            ]
        );
        assert_eq!(hourly(&store, at(10 * HOUR), at(20 * HOUR)), []);
    }

    fn many_communications_of_one_hour_and_status_are_one_group(db: &TestDb) {
        let store = db.store();
        let w = world(&store, "a");
        let items: Vec<Communication> = (0..25)
            .map(|i| new_at(&w, CommunicationStatus::Cancelled, at(DAY + i * 100)))
            .collect();
        store_all(&store, &items.iter().collect::<Vec<_>>());
        assert_eq!(
            hourly(&store, at(DAY), at(2 * DAY)),
            [(at(DAY), "cancelled", 25)]
        );
    }
}

/// A connection of its own listening on the workers' channel.
fn listening(db: &TestDb) -> PgConnection {
    let mut listener = PgConnection::establish(db.url()).expect("the listener connects");
    listener
        .batch_execute(&format!("LISTEN {DISPATCH_CHANNEL}"))
        .expect("listen");
    listener
}

/// The channels of the notifications `listener` has received since the last
/// call.
fn received(listener: &mut PgConnection) -> Vec<String> {
    listener.batch_execute("SELECT 1").expect("poll");
    listener
        .notifications_iter()
        .map(|n| n.expect("a notification").channel)
        .collect()
}

/// PostgreSQL: queuing a communication notifies the workers of every
/// instance when the transaction commits.
#[test]
fn queuing_a_communication_notifies_the_workers() {
    let db = TestDb::new(Backend::Postgres);
    let store = db.store();
    let mut listener = listening(&db);
    let w = world(&store, "a");

    store_all(&store, &[&sent(&w, at(5))]);
    assert_eq!(
        received(&mut listener),
        Vec::<String>::new(),
        "a sent one is not queued"
    );
    store_all(&store, &[&waiting(&w, at(10))]);
    assert_eq!(received(&mut listener), [DISPATCH_CHANNEL]);
    store_all(&store, &[&booked(&w, at(1_000))]);
    assert_eq!(received(&mut listener), [DISPATCH_CHANNEL]);
    let failed = CommunicationRepository::insert(
        &store,
        &waiting(&w, at(10)),
        &[Event::new(
            CommunicationId::generate(),
            at(0),
            EventKind::Created,
        )],
    );
    assert!(failed.is_err());
    assert_eq!(
        received(&mut listener),
        Vec::<String>::new(),
        "a rolled back insert"
    );
}

/// PostgreSQL: a group queuing communications wakes the workers of every
/// instance when it is committed; a group refused or not queued does not.
#[test]
fn a_stored_group_notifies_the_workers() {
    let db = TestDb::new(Backend::Postgres);
    let store = db.store();
    let mut listener = listening(&db);
    let w = world(&store, "a");
    let group = |item: Communication| BulkInsert {
        events: created(&item),
        communications: vec![item],
    };
    let insert =
        |item| CommunicationRepository::insert_group(&store, &group(item), &[]).expect("group");
    assert_eq!(insert(sent(&w, at(5))), GroupInsert::Stored);
    assert_eq!(
        received(&mut listener),
        Vec::<String>::new(),
        "a sent one is not queued"
    );
    assert_eq!(insert(waiting(&w, at(10))), GroupInsert::Stored);
    assert_eq!(received(&mut listener), [DISPATCH_CHANNEL]);
    let revoked = CommunicationRepository::insert_group(
        &store,
        &group(waiting(&w, at(10))),
        &[ApiKeyId::generate()],
    )
    .expect("group");
    assert!(matches!(revoked, GroupInsert::Revoked(_)));
    assert_eq!(
        received(&mut listener),
        Vec::<String>::new(),
        "a refused group"
    );
}

/// PostgreSQL: a claim never waits for a client's lock; it leaves the
/// communications of a client locked elsewhere to a later claim.
#[test]
fn a_claim_skips_the_clients_locked_elsewhere() {
    let db = TestDb::new(Backend::Postgres);
    let store = db.store();
    let w = world(&store, "a");
    let bob = World {
        user: new_user(&store, "Bob"),
        department: w.department.clone(),
        type_: w.type_.clone(),
        source: w.source.clone(),
    };
    let anns = waiting(&w, at(10));
    let bobs = waiting(&bob, at(20));
    store_all(&store, &[&anns, &bobs]);

    let mut while_locked = None;
    store
        .decide_for_client(w.user.id, w.department.id, None, at(100), &mut |_, _| {
            while_locked = claim(&store, at(100), at(130), 10, no_steps);
            None
        })
        .expect("decide_for_client");

    assert_eq!(while_locked.expect("claimed").ids(), [bobs.id]);
    let afterwards = claim(&store, at(100), at(130), 10, no_steps).expect("claimed");
    assert_eq!(afterwards.ids(), [anns.id, bobs.id]);
}
