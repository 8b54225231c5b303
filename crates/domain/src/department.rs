//! The `Department` aggregate and its two policies: favourite sources and
//! contact-frequency rules.

use chrono::{DateTime, Duration, Utc};

use crate::ids::{DepartmentId, RuleId, SourceId, TypeId};
use crate::validation::{InvalidValue, ValidationErrors};
use crate::values::Name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub id: DepartmentId,
    pub name: Name,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A channel a department prefers for a type; lower `priority` is tried first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FavoriteSource {
    pub department_id: DepartmentId,
    pub type_id: TypeId,
    pub source_id: SourceId,
    pub priority: i32,
}

impl FavoriteSource {
    pub const MAX_PRIORITY: i64 = 1_000_000;

    pub fn parse_priority(value: i64) -> Result<i32, InvalidValue> {
        if !(0..=Self::MAX_PRIORITY).contains(&value) {
            return Err(InvalidValue::new(format!(
                "must be between 0 and {}",
                Self::MAX_PRIORITY
            )));
        }
        i32::try_from(value).map_err(|_| InvalidValue::new("is out of range"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Second,
    Minute,
    Hour,
    Day,
}

impl TimeUnit {
    pub const ALL: [Self; 4] = [Self::Second, Self::Minute, Self::Hour, Self::Day];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|unit| unit.as_str() == value)
            .ok_or_else(|| InvalidValue::new("must be one of: second, minute, hour, day"))
    }

    pub const fn seconds(self) -> i64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }
}

/// "At most `limit_per_unit` communications in any window of `units_count × unit`."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleLimit {
    limit_per_unit: u32,
    unit: TimeUnit,
    units_count: u32,
}

impl RuleLimit {
    pub const MAX_LIMIT: i64 = 1_000_000;
    /// The longest window a rule may have: one leap year.
    pub const MAX_WINDOW_SECS: i64 = 366 * 86_400;

    /// Validates the three fields together; errors are named by field.
    pub fn new(
        limit_per_unit: i64,
        unit: TimeUnit,
        units_count: i64,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if !(1..=Self::MAX_LIMIT).contains(&limit_per_unit) {
            errors.add(
                "limit_per_unit",
                format!("must be between 1 and {}", Self::MAX_LIMIT),
            );
        }
        if units_count < 1 {
            errors.add("units_count", "must be at least 1");
        } else if units_count.saturating_mul(unit.seconds()) > Self::MAX_WINDOW_SECS {
            errors.add("units_count", "the window must not be longer than 366 days");
        }
        match (u32::try_from(limit_per_unit), u32::try_from(units_count)) {
            (Ok(limit_per_unit), Ok(units_count)) if errors.is_empty() => Ok(Self {
                limit_per_unit,
                unit,
                units_count,
            }),
            _ => Err(errors),
        }
    }

    pub const fn limit_per_unit(&self) -> u32 {
        self.limit_per_unit
    }

    pub const fn unit(&self) -> TimeUnit {
        self.unit
    }

    pub const fn units_count(&self) -> u32 {
        self.units_count
    }

    /// The length of the sliding window.
    pub fn window(&self) -> Duration {
        Duration::seconds(i64::from(self.units_count) * self.unit.seconds())
    }
}

/// A department's contact-frequency rule; without a type it covers every type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: RuleId,
    pub department_id: DepartmentId,
    pub type_id: Option<TypeId>,
    pub limit: RuleLimit,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Rule {
    /// Whether the rule counts communications of `type_id`.
    pub fn applies_to(&self, type_id: TypeId) -> bool {
        self.type_id.is_none_or(|own| own == type_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_units_count_times_unit() {
        let rule = RuleLimit::new(3, TimeUnit::Hour, 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rule.window(), Duration::hours(2));
        let rule = RuleLimit::new(1, TimeUnit::Day, 366).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rule.window(), Duration::days(366));
    }

    #[test]
    fn bounds_are_named_by_field() {
        let errors = RuleLimit::new(0, TimeUnit::Minute, 0)
            .err()
            .unwrap_or_default();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit_per_unit", "units_count"]);

        let errors = RuleLimit::new(1, TimeUnit::Day, 367)
            .err()
            .unwrap_or_default();
        assert_eq!(errors.errors()[0].field, "units_count");
        assert!(RuleLimit::new(1_000_001, TimeUnit::Second, 1).is_err());
        assert!(RuleLimit::new(1, TimeUnit::Second, i64::MAX).is_err());
    }

    #[test]
    fn a_rule_without_type_applies_to_every_type() {
        let limit = RuleLimit::new(1, TimeUnit::Day, 1).unwrap_or_else(|e| panic!("{e}"));
        let (a, b) = (TypeId::generate(), TypeId::generate());
        let mut rule = Rule {
            id: RuleId::generate(),
            department_id: DepartmentId::generate(),
            type_id: None,
            limit,
            created_at: DateTime::<Utc>::MIN_UTC,
            updated_at: DateTime::<Utc>::MIN_UTC,
        };
        assert!(rule.applies_to(a) && rule.applies_to(b));
        rule.type_id = Some(a);
        assert!(rule.applies_to(a) && !rule.applies_to(b));
    }

    #[test]
    fn priority_is_bounded() {
        assert_eq!(FavoriteSource::parse_priority(0), Ok(0));
        assert!(FavoriteSource::parse_priority(-1).is_err());
        assert!(FavoriteSource::parse_priority(1_000_001).is_err());
    }
}
