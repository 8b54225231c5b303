//! The contract of the authentication ports (operators, refresh tokens, failed
//! logins, API keys, settings) and of `UserRepository::find_by_external_id`,
//! run on `Store` against both backends. The concurrent cases run each
//! competitor on a store of its own, as separate processes would.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Barrier;

use chrono::{DateTime, Duration, TimeZone, Utc};
use omnichannel_domain::auth::{Admin, ApiKey, RefreshToken, Username};
use omnichannel_domain::ports::{
    AdminDeletion, AdminRepository, ApiKeyRepository, LoginAttemptRepository, Page,
    RefreshTokenRepository, RepoError, SettingRepository, UserRepository,
};
use omnichannel_domain::{
    AdminId, ApiKeyId, ExternalId, Name, PersonName, TokenFamilyId, User, UserId,
};
use omnichannel_storage::Store;

use crate::db::{TestDb, both_backends};

// ---- fixtures -------------------------------------------------------------

/// `seconds` after a fixed moment, in whole microseconds: what both backends
/// store exactly.
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

fn admin(username: &str) -> Admin {
    Admin {
        id: AdminId::generate(),
        username: Username::parse(username).unwrap(),
        password_hash: format!("$2b$12$hash-of-{username}"),
        created_at: at(0),
        updated_at: at(0),
    }
}

fn token(hash: &str, admin_id: AdminId, family_id: TokenFamilyId) -> RefreshToken {
    RefreshToken {
        token_hash: hash.to_owned(),
        admin_id,
        family_id,
        created_at: at(0),
        expires_at: at(3600),
        used_at: None,
        revoked_at: None,
    }
}

fn api_key(name: &str, created_at: DateTime<Utc>) -> ApiKey {
    ApiKey {
        id: ApiKeyId::generate(),
        name: Name::parse(name).unwrap(),
        key: format!("key-{}", uuid::Uuid::new_v4().simple()),
        secret_hash: format!("hash-of-the-secret-of-{name}"),
        created_at,
        last_used_at: None,
    }
}

fn usernames(admins: &[Admin]) -> Vec<&str> {
    admins.iter().map(|a| a.username.as_str()).collect()
}

fn ids(keys: &[ApiKey]) -> Vec<ApiKeyId> {
    keys.iter().map(|k| k.id).collect()
}

fn revoked_at(store: &Store, hash: &str) -> Option<DateTime<Utc>> {
    RefreshTokenRepository::find(store, hash)
        .expect("find")
        .expect("the token")
        .revoked_at
}

fn last_used_at(store: &Store, key: &ApiKey) -> Option<DateTime<Utc>> {
    store
        .find_active(&key.key)
        .expect("find")
        .expect("the key")
        .last_used_at
}

/// `count` stores on `db`, each with a pool of its own.
fn stores(db: &TestDb, count: usize) -> Vec<Store> {
    (0..count).map(|_| db.store()).collect()
}

/// Runs `call(i, &stores[i])` on one thread per store, released together, and
/// returns the results in the order of `stores`.
fn race<T: Send>(stores: &[Store], call: impl Fn(usize, &Store) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(stores.len());
    std::thread::scope(|scope| {
        let threads: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let (barrier, call) = (&barrier, &call);
                scope.spawn(move || {
                    barrier.wait();
                    call(i, store)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().expect("the thread ends"))
            .collect()
    })
}

// ---- operators --------------------------------------------------------------

both_backends! {
    fn admins_are_inserted_found_and_listed_newest_first(db: &TestDb) {
        let store = db.store();
        let admins: &dyn AdminRepository = &store;
        let mut created = Vec::new();
        for (second, name) in [(1, "bob"), (0, "ann"), (2, "carl")] {
            let mut a = admin(name);
            a.created_at = at(second);
            a.updated_at = at(second + 10);
            admins.insert(&a).expect("insert");
            created.push(a);
        }
        let [bob, ann, carl] = <[Admin; 3]>::try_from(created).unwrap();

        assert_eq!(admins.get(bob.id).expect("get"), Some(bob.clone()));
        assert_eq!(admins.get(AdminId::generate()).expect("get a missing one"), None);
        assert_eq!(admins.find_by_username("ann").expect("find"), Some(ann.clone()));
        assert_eq!(admins.find_by_username("dan").expect("find a missing one"), None);

        let first = admins.list(page(2, 0)).expect("list");
        assert_eq!(first.items, [carl, bob]);
        assert_eq!(first.total, 3);
        let last = admins.list(page(2, 2)).expect("list");
        assert_eq!(usernames(&last.items), ["ann"]);
        assert!(admins.list(page(2, 3)).expect("beyond the end").items.is_empty());
    }

    fn a_username_belongs_to_one_admin(db: &TestDb) {
        let store = db.store();
        let admins: &dyn AdminRepository = &store;
        let ann = admin("ann");
        admins.insert(&ann).expect("insert");

        let taken = admins.insert(&admin("ann"));
        assert!(matches!(taken, Err(RepoError::Conflict("username"))), "{taken:?}");
        let mut same_id = admin("bob");
        same_id.id = ann.id;
        let taken = admins.insert(&same_id);
        assert!(matches!(taken, Err(RepoError::Conflict("id"))), "{taken:?}");
        assert_eq!(admins.list(ALL).expect("list").total, 1);
    }

    fn the_first_admin_goes_only_into_an_empty_table(db: &TestDb) {
        let store = db.store();
        let admins: &dyn AdminRepository = &store;
        let ann = admin("ann");

        assert!(admins.insert_first(&ann).expect("insert into an empty table"));
        assert!(!admins.insert_first(&admin("bob")).expect("insert into a full table"));
        assert!(!admins.insert_first(&ann).expect("the same one again"));

        assert_eq!(admins.list(ALL).expect("list").items, [ann]);
    }

    fn of_processes_starting_together_one_inserts_the_first_admin(db: &TestDb) {
        let stores = stores(db, 6);
        for round in 0..5 {
            db.execute("DELETE FROM admins").expect("empty the table");
            let candidates: Vec<Admin> =
                (0..stores.len()).map(|i| admin(&format!("admin{round}-{i}"))).collect();

            let inserted = race(&stores, |i, store| store.insert_first(&candidates[i]));

            let winners: Vec<usize> = inserted
                .into_iter()
                .enumerate()
                .filter_map(|(i, result)| result.expect("insert_first").then_some(i))
                .collect();
            assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
            let listed = AdminRepository::list(&stores[0], ALL).expect("list");
            assert_eq!(listed.items, [candidates[winners[0]].clone()], "round {round}");
        }
    }

    fn the_last_admin_cannot_be_deleted(db: &TestDb) {
        let store = db.store();
        let admins: &dyn AdminRepository = &store;
        let tokens: &dyn RefreshTokenRepository = &store;
        assert_eq!(
            admins.delete_unless_last(AdminId::generate()).expect("delete from an empty table"),
            AdminDeletion::NotFound
        );
        let ann = admin("ann");
        admins.insert(&ann).expect("insert");
        assert_eq!(admins.delete_unless_last(ann.id).expect("delete"), AdminDeletion::LastOne);
        assert_eq!(
            admins.delete_unless_last(AdminId::generate()).expect("delete a missing one"),
            AdminDeletion::NotFound
        );

        let bob = admin("bob");
        admins.insert(&bob).expect("insert");
        let family = TokenFamilyId::generate();
        tokens.insert(&token("ann-1", ann.id, family)).expect("insert token");
        tokens.insert(&token("ann-2", ann.id, family)).expect("insert token");
        tokens.insert(&token("bob-1", bob.id, TokenFamilyId::generate())).expect("insert token");

        assert_eq!(admins.delete_unless_last(ann.id).expect("delete"), AdminDeletion::Deleted);
        assert_eq!(admins.get(ann.id).expect("get"), None);
        assert_eq!(tokens.find("ann-1").expect("find"), None, "its tokens go with it");
        assert_eq!(tokens.find("ann-2").expect("find"), None);
        assert!(tokens.find("bob-1").expect("find").is_some());
        assert_eq!(
            admins.delete_unless_last(ann.id).expect("delete again"),
            AdminDeletion::NotFound
        );
        assert_eq!(admins.delete_unless_last(bob.id).expect("delete"), AdminDeletion::LastOne);
        assert_eq!(admins.list(ALL).expect("list").items, [bob]);
    }

    fn concurrent_deletions_of_the_last_two_admins_leave_one(db: &TestDb) {
        let stores = stores(db, 2);
        let admins: &dyn AdminRepository = &stores[0];
        let mut survivor = admin("admin0");
        admins.insert(&survivor).expect("insert");
        for round in 1..=8 {
            let newcomer = admin(&format!("admin{round}"));
            admins.insert(&newcomer).expect("insert");
            let pair = [survivor.clone(), newcomer];

            let deleted = race(&stores, |i, store| store.delete_unless_last(pair[i].id));

            let deleted: Vec<AdminDeletion> =
                deleted.into_iter().map(|d| d.expect("delete_unless_last")).collect();
            let kept = match deleted[..] {
                [AdminDeletion::Deleted, AdminDeletion::LastOne] => 1,
                [AdminDeletion::LastOne, AdminDeletion::Deleted] => 0,
                _ => panic!("round {round}: {deleted:?}"),
            };
            survivor = pair[kept].clone();
            assert_eq!(admins.list(ALL).expect("list").items, [survivor.clone()], "round {round}");
        }
    }

    fn changing_the_password_revokes_every_refresh_token(db: &TestDb) {
        let store = db.store();
        let admins: &dyn AdminRepository = &store;
        let tokens: &dyn RefreshTokenRepository = &store;
        let ann = admin("ann");
        let bob = admin("bob");
        admins.insert(&ann).expect("insert");
        admins.insert(&bob).expect("insert");
        let mut revoked_before = token("ann-revoked", ann.id, TokenFamilyId::generate());
        revoked_before.revoked_at = Some(at(5));
        let mut used = token("ann-used", ann.id, TokenFamilyId::generate());
        used.used_at = Some(at(6));
        for t in [
            token("ann-live", ann.id, TokenFamilyId::generate()),
            revoked_before,
            used,
            token("bob-live", bob.id, TokenFamilyId::generate()),
        ] {
            tokens.insert(&t).expect("insert token");
        }

        assert!(admins.change_password(ann.id, "$2b$12$new", at(100)).expect("change"));

        let changed = admins.get(ann.id).expect("get").expect("ann");
        assert_eq!(changed.password_hash, "$2b$12$new");
        assert_eq!(changed.updated_at, at(100));
        assert_eq!(changed.created_at, ann.created_at);
        assert_eq!(revoked_at(&store, "ann-live"), Some(at(100)));
        assert_eq!(revoked_at(&store, "ann-used"), Some(at(100)));
        assert_eq!(revoked_at(&store, "ann-revoked"), Some(at(5)), "the first revocation stays");
        assert_eq!(revoked_at(&store, "bob-live"), None);
        assert_eq!(admins.get(bob.id).expect("get"), Some(bob));
        let missing = admins.change_password(AdminId::generate(), "$2b$12$x", at(100));
        assert!(!missing.expect("change a missing one"));
    }

    fn a_stored_value_the_domain_refuses_is_an_error(db: &TestDb) {
        let store = db.store();
        let ann = admin("ann");
        AdminRepository::insert(&store, &ann).expect("insert admin");
        let key = api_key("Key", at(0));
        ApiKeyRepository::insert(&store, &key).expect("insert key");
        db.execute(&format!("UPDATE admins SET username = 'Ann' WHERE id = '{}'", ann.id))
            .expect("corrupt the admin");
        db.execute(&format!("UPDATE api_keys SET name = ' ' WHERE id = '{}'", key.id))
            .expect("corrupt the key");

        let admin = AdminRepository::get(&store, ann.id);
        assert!(matches!(admin, Err(RepoError::Unexpected(_))), "{admin:?}");
        let admins = AdminRepository::list(&store, ALL);
        assert!(matches!(admins, Err(RepoError::Unexpected(_))), "{admins:?}");
        let found = store.find_active(&key.key);
        assert!(matches!(found, Err(RepoError::Unexpected(_))), "{found:?}");
    }
}

// ---- refresh tokens -----------------------------------------------------------

both_backends! {
    fn a_refresh_token_round_trips(db: &TestDb) {
        let store = db.store();
        let tokens: &dyn RefreshTokenRepository = &store;
        let ann = admin("ann");
        AdminRepository::insert(&store, &ann).expect("insert admin");
        let mut live = token("live", ann.id, TokenFamilyId::generate());
        live.created_at = at(1) + Duration::microseconds(7);
        let mut dead = token("dead", ann.id, live.family_id);
        dead.used_at = Some(at(2));
        dead.revoked_at = Some(at(3) + Duration::microseconds(999_999));
        tokens.insert(&live).expect("insert");
        tokens.insert(&dead).expect("insert");

        assert_eq!(tokens.find("live").expect("find"), Some(live.clone()));
        assert_eq!(tokens.find("dead").expect("find"), Some(dead));
        assert_eq!(tokens.find("LIVE").expect("find in another case"), None);
        assert_eq!(tokens.find("missing").expect("find a missing one"), None);

        let taken = tokens.insert(&token("live", ann.id, TokenFamilyId::generate()));
        assert!(matches!(taken, Err(RepoError::Conflict("token_hash"))), "{taken:?}");
        let orphan = tokens.insert(&token("orphan", AdminId::generate(), live.family_id));
        assert!(matches!(orphan, Err(RepoError::Unexpected(_))), "{orphan:?}");
    }

    fn a_new_refresh_token_clears_the_expired_ones(db: &TestDb) {
        let store = db.store();
        let tokens: &dyn RefreshTokenRepository = &store;
        let ann = admin("ann");
        AdminRepository::insert(&store, &ann).expect("insert admin");
        let mut expired = token("expired", ann.id, TokenFamilyId::generate());
        expired.expires_at = at(100);
        let mut lasting = token("lasting", ann.id, TokenFamilyId::generate());
        lasting.expires_at = at(200);
        tokens.insert(&expired).expect("insert");
        tokens.insert(&lasting).expect("insert");

        let mut fresh = token("fresh", ann.id, TokenFamilyId::generate());
        fresh.created_at = at(150);
        fresh.expires_at = at(10_000);
        tokens.insert(&fresh).expect("insert");

        assert_eq!(tokens.find("expired").expect("find"), None);
        assert_eq!(tokens.find("lasting").expect("find"), Some(lasting));
        assert_eq!(tokens.find("fresh").expect("find"), Some(fresh));
    }

    fn a_refresh_token_is_used_once_and_only_while_live(db: &TestDb) {
        let store = db.store();
        let tokens: &dyn RefreshTokenRepository = &store;
        let ann = admin("ann");
        AdminRepository::insert(&store, &ann).expect("insert admin");
        let family = TokenFamilyId::generate();
        let mut revoked = token("revoked", ann.id, family);
        revoked.revoked_at = Some(at(5));
        for t in [token("live", ann.id, family), token("expiring", ann.id, family), revoked] {
            tokens.insert(&t).expect("insert");
        }

        assert!(tokens.mark_used("live", at(10)).expect("mark used"));
        let used = tokens.find("live").expect("find").expect("the token");
        assert_eq!((used.used_at, used.revoked_at), (Some(at(10)), None));
        assert!(!tokens.mark_used("live", at(11)).expect("mark used again"));
        assert_eq!(tokens.find("live").expect("find").expect("the token").used_at, Some(at(10)));

        assert!(!tokens.mark_used("revoked", at(10)).expect("mark a revoked one"));
        assert!(!tokens.mark_used("expiring", at(3600)).expect("mark at its expiry"));
        assert!(!tokens.mark_used("expiring", at(4000)).expect("mark after its expiry"));
        let just_before = at(3600) - Duration::microseconds(1);
        assert!(tokens.mark_used("expiring", just_before).expect("mark just before its expiry"));
        assert!(!tokens.mark_used("missing", at(10)).expect("mark a missing one"));
    }

    fn of_concurrent_refreshes_with_one_token_exactly_one_wins(db: &TestDb) {
        let stores = stores(db, 6);
        let ann = admin("ann");
        AdminRepository::insert(&stores[0], &ann).expect("insert admin");
        for round in 0..10 {
            let hash = format!("token-{round}");
            let live = token(&hash, ann.id, TokenFamilyId::generate());
            RefreshTokenRepository::insert(&stores[0], &live).expect("insert");

            let used = race(&stores, |i, store| {
                store.mark_used(&hash, at(10) + Duration::microseconds(i64::try_from(i).unwrap()))
            });

            let winners: Vec<usize> = used
                .into_iter()
                .enumerate()
                .filter_map(|(i, result)| result.expect("mark_used").then_some(i))
                .collect();
            assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
            let stored = RefreshTokenRepository::find(&stores[0], &hash).expect("find");
            let winner = i64::try_from(winners[0]).unwrap();
            let used_at = Some(at(10) + Duration::microseconds(winner));
            assert_eq!(stored.and_then(|t| t.used_at), used_at, "round {round}");
        }
    }

    fn revoking_a_family_revokes_its_tokens_not_yet_revoked(db: &TestDb) {
        let store = db.store();
        let tokens: &dyn RefreshTokenRepository = &store;
        let ann = admin("ann");
        AdminRepository::insert(&store, &ann).expect("insert admin");
        let family = TokenFamilyId::generate();
        let other = TokenFamilyId::generate();
        let mut used = token("used", ann.id, family);
        used.used_at = Some(at(4));
        let mut revoked = token("revoked", ann.id, family);
        revoked.revoked_at = Some(at(5));
        for t in [token("live", ann.id, family), used, revoked, token("other", ann.id, other)] {
            tokens.insert(&t).expect("insert");
        }

        tokens.revoke_family(family, at(50)).expect("revoke");

        assert_eq!(revoked_at(&store, "live"), Some(at(50)));
        assert_eq!(revoked_at(&store, "used"), Some(at(50)));
        assert_eq!(revoked_at(&store, "revoked"), Some(at(5)));
        assert_eq!(revoked_at(&store, "other"), None);
        assert!(!tokens.mark_used("live", at(51)).expect("mark a revoked one"));
        tokens.revoke_family(TokenFamilyId::generate(), at(50)).expect("revoke an unknown family");
        tokens.revoke_family(family, at(60)).expect("revoke again");
        assert_eq!(revoked_at(&store, "live"), Some(at(50)));
    }
}

// ---- failed logins --------------------------------------------------------------

both_backends! {
    fn failed_logins_are_kept_per_username_and_cleared(db: &TestDb) {
        let store = db.store();
        let attempts: &dyn LoginAttemptRepository = &store;
        for (username, second) in [("ann", 20), ("ann", 0), ("bob", 15), ("ann", 10), ("ann", 10)] {
            attempts.record_failure(username, at(second), at(-1000)).expect("record");
        }

        assert_eq!(
            attempts.failures_since("ann", at(-1)).expect("failures"),
            [at(0), at(10), at(10), at(20)],
            "oldest first, duplicates kept"
        );
        assert_eq!(
            attempts.failures_since("ann", at(0)).expect("failures"),
            [at(10), at(10), at(20)],
            "only after `since`"
        );
        assert!(attempts.failures_since("ann", at(20)).expect("failures").is_empty());
        assert_eq!(attempts.failures_since("bob", at(-1)).expect("failures"), [at(15)]);
        assert!(attempts.failures_since("carl", at(-1)).expect("failures").is_empty());

        attempts.clear("ann").expect("clear");
        assert!(attempts.failures_since("ann", at(-1)).expect("failures").is_empty());
        assert_eq!(attempts.failures_since("bob", at(-1)).expect("failures"), [at(15)]);
        attempts.clear("nobody").expect("clear an unknown username");
    }

    fn recording_a_failure_forgets_the_old_ones_of_every_username(db: &TestDb) {
        let store = db.store();
        let attempts: &dyn LoginAttemptRepository = &store;
        let forever = at(-1000);
        for second in [0, 99, 100] {
            attempts.record_failure("ann", at(second), forever).expect("record");
        }
        attempts.record_failure("bob", at(0), forever).expect("record");
        attempts.record_failure("bob", at(150), forever).expect("record");

        attempts.record_failure("ann", at(1000), at(100)).expect("record");

        let long_ago = at(-2000);
        assert_eq!(
            attempts.failures_since("ann", long_ago).expect("failures"),
            [at(100), at(1000)],
            "failures before `forget_before` are gone, the one at it stays"
        );
        assert_eq!(
            attempts.failures_since("bob", long_ago).expect("failures"),
            [at(150)],
            "another username's old failures go too, its recent ones stay"
        );
    }
}

// ---- API keys -------------------------------------------------------------------

both_backends! {
    fn api_keys_are_inserted_found_and_listed_newest_first(db: &TestDb) {
        let store = db.store();
        let keys: &dyn ApiKeyRepository = &store;
        let k1 = api_key("First", at(1));
        let k2 = api_key("Second", at(2));
        let mut k3 = api_key("Third", at(3));
        k3.last_used_at = Some(at(4) + Duration::microseconds(5));
        for k in [&k2, &k3, &k1] {
            keys.insert(k).expect("insert");
        }

        assert_eq!(keys.find_active(&k1.key).expect("find"), Some(k1.clone()));
        assert_eq!(keys.find_active(&k3.key).expect("find"), Some(k3.clone()));
        assert_eq!(keys.find_active("key-missing").expect("find a missing one"), None);

        let first = keys.list(page(2, 0)).expect("list");
        assert_eq!((first.items, first.total), (vec![k3.clone(), k2.clone()], 3));
        let last = keys.list(page(2, 2)).expect("list");
        assert_eq!(last.items, std::slice::from_ref(&k1));

        let mut same_key = api_key("Copy", at(5));
        same_key.key.clone_from(&k1.key);
        let taken = keys.insert(&same_key);
        assert!(matches!(taken, Err(RepoError::Conflict("api_key"))), "{taken:?}");
        let mut same_id = api_key("Other", at(5));
        same_id.id = k1.id;
        let taken = keys.insert(&same_id);
        assert!(matches!(taken, Err(RepoError::Conflict("id"))), "{taken:?}");
    }

    fn a_revoked_key_is_neither_found_nor_listed(db: &TestDb) {
        let store = db.store();
        let keys: &dyn ApiKeyRepository = &store;
        let old = api_key("Old", at(1));
        let new = api_key("New", at(2));
        keys.insert(&old).expect("insert");
        keys.insert(&new).expect("insert");

        assert!(keys.revoke(old.id, at(10)).expect("revoke"));
        assert!(!keys.revoke(old.id, at(11)).expect("revoke again"));
        assert!(!keys.revoke(ApiKeyId::generate(), at(11)).expect("revoke a missing one"));

        assert_eq!(keys.find_active(&old.key).expect("find"), None);
        assert_eq!(keys.find_active(&new.key).expect("find"), Some(new.clone()));
        let listed = keys.list(ALL).expect("list");
        assert_eq!((ids(&listed.items), listed.total), (vec![new.id], 1));
        let mut reused = api_key("Reused", at(3));
        reused.key.clone_from(&old.key);
        let taken = keys.insert(&reused);
        assert!(
            matches!(taken, Err(RepoError::Conflict("api_key"))),
            "a revoked key's public part is never handed out again: {taken:?}"
        );
    }

    fn touching_a_key_skips_recent_uses(db: &TestDb) {
        let store = db.store();
        let keys: &dyn ApiKeyRepository = &store;
        let key = api_key("Busy", at(0));
        let other = api_key("Idle", at(0));
        keys.insert(&key).expect("insert");
        keys.insert(&other).expect("insert");

        keys.touch(key.id, at(100), at(40)).expect("touch a key never used");
        assert_eq!(last_used_at(&store, &key), Some(at(100)));
        keys.touch(key.id, at(120), at(60)).expect("touch a key used recently");
        assert_eq!(last_used_at(&store, &key), Some(at(100)), "used after `unless_after`: kept");
        keys.touch(key.id, at(200), at(100)).expect("touch a key used at `unless_after`");
        assert_eq!(last_used_at(&store, &key), Some(at(200)));
        keys.touch(key.id, at(300), at(250)).expect("touch a key used before `unless_after`");
        assert_eq!(last_used_at(&store, &key), Some(at(300)));

        assert_eq!(last_used_at(&store, &other), None);
        keys.touch(ApiKeyId::generate(), at(300), at(250)).expect("touch a missing key");
    }
}

// ---- settings -------------------------------------------------------------------

both_backends! {
    fn a_setting_keeps_its_first_value(db: &TestDb) {
        let store = db.store();
        let settings: &dyn SettingRepository = &store;
        assert_eq!(settings.get_or_insert("jwt_secret", "first").expect("insert"), "first");
        assert_eq!(settings.get_or_insert("jwt_secret", "second").expect("get"), "first");
        assert_eq!(settings.get_or_insert("other", "third").expect("insert"), "third");
        let reopened = db.store();
        let again = SettingRepository::get_or_insert(&reopened, "jwt_secret", "fourth");
        assert_eq!(again.expect("get from another store"), "first");
    }

    fn processes_racing_to_store_a_setting_agree_on_it(db: &TestDb) {
        let stores = stores(db, 6);
        for round in 0..5 {
            let name = format!("setting_{round}");
            let candidates: Vec<String> =
                (0..stores.len()).map(|i| format!("value-{round}-{i}")).collect();

            let values = race(&stores, |i, store| store.get_or_insert(&name, &candidates[i]));

            let values: Vec<String> =
                values.into_iter().map(|v| v.expect("get_or_insert")).collect();
            assert!(candidates.contains(&values[0]), "round {round}: {values:?}");
            assert!(values.iter().all(|v| *v == values[0]), "round {round}: {values:?}");
            let later = SettingRepository::get_or_insert(&stores[0], &name, "late").expect("get");
            assert_eq!(later, values[0]);
        }
    }
}

// ---- users by external id ---------------------------------------------------------

both_backends! {
    fn a_user_is_found_by_its_external_id(db: &TestDb) {
        let store = db.store();
        let users: &dyn UserRepository = &store;
        let user = |first_name: &str, external_id: Option<&str>| User {
            id: UserId::generate(),
            first_name: PersonName::parse(first_name).unwrap(),
            last_name: PersonName::parse("Lee").unwrap(),
            phone: None,
            email: None,
            push_token: None,
            external_id: external_id.map(|id| ExternalId::parse(id).unwrap()),
            created_at: at(0),
            updated_at: at(0),
        };
        let ann = user("Ann", Some("crm-1"));
        let bob = user("Bob", Some("crm-2"));
        for u in [&ann, &bob, &user("Carl", None)] {
            users.insert(u).expect("insert");
        }

        assert_eq!(users.find_by_external_id("crm-1").expect("find"), Some(ann));
        assert_eq!(users.find_by_external_id("crm-2").expect("find"), Some(bob));
        assert_eq!(users.find_by_external_id("CRM-1").expect("find in another case"), None);
        assert_eq!(users.find_by_external_id("crm").expect("find a part"), None);
        assert_eq!(users.find_by_external_id("").expect("find an empty one"), None);
    }
}
