//! The contract of the repository ports, run on `Store` against both backends:
//! what any adapter of `omnichannel_domain::ports` must do.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, TimeZone, Utc};
use omnichannel_domain::ports::{
    AvailabilityRepository, CommunicationSourceRepository, CommunicationTypeRepository,
    DepartmentRepository, FavoriteSourceRepository, Page, RepoError, RuleRepository, UserFilter,
    UserRepository,
};
use omnichannel_domain::{
    Availability, AvailabilityStatus, Code, CommunicationSource, CommunicationType, Department,
    DepartmentId, DictionaryStatus, Email, ExternalId, FavoriteSource, Name, PersonName, Phone,
    PushToken, Rule, RuleId, RuleLimit, SourceId, SourceKind, TimeUnit, TypeId, User, UserId,
};
use omnichannel_storage::{PoolOptions, StorageError, Store};

use crate::db::{TestDb, both_backends};

// ---- fixtures -------------------------------------------------------------

/// `seconds` after a fixed moment later than any migration ran, in whole
/// microseconds: what both backends store exactly.
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn page(limit: u32, offset: u64) -> Page {
    Page { limit, offset }
}

const ALL: Page = Page {
    limit: Page::MAX_LIMIT,
    offset: 0,
};

fn user(first_name: &str, last_name: &str) -> User {
    User {
        id: UserId::generate(),
        first_name: PersonName::parse(first_name).unwrap(),
        last_name: PersonName::parse(last_name).unwrap(),
        phone: None,
        email: None,
        push_token: None,
        external_id: None,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn with_external_id(mut user: User, external_id: &str) -> User {
    user.external_id = Some(ExternalId::parse(external_id).unwrap());
    user
}

fn communication_type(code: &str) -> CommunicationType {
    CommunicationType {
        id: TypeId::generate(),
        code: Code::parse(code).unwrap(),
        name: Name::parse(format!("Type {code}")).unwrap(),
        status: DictionaryStatus::Active,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn communication_source(code: &str, kind: SourceKind) -> CommunicationSource {
    CommunicationSource {
        id: SourceId::generate(),
        code: Code::parse(code).unwrap(),
        name: Name::parse(format!("Source {code}")).unwrap(),
        kind,
        status: DictionaryStatus::Active,
        created_at: at(0),
        updated_at: at(0),
    }
}

fn department(name: &str) -> Department {
    Department {
        id: DepartmentId::generate(),
        name: Name::parse(name).unwrap(),
        created_at: at(0),
        updated_at: at(0),
    }
}

fn favorite(
    department_id: DepartmentId,
    type_id: TypeId,
    source_id: SourceId,
    priority: i32,
) -> FavoriteSource {
    FavoriteSource {
        department_id,
        type_id,
        source_id,
        priority,
    }
}

fn rule(department_id: DepartmentId, type_id: Option<TypeId>, limit: i64, unit: TimeUnit) -> Rule {
    Rule {
        id: RuleId::generate(),
        department_id,
        type_id,
        limit: RuleLimit::new(limit, unit, 1).unwrap(),
        created_at: at(0),
        updated_at: at(0),
    }
}

fn blocked(
    user_id: UserId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Availability {
    Availability::new(user_id, AvailabilityStatus::Blocked, from, to).unwrap()
}

/// A department with one type and one source of its own, all stored.
struct Directory {
    department: Department,
    type_: CommunicationType,
    source: CommunicationSource,
}

fn directory(store: &Store, tag: &str) -> Directory {
    let directory = Directory {
        department: department(&format!("Department {tag}")),
        type_: communication_type(&format!("type_{tag}")),
        source: communication_source(&format!("source_{tag}"), SourceKind::Sms),
    };
    DepartmentRepository::insert(store, &directory.department).expect("insert department");
    CommunicationTypeRepository::insert(store, &directory.type_).expect("insert type");
    CommunicationSourceRepository::insert(store, &directory.source).expect("insert source");
    directory
}

fn user_ids(users: &[User]) -> Vec<UserId> {
    users.iter().map(|u| u.id).collect()
}

fn names_matching(users: &dyn UserRepository, q: &str) -> Vec<String> {
    let filter = UserFilter {
        q: Some(q.to_owned()),
    };
    let mut names: Vec<String> = users
        .list(&filter, ALL)
        .expect("list users")
        .items
        .into_iter()
        .map(|u| u.first_name.into_inner())
        .collect();
    names.sort();
    names
}

// ---- users ----------------------------------------------------------------

both_backends! {
    fn a_user_round_trips_with_every_field(db: &TestDb) {
        let store = db.store();
        let users: &dyn UserRepository = &store;
        let mut ann = with_external_id(user("Ann", "Lee"), "crm-1");
        ann.phone = Some(Phone::parse("+79991234567").unwrap());
        ann.email = Some(Email::parse("ann.lee@example.com").unwrap());
        ann.push_token = Some(PushToken::parse("token-1").unwrap());
        ann.updated_at = at(5);

        users.insert(&ann).expect("insert");

        assert_eq!(users.get(ann.id).expect("get"), Some(ann.clone()));
        assert_eq!(users.get(UserId::generate()).expect("get a missing user"), None);
    }

    fn an_update_replaces_every_field_and_clears_missing_ones(db: &TestDb) {
        let store = db.store();
        let users: &dyn UserRepository = &store;
        let mut ann = with_external_id(user("Ann", "Lee"), "crm-1");
        ann.phone = Some(Phone::parse("+79991234567").unwrap());
        ann.email = Some(Email::parse("ann@example.com").unwrap());
        users.insert(&ann).expect("insert");

        ann.first_name = PersonName::parse("Anna").unwrap();
        ann.phone = None;
        ann.external_id = None;
        ann.email = Some(Email::parse("anna@example.com").unwrap());
        ann.push_token = Some(PushToken::parse("token-2").unwrap());
        ann.updated_at = at(60);

        assert!(users.update(&ann).expect("update"));
        assert_eq!(users.get(ann.id).expect("get"), Some(ann));
        assert!(!users.update(&user("No", "One")).expect("update a missing user"));
    }

    fn deleting_a_user_removes_its_availability(db: &TestDb) {
        let store = db.store();
        let users: &dyn UserRepository = &store;
        let availability: &dyn AvailabilityRepository = &store;
        let ann = user("Ann", "Lee");
        let bob = user("Bob", "Ray");
        users.insert(&ann).expect("insert ann");
        users.insert(&bob).expect("insert bob");
        availability.put(&blocked(ann.id, None, None)).expect("put ann");
        availability.put(&blocked(bob.id, None, None)).expect("put bob");

        assert!(users.delete(ann.id).expect("delete"));

        assert_eq!(users.get(ann.id).expect("get"), None);
        assert_eq!(availability.get(ann.id).expect("availability of ann"), None);
        assert!(availability.get(bob.id).expect("availability of bob").is_some());
        assert!(!users.delete(ann.id).expect("delete again"));
    }

    fn an_external_id_belongs_to_one_user(db: &TestDb) {
        let store = db.store();
        let users: &dyn UserRepository = &store;
        users.insert(&with_external_id(user("Ann", "Lee"), "crm-1")).expect("insert");

        let taken = users.insert(&with_external_id(user("Bob", "Ray"), "crm-1"));
        assert!(matches!(taken, Err(RepoError::Conflict("external_id"))), "{taken:?}");

        let carl = user("Carl", "Day");
        users.insert(&carl).expect("a user without external id");
        users.insert(&user("Dan", "Day")).expect("another user without external id");
        let taken = users.update(&with_external_id(carl, "crm-1"));
        assert!(matches!(taken, Err(RepoError::Conflict("external_id"))), "{taken:?}");
        assert_eq!(users.list(&UserFilter::default(), ALL).expect("list").total, 3);
    }

    fn users_are_listed_newest_first_by_page(db: &TestDb) {
        let store = db.store();
        let users: &dyn UserRepository = &store;
        let mut created = Vec::new();
        for second in [3, 0, 4, 1, 2] {
            let mut u = user(&format!("User {second}"), "");
            u.created_at = at(second);
            users.insert(&u).expect("insert");
            created.push((second, u.id));
        }
        created.sort();
        let newest_first: Vec<UserId> = created.iter().rev().map(|(_, id)| *id).collect();
        let all = UserFilter::default();

        let first = users.list(&all, page(2, 0)).expect("first page");
        assert_eq!(user_ids(&first.items), newest_first[..2]);
        assert_eq!(first.total, 5);
        let second = users.list(&all, page(2, 2)).expect("second page");
        assert_eq!(user_ids(&second.items), newest_first[2..4]);
        let last = users.list(&all, page(2, 4)).expect("last page");
        assert_eq!(user_ids(&last.items), newest_first[4..]);
        let beyond = users.list(&all, page(2, 5)).expect("beyond the end");
        assert!(beyond.items.is_empty());
        assert_eq!(beyond.total, 5);
        let far = users.list(&all, page(2, u64::MAX)).expect("far beyond the end");
        assert!(far.items.is_empty());
    }

    fn rows_created_at_the_same_moment_are_ordered_by_id(db: &TestDb) {
        let store = db.store();
        let users: &dyn UserRepository = &store;
        let older = user("A", "");
        let newer = user("B", "");
        assert!(older.id < newer.id);
        users.insert(&newer).expect("insert");
        users.insert(&older).expect("insert");

        let listed = users.list(&UserFilter::default(), ALL).expect("list");
        assert_eq!(user_ids(&listed.items), [newer.id, older.id]);
    }

    fn the_q_filter_finds_a_part_of_one_field_in_any_case(db: &TestDb) {
        let store = db.store();
        let users: &dyn UserRepository = &store;
        let mut ann = user("Ann", "Lee");
        ann.phone = Some(Phone::parse("+79990000001").unwrap());
        ann.email = Some(Email::parse("ann.lee@example.com").unwrap());
        let zhanna = with_external_id(user("Жанна", "Петрова"), "CRM-42");
        let mut bob = user("Bob", "O_Neil");
        bob.email = Some(Email::parse("bob@example.org").unwrap());
        let carl = user("Carl", "100%");
        let mut dan = user("Dan", "Smith");
        dan.push_token = Some(PushToken::parse("ANN-TOKEN").unwrap());
        for u in [&ann, &zhanna, &bob, &carl, &dan] {
            users.insert(u).expect("insert");
        }

        assert_eq!(names_matching(users, "ann"), ["Ann"], "the push token is not searched");
        assert_eq!(names_matching(users, "LEE"), ["Ann"]);
        assert_eq!(names_matching(users, "жАННА"), ["Жанна"]);
        assert_eq!(names_matching(users, "петР"), ["Жанна"]);
        assert_eq!(names_matching(users, "crm-4"), ["Жанна"]);
        assert_eq!(names_matching(users, "+7999"), ["Ann"]);
        assert_eq!(names_matching(users, "EXAMPLE"), ["Ann", "Bob"]);
        assert_eq!(names_matching(users, "%"), ["Carl"]);
        assert_eq!(names_matching(users, "0%"), ["Carl"]);
        assert_eq!(names_matching(users, "_"), ["Bob"]);
        assert!(names_matching(users, "1_0").is_empty(), "_ is no wildcard");
        assert!(names_matching(users, "\\").is_empty());
        assert!(names_matching(users, "nlee").is_empty(), "no match across two fields");
        assert_eq!(names_matching(users, "").len(), 5);

        let filter = UserFilter { q: Some("example".to_owned()) };
        let first = users.list(&filter, page(1, 0)).expect("list");
        assert_eq!(first.items.len(), 1);
        assert_eq!(first.total, 2);
    }

    fn times_round_trip_to_the_microsecond(db: &TestDb) {
        let store = db.store();
        let users: &dyn UserRepository = &store;
        let availability: &dyn AvailabilityRepository = &store;
        let mut ann = user("Ann", "Lee");
        ann.created_at = at(0) + Duration::nanoseconds(123_456_789);
        ann.updated_at = at(1) + Duration::microseconds(1);
        users.insert(&ann).expect("insert");

        let stored = users.get(ann.id).expect("get").expect("the user");
        assert_eq!(stored.created_at, at(0) + Duration::microseconds(123_456));
        assert_eq!(stored.updated_at, ann.updated_at);

        let from = at(10) + Duration::microseconds(999_999);
        let to = at(20) + Duration::microseconds(1);
        availability.put(&blocked(ann.id, Some(from), Some(to))).expect("put");
        let stored = availability.get(ann.id).expect("get").expect("the availability");
        assert_eq!((stored.blocked_from(), stored.blocked_to()), (Some(from), Some(to)));
    }

    fn a_stored_value_the_domain_refuses_is_an_error(db: &TestDb) {
        let store = db.store();
        let users: &dyn UserRepository = &store;
        let ann = user("Ann", "Lee");
        users.insert(&ann).expect("insert");
        db.execute(&format!("UPDATE users SET phone = 'not a phone' WHERE id = '{}'", ann.id))
            .expect("corrupt the row");

        assert!(matches!(users.get(ann.id), Err(RepoError::Unexpected(_))));
        assert!(matches!(
            users.list(&UserFilter::default(), ALL),
            Err(RepoError::Unexpected(_))
        ));
    }
}

// ---- availability -----------------------------------------------------------

both_backends! {
    fn availability_is_put_replaced_and_read(db: &TestDb) {
        let store = db.store();
        let availability: &dyn AvailabilityRepository = &store;
        let ann = user("Ann", "Lee");
        UserRepository::insert(&store, &ann).expect("insert");
        assert_eq!(availability.get(ann.id).expect("get"), None);

        let period = blocked(ann.id, Some(at(10)), Some(at(20)));
        availability.put(&period).expect("put");
        assert_eq!(availability.get(ann.id).expect("get"), Some(period));

        let open_ended = blocked(ann.id, Some(at(30)), None);
        availability.put(&open_ended).expect("replace");
        assert_eq!(availability.get(ann.id).expect("get"), Some(open_ended));

        let active = Availability::always(ann.id);
        availability.put(&active).expect("replace");
        assert_eq!(availability.get(ann.id).expect("get"), Some(active));
    }

    fn availability_needs_an_existing_user(db: &TestDb) {
        let store = db.store();
        let availability: &dyn AvailabilityRepository = &store;
        let put = availability.put(&blocked(UserId::generate(), None, None));
        assert!(matches!(put, Err(RepoError::Unexpected(_))), "{put:?}");
    }
}

// ---- dictionaries -------------------------------------------------------------

both_backends! {
    fn the_seeded_dictionaries_are_there(db: &TestDb) {
        let store = db.store();
        let types = CommunicationTypeRepository::list(&store, ALL).expect("list types");
        assert_eq!(types.total, 6);
        let types: BTreeMap<String, (String, String, DictionaryStatus)> = types
            .items
            .into_iter()
            .map(|t| (t.code.into_inner(), (t.id.to_string(), t.name.into_inner(), t.status)))
            .collect();
        let active = DictionaryStatus::Active;
        let expected_types = [
            ("mass", "cf173c38-998a-4d59-8e42-06c9ffd967cb", "Mass communication"),
            ("personal", "d201f13f-d6c4-4e4c-a6bb-07e0f4622200", "Personal communication"),
            ("informational", "eb8b5da5-f7c9-4972-9dee-c8ea41dcf2be", "Informational"),
            ("survey", "6a53abbe-9bde-447c-88b9-359e86974b6c", "Survey"),
            ("commercial_survey", "7fb6ed21-0b34-4afd-9b26-34ff124879a1", "Commercial survey"),
            ("service", "68256410-990a-4cc6-aac8-8373940243a0", "Service communication"),
        ]
        .map(|(code, id, name)| (code.to_owned(), (id.to_owned(), name.to_owned(), active)));
        assert_eq!(types, BTreeMap::from(expected_types));

        let sources = CommunicationSourceRepository::list(&store, ALL).expect("list sources");
        assert_eq!(sources.total, 4);
        let sources: BTreeMap<String, (String, String, SourceKind, DictionaryStatus)> = sources
            .items
            .into_iter()
            .map(|s| {
                (s.code.into_inner(), (s.id.to_string(), s.name.into_inner(), s.kind, s.status))
            })
            .collect();
        let expected_sources = [
            ("sms", "848e80cd-eba1-4a4a-aaa9-434067762559", "SMS", SourceKind::Sms),
            ("messenger", "e43af760-8dec-4fa8-9c27-70b423d6df52", "Messenger", SourceKind::Messenger),
            ("email", "16c18500-df92-4de6-a6af-95599db5761f", "E-mail", SourceKind::Email),
            ("push", "b35cf9c0-a828-45a0-84b9-58f5302aad72", "Push", SourceKind::Push),
        ]
        .map(|(code, id, name, kind)| {
            (code.to_owned(), (id.to_owned(), name.to_owned(), kind, active))
        });
        assert_eq!(sources, BTreeMap::from(expected_sources));
    }

    fn communication_types_are_inserted_listed_updated_and_deleted(db: &TestDb) {
        let store = db.store();
        let types: &dyn CommunicationTypeRepository = &store;
        let mut older = communication_type("promo");
        let newer = communication_type("news");
        older.created_at = at(1);
        types.insert(&older).expect("insert");
        types.insert(&newer).expect("insert");
        assert_eq!(types.get(older.id).expect("get"), Some(older.clone()));

        let listed = types.list(page(2, 0)).expect("list");
        assert_eq!(listed.total, 8);
        assert_eq!(listed.items, [older.clone(), newer.clone()]);

        older.name = Name::parse("Promotions").unwrap();
        older.code = Code::parse("promotions").unwrap();
        older.status = DictionaryStatus::Blocked;
        older.updated_at = at(9);
        assert!(types.update(&older).expect("update"));
        assert_eq!(types.get(older.id).expect("get"), Some(older.clone()));
        assert!(!types.update(&communication_type("ghost")).expect("update a missing type"));

        assert!(types.delete(older.id).expect("delete"));
        assert_eq!(types.get(older.id).expect("get"), None);
        assert!(!types.delete(older.id).expect("delete again"));
        assert_eq!(types.list(ALL).expect("list").total, 7);
    }

    fn a_communication_type_code_is_unique(db: &TestDb) {
        let store = db.store();
        let types: &dyn CommunicationTypeRepository = &store;
        types.insert(&communication_type("promo")).expect("insert");

        let taken = types.insert(&communication_type("promo"));
        assert!(matches!(taken, Err(RepoError::Conflict("code"))), "{taken:?}");
        let seeded = types.insert(&communication_type("mass"));
        assert!(matches!(seeded, Err(RepoError::Conflict("code"))), "{seeded:?}");

        let mut news = communication_type("news");
        types.insert(&news).expect("insert");
        news.code = Code::parse("promo").unwrap();
        let taken = types.update(&news);
        assert!(matches!(taken, Err(RepoError::Conflict("code"))), "{taken:?}");
    }

    fn communication_sources_are_inserted_listed_updated_and_deleted(db: &TestDb) {
        let store = db.store();
        let sources: &dyn CommunicationSourceRepository = &store;
        let mut hook = communication_source("crm_hook", SourceKind::Webhook);
        hook.created_at = at(1);
        let fax = communication_source("viber", SourceKind::Messenger);
        sources.insert(&hook).expect("insert");
        sources.insert(&fax).expect("insert");
        assert_eq!(sources.get(hook.id).expect("get"), Some(hook.clone()));

        let listed = sources.list(page(2, 0)).expect("list");
        assert_eq!(listed.total, 6);
        assert_eq!(listed.items, [hook.clone(), fax.clone()]);
        let rest = sources.list(page(10, 2)).expect("list the rest");
        assert_eq!(rest.items.len(), 4);

        hook.kind = SourceKind::Email;
        hook.status = DictionaryStatus::Blocked;
        hook.name = Name::parse("CRM mail").unwrap();
        hook.updated_at = at(9);
        assert!(sources.update(&hook).expect("update"));
        assert_eq!(sources.get(hook.id).expect("get"), Some(hook.clone()));
        let ghost = communication_source("ghost", SourceKind::Sms);
        assert!(!sources.update(&ghost).expect("update a missing source"));

        assert!(sources.delete(hook.id).expect("delete"));
        assert_eq!(sources.get(hook.id).expect("get"), None);
        assert!(!sources.delete(hook.id).expect("delete again"));
    }

    fn a_communication_source_code_is_unique(db: &TestDb) {
        let store = db.store();
        let sources: &dyn CommunicationSourceRepository = &store;
        let seeded = sources.insert(&communication_source("sms", SourceKind::Sms));
        assert!(matches!(seeded, Err(RepoError::Conflict("code"))), "{seeded:?}");

        let mut viber = communication_source("viber", SourceKind::Messenger);
        sources.insert(&viber).expect("insert");
        viber.code = Code::parse("email").unwrap();
        let taken = sources.update(&viber);
        assert!(matches!(taken, Err(RepoError::Conflict("code"))), "{taken:?}");
    }

    fn the_database_refuses_unknown_enumeration_values(db: &TestDb) {
        let updates = [
            "UPDATE communication_types SET status = 'paused' WHERE code = 'mass'",
            "UPDATE communication_sources SET kind = 'fax' WHERE code = 'sms'",
            "UPDATE communication_sources SET status = 'Active' WHERE code = 'sms'",
        ];
        for sql in updates {
            assert!(db.execute(sql).is_err(), "{sql}");
        }
    }

    fn a_type_or_source_in_use_cannot_be_deleted(db: &TestDb) {
        let store = db.store();
        let Directory { department, type_, source } = directory(&store, "a");
        let favorites: &dyn FavoriteSourceRepository = &store;
        let rules: &dyn RuleRepository = &store;
        favorites
            .add(&favorite(department.id, type_.id, source.id, 0))
            .expect("add favourite");

        let in_use = CommunicationTypeRepository::delete(&store, type_.id);
        assert!(matches!(in_use, Err(RepoError::Referenced)), "{in_use:?}");
        let in_use = CommunicationSourceRepository::delete(&store, source.id);
        assert!(matches!(in_use, Err(RepoError::Referenced)), "{in_use:?}");

        assert!(favorites.remove(department.id, type_.id, source.id).expect("remove"));
        let limit = rule(department.id, Some(type_.id), 1, TimeUnit::Day);
        rules.insert(&limit).expect("insert rule");
        let in_use = CommunicationTypeRepository::delete(&store, type_.id);
        assert!(matches!(in_use, Err(RepoError::Referenced)), "{in_use:?}");

        assert!(rules.delete(department.id, limit.id).expect("delete rule"));
        assert!(CommunicationTypeRepository::delete(&store, type_.id).expect("delete type"));
        assert!(CommunicationSourceRepository::delete(&store, source.id).expect("delete source"));
    }
}

// ---- departments, favourite sources and rules -------------------------------

both_backends! {
    fn departments_are_inserted_listed_updated_and_deleted(db: &TestDb) {
        let store = db.store();
        let departments: &dyn DepartmentRepository = &store;
        let mut created = Vec::new();
        for second in [1, 0, 2] {
            let mut d = department(&format!("Department {second}"));
            d.created_at = at(second);
            departments.insert(&d).expect("insert");
            created.push(d);
        }
        let [one, zero, two] = <[Department; 3]>::try_from(created).unwrap();
        assert_eq!(departments.get(one.id).expect("get"), Some(one.clone()));
        assert_eq!(departments.get(DepartmentId::generate()).expect("get a missing one"), None);

        let first = departments.list(page(2, 0)).expect("list");
        assert_eq!(first.items, [two.clone(), one.clone()]);
        assert_eq!(first.total, 3);
        let last = departments.list(page(2, 2)).expect("list");
        assert_eq!(last.items, std::slice::from_ref(&zero));

        let mut renamed = one.clone();
        renamed.name = Name::parse("Sales").unwrap();
        renamed.updated_at = at(50);
        assert!(departments.update(&renamed).expect("update"));
        assert_eq!(departments.get(one.id).expect("get"), Some(renamed));
        assert!(!departments.update(&department("Ghost")).expect("update a missing one"));

        assert!(departments.delete(zero.id).expect("delete"));
        assert!(!departments.delete(zero.id).expect("delete again"));
        assert_eq!(departments.list(ALL).expect("list").total, 2);
    }

    fn deleting_a_department_removes_its_favourites_and_rules(db: &TestDb) {
        let store = db.store();
        let favorites: &dyn FavoriteSourceRepository = &store;
        let rules: &dyn RuleRepository = &store;
        let a = directory(&store, "a");
        let b = directory(&store, "b");
        for d in [&a, &b] {
            favorites
                .add(&favorite(d.department.id, d.type_.id, d.source.id, 0))
                .expect("add favourite");
            rules
                .insert(&rule(d.department.id, Some(d.type_.id), 3, TimeUnit::Hour))
                .expect("insert rule");
        }

        assert!(DepartmentRepository::delete(&store, a.department.id).expect("delete"));

        assert!(favorites.list(a.department.id).expect("favourites of a").is_empty());
        assert_eq!(rules.list(a.department.id, ALL).expect("rules of a").total, 0);
        assert_eq!(favorites.list(b.department.id).expect("favourites of b").len(), 1);
        assert_eq!(rules.list(b.department.id, ALL).expect("rules of b").total, 1);
        assert!(CommunicationTypeRepository::delete(&store, a.type_.id).expect("type of a"));
        assert!(CommunicationSourceRepository::delete(&store, a.source.id).expect("source of a"));
    }

    fn favourite_sources_are_replaced_added_and_removed(db: &TestDb) {
        let store = db.store();
        let favorites: &dyn FavoriteSourceRepository = &store;
        let Directory { department, type_: t1, source: s1 } = directory(&store, "a");
        let other = directory(&store, "other");
        let t2 = communication_type("type_b");
        let s2 = communication_source("source_b", SourceKind::Email);
        let s3 = communication_source("source_c", SourceKind::Push);
        CommunicationTypeRepository::insert(&store, &t2).expect("insert type");
        CommunicationSourceRepository::insert(&store, &s2).expect("insert source");
        CommunicationSourceRepository::insert(&store, &s3).expect("insert source");
        assert!(t1.id < t2.id && s1.id < s2.id && s2.id < s3.id);
        let d = department.id;
        let theirs = favorite(other.department.id, other.type_.id, other.source.id, 0);
        favorites.add(&theirs).expect("add to the other department");

        favorites
            .replace(d, &[
                favorite(d, t2.id, s1.id, 0),
                favorite(d, t1.id, s3.id, 1),
                favorite(d, t1.id, s1.id, 2),
                favorite(d, t1.id, s2.id, 1),
            ])
            .expect("replace");
        assert_eq!(
            favorites.list(d).expect("list"),
            [
                favorite(d, t1.id, s2.id, 1),
                favorite(d, t1.id, s3.id, 1),
                favorite(d, t1.id, s1.id, 2),
                favorite(d, t2.id, s1.id, 0),
            ],
            "by type, then priority, then source"
        );

        favorites.add(&favorite(d, t2.id, s2.id, 5)).expect("add");
        let listed = favorites.add(&favorite(d, t2.id, s2.id, 7));
        assert!(
            matches!(listed, Err(RepoError::Conflict("communication_source_id"))),
            "{listed:?}"
        );
        assert_eq!(favorites.list(d).expect("list").len(), 5);
        assert!(favorites.remove(d, t2.id, s2.id).expect("remove"));
        assert!(!favorites.remove(d, t2.id, s2.id).expect("remove again"));

        favorites.replace(d, &[favorite(d, t2.id, s3.id, 0)]).expect("replace");
        assert_eq!(favorites.list(d).expect("list"), [favorite(d, t2.id, s3.id, 0)]);
        favorites.replace(d, &[]).expect("replace with nothing");
        assert!(favorites.list(d).expect("list").is_empty());
        assert_eq!(favorites.list(other.department.id).expect("list"), [theirs]);
    }

    fn a_failed_replace_keeps_the_old_favourites(db: &TestDb) {
        let store = db.store();
        let favorites: &dyn FavoriteSourceRepository = &store;
        let Directory { department, type_, source } = directory(&store, "a");
        let d = department.id;
        let kept = [favorite(d, type_.id, source.id, 0)];
        favorites.replace(d, &kept).expect("replace");

        let sms = SourceId::from_uuid("848e80cd-eba1-4a4a-aaa9-434067762559".parse().unwrap());
        let twice = [favorite(d, type_.id, sms, 0), favorite(d, type_.id, sms, 1)];
        let replaced = favorites.replace(d, &twice);
        assert!(
            matches!(replaced, Err(RepoError::Conflict("communication_source_id"))),
            "{replaced:?}"
        );
        assert_eq!(favorites.list(d).expect("list"), kept);
    }

    fn rules_belong_to_their_department(db: &TestDb) {
        let store = db.store();
        let rules: &dyn RuleRepository = &store;
        let a = directory(&store, "a");
        let b = directory(&store, "b");
        let (d1, d2) = (a.department.id, b.department.id);
        let mut r1 = rule(d1, None, 5, TimeUnit::Minute);
        let mut r2 = rule(d1, Some(a.type_.id), 1, TimeUnit::Day);
        r2.created_at = at(1);
        let r3 = rule(d2, None, 2, TimeUnit::Second);
        for r in [&r1, &r2, &r3] {
            rules.insert(r).expect("insert");
        }

        assert_eq!(rules.get(d1, r1.id).expect("get"), Some(r1.clone()));
        assert_eq!(rules.get(d2, r1.id).expect("get from another department"), None);
        let first = rules.list(d1, page(1, 0)).expect("list");
        assert_eq!((first.items, first.total), (vec![r2.clone()], 2));
        let second = rules.list(d1, page(1, 1)).expect("list");
        assert_eq!(second.items, [r1.clone()]);
        assert_eq!(rules.list(d2, ALL).expect("list").items, [r3]);

        r1.type_id = Some(a.type_.id);
        r1.limit = RuleLimit::new(10, TimeUnit::Hour, 24).unwrap();
        r1.updated_at = at(30);
        assert!(rules.update(&r1).expect("update"));
        assert_eq!(rules.get(d1, r1.id).expect("get"), Some(r1.clone()));
        let mut moved = r1.clone();
        moved.department_id = d2;
        assert!(!rules.update(&moved).expect("update under another department"));
        assert!(!rules.update(&rule(d1, None, 1, TimeUnit::Day)).expect("update a missing rule"));
        r2.type_id = None;
        assert!(rules.update(&r2).expect("clear the type"));
        assert_eq!(rules.get(d1, r2.id).expect("get"), Some(r2.clone()));

        assert!(!rules.delete(d2, r1.id).expect("delete from another department"));
        assert!(rules.delete(d1, r1.id).expect("delete"));
        assert_eq!(rules.get(d1, r1.id).expect("get"), None);
        assert!(!rules.delete(d1, r1.id).expect("delete again"));
    }
}

// ---- the store itself ---------------------------------------------------------

both_backends! {
    fn the_store_names_its_backend_and_answers_pings(db: &TestDb) {
        let store = db.store();
        assert_eq!(store.backend(), db.backend());
        store.ping(StdDuration::from_secs(5)).expect("ping");
        store.run_migrations().expect("migrating a migrated database does nothing");
    }

    fn migrations_run_once_when_started_together(db: &TestDb) {
        let empty = TestDb::empty(db.backend());
        std::thread::scope(|scope| {
            let runs: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| empty.store().run_migrations()))
                .collect();
            for run in runs {
                run.join().expect("the thread ends").expect("the migrations apply");
            }
        });
        let types = CommunicationTypeRepository::list(&empty.store(), ALL).expect("list");
        assert_eq!(types.total, 6);
    }
}

#[test]
fn unsupported_urls_and_options_are_refused() {
    let refused = Store::connect("mysql://ann:s3cret@db/o", &PoolOptions::default());
    assert!(
        matches!(refused, Err(StorageError::BadUrl(_))),
        "{refused:?}"
    );
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(!message.contains("s3cret"), "{message}");

    let no_connections = PoolOptions {
        max_size: 0,
        ..PoolOptions::default()
    };
    let refused = Store::connect("omnichannel.db", &no_connections);
    assert!(
        matches!(refused, Err(StorageError::BadPoolOptions(_))),
        "{refused:?}"
    );
}

#[test]
fn a_failed_connection_hides_the_password() {
    let refused = Store::connect(
        "postgres://postgres:s3cret-pw@127.0.0.1:1/postgres",
        &PoolOptions::default(),
    );
    let error = refused.expect_err("nothing listens on port 1");
    assert!(matches!(error, StorageError::Connect { .. }), "{error:?}");
    let chain = format!("{:#}", anyhow::Error::new(error));
    assert!(!chain.contains("s3cret-pw"), "{chain}");
    assert!(chain.contains("postgres:***@127.0.0.1:1"), "{chain}");
}

#[test]
fn a_plain_path_is_a_sqlite_file_created_when_missing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("new.db");
    let store =
        Store::connect(&path.display().to_string(), &PoolOptions::default()).expect("connect");
    store.run_migrations().expect("migrate");
    assert_eq!(store.backend(), omnichannel_storage::Backend::Sqlite);
    assert!(path.exists());
}

/// A connection that worked a moment ago is handed out without a ping; when
/// the server has ended it meanwhile, the call fails once and the connection
/// is replaced, not handed out again.
#[test]
fn connections_the_server_ended_fail_one_call_each_and_are_replaced() {
    let db = TestDb::new(crate::db::Backend::Postgres);
    let store = db.store();
    // Four calls at once: the pool opens its four connections.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                store.ping(StdDuration::from_secs(5)).expect("ping");
                std::thread::sleep(StdDuration::from_millis(50));
            });
        }
    });
    CommunicationTypeRepository::list(&store, ALL).expect("list");
    let open = store.pool_state().connections;
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .expect("end the store's connections");
    let mut failures = 0;
    while CommunicationTypeRepository::list(&store, ALL).is_err() {
        failures += 1;
        assert!(
            failures <= open,
            "{failures} failed calls for {open} ended connections"
        );
    }
    assert_eq!(
        CommunicationTypeRepository::list(&store, ALL)
            .expect("list")
            .total,
        6
    );
}
