//! The dispatch decision: the one policy behind sending, booking, rescheduling,
//! preview and next slot (SPEC §3).
//!
//! [`decide`] applies, in order: the type blocked → the client's availability
//! → every rule of the department that matches the type (counting sent,
//! in-flight and booked communications) → the channel. It is pure: the caller
//! loads the state and passes the moment to decide for.

use chrono::{DateTime, Duration, Utc};

use crate::availability::Availability;
use crate::communication::StatusReason;
use crate::department::{FavoriteSource, Rule};
use crate::dictionary::{AddressField, CommunicationSource, CommunicationType, DictionaryStatus};
use crate::ids::{SourceId, TypeId};
use crate::rate::{RuleLoad, WindowLimit, earliest_slot};
use crate::user::User;

/// A channel as this installation serves it.
#[derive(Debug, Clone, Copy)]
pub struct Channel<'a> {
    pub source: &'a CommunicationSource,
    /// Whether a provider serves it (its provider is not `none`).
    pub enabled: bool,
}

/// A communication of the client in the department that the rules count: sent
/// (at `sent_at`), in flight (at its reserved moment) or booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub at: DateTime<Utc>,
    pub type_id: TypeId,
}

/// Everything the decision looks at, for one client in one department.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// The communication's type; `None` asks about every rule (next slot).
    pub communication_type: Option<&'a CommunicationType>,
    pub user: &'a User,
    pub availability: &'a Availability,
    /// The department's rules; those that match the type apply.
    pub rules: &'a [Rule],
    /// The client's counted communications in the department, not counting
    /// the one being decided.
    pub counted: &'a [Counted],
    /// The channel the caller asked for: no other is tried.
    pub requested: Option<SourceId>,
    /// The department's favourite sources (of any type).
    pub favorites: &'a [FavoriteSource],
    /// Every channel, blocked or not.
    pub channels: &'a [Channel<'a>],
    /// Channels already given up on for this communication.
    pub given_up: &'a [SourceId],
}

/// What to do with a communication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send now on `channel` to `to` (`None` for a channel that takes no
    /// address: its provider receives the client's id).
    Send {
        channel: SourceId,
        to: Option<String>,
        /// The favourites passed over before it, and why.
        skipped: Vec<(SourceId, Skip)>,
    },
    /// Try again at `until`.
    Defer {
        until: DateTime<Utc>,
        reason: StatusReason,
    },
    /// Give up.
    Fail { reason: StatusReason },
}

/// Why a favourite channel was passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Blocked,
    /// Its provider is `none`.
    Disabled,
    /// The client has no address for it.
    NoAddress,
    /// Its provider failed for this communication already.
    GivenUp,
}

impl Skip {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Blocked => "blocked",
            Self::Disabled => "switched off",
            Self::NoAddress => "no address",
            Self::GivenUp => "failed already",
        }
    }
}

/// Whether the client may be contacted at `at`, before the channel is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Allowed,
    Defer(DateTime<Utc>, StatusReason),
    Refused(StatusReason),
}

/// The decision for a communication at `at`: a deferral more than `horizon`
/// after `at` fails instead.
pub fn decide(situation: &Situation<'_>, at: DateTime<Utc>, horizon: Duration) -> Decision {
    match admit(situation, at, at + horizon) {
        Admission::Allowed => {
            choose_channel(situation).unwrap_or_else(|reason| Decision::Fail { reason })
        }
        Admission::Defer(until, reason) => Decision::Defer { until, reason },
        Admission::Refused(reason) => Decision::Fail { reason },
    }
}

/// The earliest moment at or after `from`, and no later than `from + horizon`,
/// when the client is available and every rule allows one more; else why not
/// (`user_blocked`, `rate_limited` or `type_blocked`). The channel is not
/// looked at.
pub fn next_slot(
    situation: &Situation<'_>,
    from: DateTime<Utc>,
    horizon: Duration,
) -> Result<DateTime<Utc>, StatusReason> {
    let latest = from + horizon;
    let mut at = from;
    // Each round moves past a blocked period or a full window, and a later
    // round only starts after it; the bound keeps a pathological input finite.
    for _ in 0..1_000 {
        match admit(situation, at, latest) {
            Admission::Allowed => return Ok(at),
            Admission::Defer(until, _) => at = until,
            Admission::Refused(reason) => return Err(reason),
        }
    }
    Err(StatusReason::RateLimited)
}

/// The type, availability and rules at `at`; a wait that ends after `latest`
/// is refused.
fn admit(situation: &Situation<'_>, at: DateTime<Utc>, latest: DateTime<Utc>) -> Admission {
    if situation
        .communication_type
        .is_some_and(|t| t.status == DictionaryStatus::Blocked)
    {
        return Admission::Refused(StatusReason::TypeBlocked);
    }
    if situation.availability.is_unavailable_at(at) {
        return match situation.availability.available_from(at) {
            Some(until) if until <= latest => {
                Admission::Defer(until, StatusReason::UserUnavailable)
            }
            _ => Admission::Refused(StatusReason::UserBlocked),
        };
    }
    let slot = free_slot(situation, at);
    if slot == at {
        Admission::Allowed
    } else if slot <= latest {
        Admission::Defer(slot, StatusReason::RateLimited)
    } else {
        Admission::Refused(StatusReason::RateLimited)
    }
}

/// The earliest moment at or after `at` when every applicable rule allows one more.
fn free_slot(situation: &Situation<'_>, at: DateTime<Utc>) -> DateTime<Utc> {
    let rules: Vec<&Rule> = situation
        .rules
        .iter()
        .filter(|rule| {
            situation
                .communication_type
                .is_none_or(|t| rule.applies_to(t.id))
        })
        .collect();
    let counted: Vec<Vec<DateTime<Utc>>> = rules
        .iter()
        .map(|rule| {
            situation
                .counted
                .iter()
                .filter(|c| rule.applies_to(c.type_id))
                .map(|c| c.at)
                .collect()
        })
        .collect();
    let loads: Vec<RuleLoad<'_>> = rules
        .iter()
        .zip(&counted)
        .map(|(rule, counted)| RuleLoad {
            limit: WindowLimit::from(&rule.limit),
            counted,
        })
        .collect();
    earliest_slot(&loads, at)
}

/// `Send` on the requested channel, else on the first usable favourite for
/// the type; else why none is left.
fn choose_channel(situation: &Situation<'_>) -> Result<Decision, StatusReason> {
    let find = |id: SourceId| situation.channels.iter().find(|c| c.source.id == id);
    if let Some(id) = situation.requested {
        let channel = find(id).ok_or(StatusReason::NoChannel)?;
        return match usable(situation, channel) {
            Ok(to) => Ok(Decision::Send {
                channel: id,
                to,
                skipped: Vec::new(),
            }),
            Err(Skip::Blocked) => Err(StatusReason::ChannelBlocked),
            Err(Skip::GivenUp) => Err(StatusReason::ProviderError),
            Err(Skip::Disabled | Skip::NoAddress) => Err(StatusReason::NoChannel),
        };
    }
    let Some(type_id) = situation.communication_type.map(|t| t.id) else {
        return Err(StatusReason::NoChannel);
    };
    let mut favorites: Vec<&FavoriteSource> = situation
        .favorites
        .iter()
        .filter(|f| f.type_id == type_id)
        .collect();
    favorites.sort_by_key(|f| (f.priority, f.source_id));
    let mut skipped = Vec::new();
    for favorite in favorites {
        let Some(channel) = find(favorite.source_id) else {
            continue;
        };
        match usable(situation, channel) {
            Ok(to) => {
                return Ok(Decision::Send {
                    channel: favorite.source_id,
                    to,
                    skipped,
                });
            }
            Err(skip) => skipped.push((favorite.source_id, skip)),
        }
    }
    if skipped.iter().any(|(_, skip)| *skip == Skip::GivenUp) {
        Err(StatusReason::ProviderError)
    } else {
        Err(StatusReason::NoChannel)
    }
}

/// The client's address on `channel`, or why the channel cannot be used.
fn usable(situation: &Situation<'_>, channel: &Channel<'_>) -> Result<Option<String>, Skip> {
    if channel.source.status == DictionaryStatus::Blocked {
        return Err(Skip::Blocked);
    }
    if situation.given_up.contains(&channel.source.id) {
        return Err(Skip::GivenUp);
    }
    if !channel.enabled {
        return Err(Skip::Disabled);
    }
    let user = situation.user;
    let address = match channel.source.kind.address_field() {
        AddressField::Phone => user.phone.as_ref().map(|v| v.as_str().to_owned()),
        AddressField::Email => user.email.as_ref().map(|v| v.as_str().to_owned()),
        AddressField::PushToken => user.push_token.as_ref().map(|v| v.as_str().to_owned()),
        AddressField::None => return Ok(None),
    };
    address.map(Some).ok_or(Skip::NoAddress)
}
