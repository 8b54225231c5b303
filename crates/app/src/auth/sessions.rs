//! Logins: password → access and refresh tokens, refresh rotation with reuse
//! detection, logout, and the throttle on failed logins.

use std::sync::Arc;

use chrono::Duration;
use omnichannel_domain::auth::{Admin, LoginThrottle, RefreshState, RefreshToken, Username};
use omnichannel_domain::ports::{
    AdminRepository, Clock, LoginAttemptRepository, RefreshTokenRepository,
};
use omnichannel_domain::{AdminId, TokenFamilyId};

use super::crypto::{PasswordHasher, random_token, secret_hash};
use super::tokens::AccessTokens;
use crate::error::GetError;

/// What a login or a refresh hands out.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown username or wrong password: the two are not told apart.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many failures for this username lately.
    #[error("too many failed logins; retry in {} s", retry_after.num_seconds())]
    Throttled { retry_after: Duration },
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, revoked or replayed.
    #[error("invalid refresh token")]
    Invalid,
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

fn unexpected(error: impl Into<anyhow::Error>) -> anyhow::Error {
    error.into()
}

pub struct Sessions {
    admins: Arc<dyn AdminRepository>,
    refresh_tokens: Arc<dyn RefreshTokenRepository>,
    attempts: Arc<dyn LoginAttemptRepository>,
    hasher: Arc<PasswordHasher>,
    access: Arc<AccessTokens>,
    clock: Arc<dyn Clock>,
    refresh_ttl: Duration,
    throttle: LoginThrottle,
}

/// The ports and settings of [`Sessions`].
pub struct SessionParts {
    pub admins: Arc<dyn AdminRepository>,
    pub refresh_tokens: Arc<dyn RefreshTokenRepository>,
    pub attempts: Arc<dyn LoginAttemptRepository>,
    pub hasher: Arc<PasswordHasher>,
    pub access: Arc<AccessTokens>,
    pub clock: Arc<dyn Clock>,
    pub refresh_ttl: Duration,
    pub throttle: LoginThrottle,
}

impl Sessions {
    pub fn new(parts: SessionParts) -> Self {
        Self {
            admins: parts.admins,
            refresh_tokens: parts.refresh_tokens,
            attempts: parts.attempts,
            hasher: parts.hasher,
            access: parts.access,
            clock: parts.clock,
            refresh_ttl: parts.refresh_ttl,
            throttle: parts.throttle,
        }
    }

    /// Checks the password (as long for an unknown user as for a wrong
    /// password) unless the username is throttled, and opens a new login.
    pub fn login(&self, username: &str, password: &str) -> Result<TokenPair, LoginError> {
        let Ok(username) = Username::parse(username) else {
            // No operator can have this name: nothing to throttle or count.
            self.hasher.verify_nobody(password);
            return Err(LoginError::InvalidCredentials);
        };
        let key = username.as_str();
        let now = self.clock.now();
        let failures = self
            .attempts
            .failures_since(key, self.throttle.since(now))
            .map_err(|e| LoginError::Unexpected(unexpected(e)))?;
        if let Some(retry_after) = self.throttle.retry_after(&failures, now) {
            return Err(LoginError::Throttled { retry_after });
        }
        let admin = self
            .admins
            .find_by_username(key)
            .map_err(|e| LoginError::Unexpected(unexpected(e)))?;
        let admin = match admin {
            Some(admin) if self.hasher.verify(password, &admin.password_hash) => admin,
            Some(_) => return Err(self.failed(key)),
            None => {
                self.hasher.verify_nobody(password);
                return Err(self.failed(key));
            }
        };
        self.attempts
            .clear(key)
            .map_err(|e| LoginError::Unexpected(unexpected(e)))?;
        tracing::info!(admin.id = %admin.id, "operator logged in");
        self.open(admin.id, TokenFamilyId::generate())
            .map_err(LoginError::Unexpected)
    }

    fn failed(&self, key: &str) -> LoginError {
        let now = self.clock.now();
        match self
            .attempts
            .record_failure(key, now, self.throttle.since(now))
        {
            Ok(()) => LoginError::InvalidCredentials,
            Err(error) => LoginError::Unexpected(unexpected(error)),
        }
    }

    /// Exchanges a live refresh token for a new pair of the same login. A token
    /// presented after it was exchanged or revoked revokes the whole login.
    pub fn refresh(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        let now = self.clock.now();
        let hash = secret_hash(refresh_token);
        let Some(stored) = self
            .refresh_tokens
            .find(&hash)
            .map_err(|e| RefreshError::Unexpected(unexpected(e)))?
        else {
            return Err(RefreshError::Invalid);
        };
        match stored.state_at(now) {
            RefreshState::Expired => return Err(RefreshError::Invalid),
            RefreshState::Reused => return Err(self.revoke_reused(&stored)),
            RefreshState::Live => {}
        }
        let won = self
            .refresh_tokens
            .mark_used(&hash, now)
            .map_err(|e| RefreshError::Unexpected(unexpected(e)))?;
        if !won {
            // Another request exchanged it a moment ago: a replay all the same.
            return Err(self.revoke_reused(&stored));
        }
        let still_there = self
            .admins
            .get(stored.admin_id)
            .map_err(|e| RefreshError::Unexpected(unexpected(e)))?;
        if still_there.is_none() {
            return Err(RefreshError::Invalid);
        }
        self.open(stored.admin_id, stored.family_id)
            .map_err(RefreshError::Unexpected)
    }

    fn revoke_reused(&self, stored: &RefreshToken) -> RefreshError {
        tracing::warn!(
            admin.id = %stored.admin_id,
            "a refresh token was presented again; revoking its login"
        );
        match self
            .refresh_tokens
            .revoke_family(stored.family_id, self.clock.now())
        {
            Ok(()) => RefreshError::Invalid,
            Err(error) => RefreshError::Unexpected(unexpected(error)),
        }
    }

    /// Ends the login the refresh token belongs to; an unknown token ends nothing.
    pub fn logout(&self, refresh_token: &str) -> anyhow::Result<()> {
        let stored = self.refresh_tokens.find(&secret_hash(refresh_token))?;
        if let Some(stored) = stored {
            self.refresh_tokens
                .revoke_family(stored.family_id, self.clock.now())?;
        }
        Ok(())
    }

    /// The operator an access token names, if it still exists.
    pub fn me(&self, admin_id: AdminId) -> Result<Admin, GetError> {
        self.admins
            .get(admin_id)
            .map_err(|e| GetError::Unexpected(unexpected(e)))?
            .ok_or(GetError::NotFound)
    }

    fn open(&self, admin_id: AdminId, family_id: TokenFamilyId) -> anyhow::Result<TokenPair> {
        let now = self.clock.now();
        let access = self.access.issue(admin_id, now)?;
        let refresh_token = random_token(32)?;
        self.refresh_tokens.insert(&RefreshToken {
            token_hash: secret_hash(&refresh_token),
            admin_id,
            family_id,
            created_at: now,
            expires_at: now + self.refresh_ttl,
            used_at: None,
            revoked_at: None,
        })?;
        Ok(TokenPair {
            access_token: access.token,
            refresh_token,
            expires_in: access.expires_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::{DateTime, TimeZone, Utc};
    use omnichannel_domain::auth::NewPassword;
    use omnichannel_domain::ports::{
        MockAdminRepository, MockClock, MockLoginAttemptRepository, MockRefreshTokenRepository,
    };

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    const PASSWORD: &str = "correct horse battery";

    fn hasher() -> Arc<PasswordHasher> {
        Arc::new(PasswordHasher::new(4))
    }

    fn admin(hasher: &PasswordHasher) -> Admin {
        let password = NewPassword::parse(PASSWORD.into()).expect("password");
        Admin {
            id: AdminId::generate(),
            username: Username::parse("ops").expect("username"),
            password_hash: hasher.hash(&password).expect("hash"),
            created_at: now(),
            updated_at: now(),
        }
    }

    struct Fakes {
        admins: MockAdminRepository,
        refresh_tokens: MockRefreshTokenRepository,
        attempts: MockLoginAttemptRepository,
        hasher: Arc<PasswordHasher>,
    }

    impl Fakes {
        fn new() -> Self {
            Self {
                admins: MockAdminRepository::new(),
                refresh_tokens: MockRefreshTokenRepository::new(),
                attempts: MockLoginAttemptRepository::new(),
                hasher: hasher(),
            }
        }

        fn sessions(self) -> Sessions {
            let mut clock = MockClock::new();
            clock.expect_now().returning(now);
            Sessions::new(SessionParts {
                admins: Arc::new(self.admins),
                refresh_tokens: Arc::new(self.refresh_tokens),
                attempts: Arc::new(self.attempts),
                hasher: self.hasher,
                access: Arc::new(AccessTokens::new(
                    b"0123456789abcdef0123456789abcdef",
                    "omnichannel",
                    Duration::minutes(15),
                )),
                clock: Arc::new(clock),
                refresh_ttl: Duration::days(30),
                throttle: LoginThrottle::default(),
            })
        }
    }

    #[test]
    fn a_right_password_opens_a_login_and_forgets_failures() {
        let mut fakes = Fakes::new();
        let admin = admin(&fakes.hasher);
        let id = admin.id;
        fakes
            .attempts
            .expect_failures_since()
            .returning(|_, _| Ok(vec![]));
        fakes.attempts.expect_clear().times(1).returning(|_| Ok(()));
        fakes.attempts.expect_record_failure().never();
        fakes
            .admins
            .expect_find_by_username()
            .withf(|name| name == "ops")
            .returning(move |_| Ok(Some(admin.clone())));
        let stored = Arc::new(Mutex::new(None));
        let sink = stored.clone();
        fakes
            .refresh_tokens
            .expect_insert()
            .times(1)
            .returning(move |token| {
                *sink.lock().expect("lock") = Some(token.clone());
                Ok(())
            });
        let pair = fakes.sessions().login("OPS", PASSWORD).expect("logged in");
        let token = stored.lock().expect("lock").clone().expect("stored");
        assert_eq!(token.admin_id, id);
        assert_eq!(token.token_hash, secret_hash(&pair.refresh_token));
        assert_ne!(token.token_hash, pair.refresh_token);
        assert_eq!(token.expires_at, now() + Duration::days(30));
        assert_eq!(pair.expires_in, 900);
    }

    #[test]
    fn unknown_user_and_wrong_password_fail_alike_and_are_counted() {
        for known in [true, false] {
            let mut fakes = Fakes::new();
            let admin = admin(&fakes.hasher);
            fakes
                .attempts
                .expect_failures_since()
                .returning(|_, _| Ok(vec![]));
            fakes
                .attempts
                .expect_record_failure()
                .withf(|name, at, forget| {
                    name == "ops" && *at == now() && *forget == now() - Duration::minutes(15)
                })
                .times(1)
                .returning(|_, _, _| Ok(()));
            fakes
                .admins
                .expect_find_by_username()
                .returning(move |_| Ok(known.then(|| admin.clone())));
            fakes.refresh_tokens.expect_insert().never();
            let result = fakes.sessions().login("ops", "wrong password!");
            assert!(
                matches!(result, Err(LoginError::InvalidCredentials)),
                "known: {known}"
            );
        }
    }

    #[test]
    fn a_name_no_operator_can_have_is_refused_without_being_recorded() {
        let mut fakes = Fakes::new();
        fakes.attempts.expect_failures_since().never();
        fakes.attempts.expect_record_failure().never();
        fakes.admins.expect_find_by_username().never();
        let sessions = fakes.sessions();
        for name in ["x".repeat(10_000).as_str(), "not a username", ""] {
            let result = sessions.login(name, PASSWORD);
            assert!(
                matches!(result, Err(LoginError::InvalidCredentials)),
                "{name}"
            );
        }
    }

    #[test]
    fn a_throttled_username_is_refused_even_with_the_right_password() {
        let mut fakes = Fakes::new();
        let admin = admin(&fakes.hasher);
        let failures: Vec<_> = (0..5).map(|m| now() - Duration::minutes(10 - m)).collect();
        fakes
            .attempts
            .expect_failures_since()
            .returning(move |_, _| Ok(failures.clone()));
        fakes
            .admins
            .expect_find_by_username()
            .returning(move |_| Ok(Some(admin.clone())));
        fakes.refresh_tokens.expect_insert().never();
        match fakes.sessions().login("ops", PASSWORD) {
            Err(LoginError::Throttled { retry_after }) => {
                assert_eq!(retry_after, Duration::minutes(5));
            }
            other => panic!("expected throttled, got {other:?}"),
        }
    }

    fn stored_token(used: bool, expires_in: Duration) -> RefreshToken {
        RefreshToken {
            token_hash: secret_hash("presented"),
            admin_id: AdminId::generate(),
            family_id: TokenFamilyId::generate(),
            created_at: now() - Duration::hours(1),
            expires_at: now() + expires_in,
            used_at: used.then(|| now() - Duration::minutes(1)),
            revoked_at: None,
        }
    }

    #[test]
    fn a_live_refresh_token_rotates_within_its_login() {
        let mut fakes = Fakes::new();
        let stored = stored_token(false, Duration::days(1));
        let (family, admin_id) = (stored.family_id, stored.admin_id);
        let hasher = fakes.hasher.clone();
        fakes
            .refresh_tokens
            .expect_find()
            .returning(move |_| Ok(Some(stored.clone())));
        fakes
            .refresh_tokens
            .expect_mark_used()
            .times(1)
            .returning(|_, _| Ok(true));
        fakes.refresh_tokens.expect_revoke_family().never();
        fakes
            .refresh_tokens
            .expect_insert()
            .withf(move |t| t.family_id == family && t.admin_id == admin_id)
            .times(1)
            .returning(|_| Ok(()));
        fakes.admins.expect_get().returning(move |id| {
            let mut admin = admin(&hasher);
            admin.id = id;
            Ok(Some(admin))
        });
        let pair = fakes.sessions().refresh("presented").expect("rotated");
        assert_ne!(pair.refresh_token, "presented");
    }

    #[test]
    fn a_replayed_refresh_token_revokes_its_login() {
        let mut fakes = Fakes::new();
        let stored = stored_token(true, Duration::days(1));
        let family = stored.family_id;
        fakes
            .refresh_tokens
            .expect_find()
            .returning(move |_| Ok(Some(stored.clone())));
        fakes.refresh_tokens.expect_mark_used().never();
        fakes
            .refresh_tokens
            .expect_revoke_family()
            .withf(move |f, _| *f == family)
            .times(1)
            .returning(|_, _| Ok(()));
        fakes.refresh_tokens.expect_insert().never();
        assert!(matches!(
            fakes.sessions().refresh("presented"),
            Err(RefreshError::Invalid)
        ));
    }

    #[test]
    fn losing_a_race_for_the_same_token_counts_as_a_replay() {
        let mut fakes = Fakes::new();
        let stored = stored_token(false, Duration::days(1));
        fakes
            .refresh_tokens
            .expect_find()
            .returning(move |_| Ok(Some(stored.clone())));
        fakes
            .refresh_tokens
            .expect_mark_used()
            .returning(|_, _| Ok(false));
        fakes
            .refresh_tokens
            .expect_revoke_family()
            .times(1)
            .returning(|_, _| Ok(()));
        fakes.refresh_tokens.expect_insert().never();
        assert!(matches!(
            fakes.sessions().refresh("presented"),
            Err(RefreshError::Invalid)
        ));
    }

    #[test]
    fn an_expired_or_unknown_refresh_token_is_refused_without_revoking() {
        let mut fakes = Fakes::new();
        let stored = stored_token(false, Duration::seconds(-1));
        fakes
            .refresh_tokens
            .expect_find()
            .times(1)
            .returning(move |_| Ok(Some(stored.clone())));
        fakes.refresh_tokens.expect_find().returning(|_| Ok(None));
        fakes.refresh_tokens.expect_revoke_family().never();
        fakes.refresh_tokens.expect_mark_used().never();
        let sessions = fakes.sessions();
        assert!(matches!(
            sessions.refresh("presented"),
            Err(RefreshError::Invalid)
        ));
        assert!(matches!(
            sessions.refresh("unknown"),
            Err(RefreshError::Invalid)
        ));
    }
}
