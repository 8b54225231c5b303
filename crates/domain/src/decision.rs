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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::availability::AvailabilityStatus;
    use crate::department::{RuleLimit, TimeUnit};
    use crate::dictionary::SourceKind;
    use crate::ids::{DepartmentId, RuleId, UserId};
    use crate::values::{Code, Email, Name, PersonName, Phone};

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::minutes(minute)
    }

    fn horizon() -> Duration {
        Duration::days(7)
    }

    fn source(code: &str, kind: SourceKind) -> CommunicationSource {
        CommunicationSource {
            id: SourceId::generate(),
            code: Code::parse(code).unwrap_or_else(|e| panic!("{e}")),
            name: Name::parse(code).unwrap_or_else(|e| panic!("{e}")),
            kind,
            status: DictionaryStatus::Active,
            created_at: t(0),
            updated_at: t(0),
        }
    }

    fn rule(limit: i64, unit: TimeUnit, count: i64, type_id: Option<TypeId>) -> Rule {
        Rule {
            id: RuleId::generate(),
            department_id: DepartmentId::generate(),
            type_id,
            limit: RuleLimit::new(limit, unit, count).unwrap_or_else(|e| panic!("{e}")),
            created_at: t(0),
            updated_at: t(0),
        }
    }

    /// A client with a phone and no e-mail, a type, and three channels: sms,
    /// email and webhook, the department preferring email, then sms.
    struct World {
        kind: CommunicationType,
        other_kind: TypeId,
        user: User,
        availability: Availability,
        rules: Vec<Rule>,
        counted: Vec<Counted>,
        requested: Option<SourceId>,
        favorites: Vec<FavoriteSource>,
        sources: Vec<CommunicationSource>,
        disabled: Vec<SourceId>,
        given_up: Vec<SourceId>,
    }

    impl World {
        fn new() -> Self {
            let kind = CommunicationType {
                id: TypeId::generate(),
                code: Code::parse("mass").unwrap_or_else(|e| panic!("{e}")),
                name: Name::parse("Mass").unwrap_or_else(|e| panic!("{e}")),
                status: DictionaryStatus::Active,
                created_at: t(0),
                updated_at: t(0),
            };
            let user = User {
                id: UserId::generate(),
                first_name: PersonName::parse("Ann").unwrap_or_else(|e| panic!("{e}")),
                last_name: PersonName::parse("Lee").unwrap_or_else(|e| panic!("{e}")),
                phone: Some(Phone::parse("+15551234567").unwrap_or_else(|e| panic!("{e}"))),
                email: None,
                push_token: None,
                external_id: None,
                created_at: t(0),
                updated_at: t(0),
            };
            let sources = vec![
                source("sms", SourceKind::Sms),
                source("email", SourceKind::Email),
                source("hook", SourceKind::Webhook),
            ];
            let department_id = DepartmentId::generate();
            let favorites = [(1, 1), (0, 2)]
                .into_iter()
                .map(|(index, priority)| FavoriteSource {
                    department_id,
                    type_id: kind.id,
                    source_id: sources[index].id,
                    priority,
                })
                .collect();
            Self {
                availability: Availability::always(user.id),
                kind,
                other_kind: TypeId::generate(),
                user,
                rules: Vec::new(),
                counted: Vec::new(),
                requested: None,
                favorites,
                sources,
                disabled: Vec::new(),
                given_up: Vec::new(),
            }
        }

        fn sms(&self) -> SourceId {
            self.sources[0].id
        }

        fn email(&self) -> SourceId {
            self.sources[1].id
        }

        fn hook(&self) -> SourceId {
            self.sources[2].id
        }

        fn with_email(mut self) -> Self {
            self.user.email =
                Some(Email::parse("ann@example.com").unwrap_or_else(|e| panic!("{e}")));
            self
        }

        fn blocked(mut self, from: Option<i64>, to: Option<i64>) -> Self {
            self.availability = Availability::new(
                self.user.id,
                AvailabilityStatus::Blocked,
                from.map(t),
                to.map(t),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            self
        }

        fn counted_at(mut self, minutes: &[i64]) -> Self {
            let type_id = self.kind.id;
            self.counted
                .extend(minutes.iter().map(|&m| Counted { at: t(m), type_id }));
            self
        }

        fn with_rule(mut self, rule: Rule) -> Self {
            self.rules.push(rule);
            self
        }

        fn decide(&self, at: DateTime<Utc>) -> Decision {
            let channels: Vec<Channel<'_>> = self
                .sources
                .iter()
                .map(|source| Channel {
                    source,
                    enabled: !self.disabled.contains(&source.id),
                })
                .collect();
            decide(&self.situation(&channels), at, horizon())
        }

        fn next_slot(&self, from: DateTime<Utc>) -> Result<DateTime<Utc>, StatusReason> {
            let channels: Vec<Channel<'_>> = self
                .sources
                .iter()
                .map(|source| Channel {
                    source,
                    enabled: true,
                })
                .collect();
            next_slot(&self.situation(&channels), from, horizon())
        }

        fn situation<'a>(&'a self, channels: &'a [Channel<'a>]) -> Situation<'a> {
            Situation {
                communication_type: Some(&self.kind),
                user: &self.user,
                availability: &self.availability,
                rules: &self.rules,
                counted: &self.counted,
                requested: self.requested,
                favorites: &self.favorites,
                channels,
                given_up: &self.given_up,
            }
        }
    }

    fn sent_on(decision: &Decision) -> Option<SourceId> {
        match decision {
            Decision::Send { channel, .. } => Some(*channel),
            _ => None,
        }
    }

    #[test]
    fn sends_on_the_first_usable_favourite_and_says_what_it_passed_over() {
        let world = World::new();
        let decision = world.decide(t(0));
        assert_eq!(
            decision,
            Decision::Send {
                channel: world.sms(),
                to: Some("+15551234567".to_owned()),
                skipped: vec![(world.email(), Skip::NoAddress)],
            }
        );
        let world = World::new().with_email();
        assert_eq!(sent_on(&world.decide(t(0))), Some(world.email()));
    }

    #[test]
    fn a_blocked_type_fails_before_anything_else() {
        let mut world = World::new().blocked(None, None);
        world.kind.status = DictionaryStatus::Blocked;
        assert_eq!(
            world.decide(t(0)),
            Decision::Fail {
                reason: StatusReason::TypeBlocked
            }
        );
    }

    #[test]
    fn an_unavailable_client_waits_for_the_end_of_the_block_or_fails() {
        let world = World::new().blocked(Some(-10), Some(30));
        assert_eq!(
            world.decide(t(0)),
            Decision::Defer {
                until: t(30),
                reason: StatusReason::UserUnavailable
            }
        );
        // `blocked_to` is exclusive: at that very moment the client is available.
        assert!(sent_on(&world.decide(t(30))).is_some());
        let forever = World::new().blocked(Some(-10), None);
        assert_eq!(
            forever.decide(t(0)),
            Decision::Fail {
                reason: StatusReason::UserBlocked
            }
        );
        // A block that ends beyond the horizon fails as one with no end.
        let long = World::new().blocked(None, Some(7 * 24 * 60 + 1));
        assert_eq!(
            long.decide(t(0)),
            Decision::Fail {
                reason: StatusReason::UserBlocked
            }
        );
        let exactly = World::new().blocked(None, Some(7 * 24 * 60));
        assert!(matches!(exactly.decide(t(0)), Decision::Defer { .. }));
    }

    #[test]
    fn a_full_window_defers_to_its_end_and_the_edge_is_free() {
        let world = World::new()
            .with_rule(rule(3, TimeUnit::Minute, 1, None))
            .counted_at(&[0, 0, 0]);
        assert_eq!(
            world.decide(t(0)),
            Decision::Defer {
                until: t(1),
                reason: StatusReason::RateLimited
            }
        );
        assert!(sent_on(&world.decide(t(1))).is_some());
        let two_left = World::new()
            .with_rule(rule(3, TimeUnit::Minute, 1, None))
            .counted_at(&[0, 0]);
        assert!(sent_on(&two_left.decide(t(0))).is_some());
    }

    #[test]
    fn a_booked_moment_holds_back_an_earlier_send() {
        let world = World::new()
            .with_rule(rule(1, TimeUnit::Hour, 1, None))
            .counted_at(&[30]);
        assert_eq!(
            world.decide(t(0)),
            Decision::Defer {
                until: t(90),
                reason: StatusReason::RateLimited
            }
        );
        assert!(sent_on(&world.decide(t(-30))).is_some());
    }

    #[test]
    fn every_rule_must_hold_and_each_counts_only_its_type() {
        let world = World::new()
            .with_rule(rule(1, TimeUnit::Minute, 10, None))
            .with_rule(rule(2, TimeUnit::Day, 1, None))
            .counted_at(&[0, 20]);
        // The ten-minute rule frees at 30, the daily one only a day after 0.
        assert_eq!(
            world.decide(t(25)),
            Decision::Defer {
                until: t(24 * 60),
                reason: StatusReason::RateLimited
            }
        );
        let mut other = World::new();
        let other_kind = other.other_kind;
        other = other.with_rule(rule(1, TimeUnit::Hour, 1, Some(other_kind)));
        other.counted.push(Counted {
            at: t(0),
            type_id: other_kind,
        });
        // The rule is about another type: it neither applies nor counts.
        assert!(sent_on(&other.decide(t(1))).is_some());
        let mut typed = World::new();
        let own = typed.kind.id;
        typed = typed.with_rule(rule(1, TimeUnit::Hour, 1, Some(own)));
        typed.counted.push(Counted {
            at: t(0),
            type_id: other_kind,
        });
        // A typed rule does not count communications of other types.
        assert!(sent_on(&typed.decide(t(1))).is_some());
    }

    #[test]
    fn a_slot_beyond_the_horizon_fails() {
        let world = World::new()
            .with_rule(rule(1, TimeUnit::Day, 8, None))
            .counted_at(&[0]);
        assert_eq!(
            world.decide(t(1)),
            Decision::Fail {
                reason: StatusReason::RateLimited
            }
        );
        let within = World::new()
            .with_rule(rule(1, TimeUnit::Day, 7, None))
            .counted_at(&[0]);
        assert_eq!(
            within.decide(t(0)),
            Decision::Defer {
                until: t(7 * 24 * 60),
                reason: StatusReason::RateLimited
            }
        );
    }

    #[test]
    fn channels_blocked_switched_off_or_given_up_are_passed_over() {
        let mut world = World::new().with_email();
        world.sources[1].status = DictionaryStatus::Blocked;
        assert_eq!(
            world.decide(t(0)),
            Decision::Send {
                channel: world.sms(),
                to: Some("+15551234567".to_owned()),
                skipped: vec![(world.email(), Skip::Blocked)],
            }
        );
        let mut off = World::new().with_email();
        off.disabled.push(off.email());
        assert_eq!(sent_on(&off.decide(t(0))), Some(off.sms()));
        let mut failed = World::new().with_email();
        failed.given_up.push(failed.email());
        assert_eq!(sent_on(&failed.decide(t(0))), Some(failed.sms()));
        failed.given_up.push(failed.sms());
        assert_eq!(
            failed.decide(t(0)),
            Decision::Fail {
                reason: StatusReason::ProviderError
            }
        );
        let mut none = World::new();
        none.disabled.push(none.sms());
        assert_eq!(
            none.decide(t(0)),
            Decision::Fail {
                reason: StatusReason::NoChannel
            }
        );
    }

    #[test]
    fn the_requested_channel_is_the_only_one_tried() {
        let mut world = World::new();
        world.requested = Some(world.hook());
        assert_eq!(
            world.decide(t(0)),
            Decision::Send {
                channel: world.hook(),
                to: None,
                skipped: Vec::new(),
            }
        );
        world.requested = Some(world.email());
        assert_eq!(
            world.decide(t(0)),
            Decision::Fail {
                reason: StatusReason::NoChannel
            }
        );
        world.sources[1].status = DictionaryStatus::Blocked;
        assert_eq!(
            world.decide(t(0)),
            Decision::Fail {
                reason: StatusReason::ChannelBlocked
            }
        );
        world.requested = Some(world.sms());
        world.given_up.push(world.sms());
        assert_eq!(
            world.decide(t(0)),
            Decision::Fail {
                reason: StatusReason::ProviderError
            }
        );
    }

    #[test]
    fn next_slot_passes_blocks_and_full_windows_alike() {
        // Blocked until 30; at 30 the hourly window of the booking at 60 is full.
        let world = World::new()
            .blocked(None, Some(30))
            .with_rule(rule(1, TimeUnit::Hour, 1, None))
            .counted_at(&[60]);
        assert_eq!(world.next_slot(t(0)), Ok(t(120)));
        assert_eq!(World::new().next_slot(t(5)), Ok(t(5)));
        assert_eq!(
            World::new().blocked(None, None).next_slot(t(0)),
            Err(StatusReason::UserBlocked)
        );
        let full = World::new()
            .with_rule(rule(1, TimeUnit::Day, 8, None))
            .counted_at(&[0]);
        assert_eq!(full.next_slot(t(0)), Err(StatusReason::RateLimited));
    }
}
