//! Operators, their sessions and the keys of the public API: values and policies.
//! Hashing and signing are adapters' work; here are the rules they follow.

use chrono::{DateTime, Duration, Utc};

use crate::ids::{AdminId, ApiKeyId, TokenFamilyId};
use crate::validation::InvalidValue;
use crate::values::Name;

/// An operator's login name: 1 to 64 of `a-z 0-9 . _ @ -`, kept in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let lower = value.to_lowercase();
        let valid = (1..=64).contains(&lower.len())
            && lower.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'.' | b'_' | b'@' | b'-')
            });
        if !valid {
            return Err(InvalidValue::new(
                "must be 1 to 64 characters of a-z, 0-9, '.', '_', '@' and '-'",
            ));
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password being set: at least 12 characters, at most 72 bytes (what bcrypt reads).
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_BYTES: usize = 72;

    pub fn parse(value: String) -> Result<Self, InvalidValue> {
        if value.chars().count() < Self::MIN_CHARS {
            return Err(InvalidValue::new(format!(
                "must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        if value.len() > Self::MAX_BYTES {
            return Err(InvalidValue::new(format!(
                "must be at most {} bytes",
                Self::MAX_BYTES
            )));
        }
        Ok(Self(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// An operator of the admin API. `password_hash` is a bcrypt hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub id: AdminId,
    pub username: Username,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored refresh token: only the hash of the value handed out is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub admin_id: AdminId,
    pub family_id: TokenFamilyId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set when it was exchanged for a new pair.
    pub used_at: Option<DateTime<Utc>>,
    /// Set by logout, password change or reuse detection.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What presenting a refresh token means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshState {
    /// It may be exchanged once.
    Live,
    /// It was exchanged or revoked before: someone replays it, so its whole
    /// family must die.
    Reused,
    /// It ran out unused: refused, nothing else happens.
    Expired,
}

impl RefreshToken {
    pub fn state_at(&self, now: DateTime<Utc>) -> RefreshState {
        if self.used_at.is_some() || self.revoked_at.is_some() {
            RefreshState::Reused
        } else if now >= self.expires_at {
            RefreshState::Expired
        } else {
            RefreshState::Live
        }
    }
}

/// A key of the public API. `key` is public (an identifier); only a hash of
/// the secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: Name,
    pub key: String,
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// "After `max_failures` failed logins for one username within `window`, refuse
/// every login for it until the oldest of them leaves the window."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub max_failures: usize,
    pub window: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::minutes(15),
        }
    }
}

impl LoginThrottle {
    /// The start of the window that matters at `now`.
    pub fn since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.window
    }

    /// How long logins stay refused, given the failures recorded for the
    /// username; `None` when a login may be tried now.
    pub fn retry_after(&self, failures: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<Duration> {
        let mut recent: Vec<_> = failures
            .iter()
            .copied()
            .filter(|&at| at > self.since(now) && at <= now)
            .collect();
        if self.max_failures == 0 || recent.len() < self.max_failures {
            return None;
        }
        recent.sort_unstable();
        // Refused until so few remain that one more try would be allowed.
        let pivot = recent[recent.len() - self.max_failures];
        Some(pivot + self.window - now)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::minutes(minute)
    }

    #[test]
    fn usernames_are_lowercase_slugs() {
        assert_eq!(
            Username::parse("Admin").map(|u| u.0),
            Ok("admin".to_owned())
        );
        assert!(Username::parse("ops.team-1@corp").is_ok());
        for bad in ["", "a b", "ünicode", &"a".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn new_passwords_are_long_enough_and_fit_bcrypt() {
        assert!(NewPassword::parse("short-pass1".into()).is_err());
        assert!(NewPassword::parse("twelve-chars".into()).is_ok());
        assert!(NewPassword::parse("ж".repeat(36)).is_ok());
        assert!(NewPassword::parse("ж".repeat(37)).is_err());
        assert_eq!(
            format!("{:?}", NewPassword::parse("twelve-chars".into())),
            "Ok(NewPassword(***))"
        );
    }

    #[test]
    fn five_failures_within_the_window_throttle_until_the_oldest_leaves() {
        let throttle = LoginThrottle::default();
        let four = [t(0), t(1), t(2), t(3)];
        assert_eq!(throttle.retry_after(&four, t(4)), None);
        let five = [t(0), t(1), t(2), t(3), t(4)];
        assert_eq!(
            throttle.retry_after(&five, t(4)),
            Some(Duration::minutes(11))
        );
        assert_eq!(
            throttle.retry_after(&five, t(14)),
            Some(Duration::minutes(1))
        );
        // At exactly 15 minutes the oldest has left the window.
        assert_eq!(throttle.retry_after(&five, t(15)), None);
    }

    #[test]
    fn more_failures_keep_the_throttle_on_longer() {
        let throttle = LoginThrottle::default();
        let seven = [t(0), t(1), t(2), t(3), t(4), t(5), t(6)];
        assert_eq!(
            throttle.retry_after(&seven, t(16)),
            Some(Duration::minutes(1))
        );
        assert_eq!(throttle.retry_after(&seven, t(17)), None);
        let old = [t(-30), t(-29), t(-28), t(-27), t(-26)];
        assert_eq!(throttle.retry_after(&old, t(0)), None);
    }

    #[test]
    fn a_refresh_token_is_live_once() {
        let mut token = RefreshToken {
            token_hash: "h".into(),
            admin_id: AdminId::generate(),
            family_id: TokenFamilyId::generate(),
            created_at: t(0),
            expires_at: t(60),
            used_at: None,
            revoked_at: None,
        };
        assert_eq!(token.state_at(t(59)), RefreshState::Live);
        assert_eq!(token.state_at(t(60)), RefreshState::Expired);
        token.used_at = Some(t(10));
        assert_eq!(token.state_at(t(20)), RefreshState::Reused);
        token.used_at = None;
        token.revoked_at = Some(t(10));
        assert_eq!(token.state_at(t(70)), RefreshState::Reused);
    }
}
