//! Validated values: each can only be built through `parse`, so an invalid one
//! never exists inside the domain.

use std::fmt;
use std::str::FromStr;

use crate::validation::InvalidValue;

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: impl Into<String>) -> Result<Self, InvalidValue> {
                let value = value.into();
                let check: fn(&str) -> Result<(), InvalidValue> = $check;
                check(&value)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn max_chars(value: &str, max: usize) -> Result<(), InvalidValue> {
    if value.chars().count() > max {
        return Err(InvalidValue::new(format!(
            "must be at most {max} characters"
        )));
    }
    Ok(())
}

fn non_blank(value: &str) -> Result<(), InvalidValue> {
    if value.trim().is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    Ok(())
}

string_value!(
    /// A first or last name of a client: at most 200 characters, may be empty.
    PersonName,
    |value| max_chars(value, 200)
);

string_value!(
    /// The name of a dictionary entry or department: 1 to 200 characters.
    Name,
    |value| {
        non_blank(value)?;
        max_chars(value, 200)
    }
);

string_value!(
    /// A phone number in E.164: `+` then 8 to 15 digits, the first not zero.
    Phone,
    |value| {
        let digits = value
            .strip_prefix('+')
            .ok_or_else(|| InvalidValue::new("must be in E.164 format: + then 8 to 15 digits"))?;
        let valid = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !valid {
            return Err(InvalidValue::new("must be in E.164 format: + then 8 to 15 digits"));
        }
        Ok(())
    }
);

string_value!(
    /// An e-mail address (RFC 5321/5322 syntax, with a dotted domain).
    Email,
    |value| {
        let address = email_address::EmailAddress::from_str(value)
            .map_err(|_| InvalidValue::new("must be a valid e-mail address"))?;
        let domain = address.domain();
        let plain = address.as_str() == value
            && !value.contains(char::is_whitespace)
            && domain.contains('.')
            && !domain.starts_with('[');
        if !plain {
            return Err(InvalidValue::new("must be a valid e-mail address"));
        }
        max_chars(value, 254)
    }
);

string_value!(
    /// A dictionary code: a slug of `[a-z0-9_]`, 1 to 64 characters.
    Code,
    |value| {
        let valid = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            return Err(InvalidValue::new(
                "must be 1 to 64 characters of a-z, 0-9 and _",
            ));
        }
        Ok(())
    }
);

string_value!(
    /// The text of a communication: 1 to 10 000 characters.
    Message,
    |value| {
        non_blank(value)?;
        max_chars(value, 10_000)
    }
);

string_value!(
    /// The address of a client for the push channel: 1 to 4096 characters.
    PushToken,
    |value| {
        non_blank(value)?;
        max_chars(value, 4096)
    }
);

string_value!(
    /// The id of a client in the system it came from: 1 to 255 characters.
    ExternalId,
    |value| {
        non_blank(value)?;
        max_chars(value, 255)
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_accepts_e164_only() {
        assert!(Phone::parse("+79991234567").is_ok());
        assert!(Phone::parse("+12345678").is_ok());
        assert!(Phone::parse("+123456789012345").is_ok());
        for bad in [
            "79991234567",
            "+1234567",
            "+1234567890123456",
            "+0123456789",
            "+7 999 123 45 67",
            "+7999123456a",
            "",
            "+",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn email_needs_a_plain_address_with_a_dotted_domain() {
        assert!(Email::parse("ann@example.com").is_ok());
        assert!(Email::parse("ann.lee+tag@mail.example.org").is_ok());
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "ann @example.com",
            "Ann <ann@example.com>",
            "ann@@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn code_is_a_lowercase_slug() {
        assert!(Code::parse("commercial_survey").is_ok());
        assert!(Code::parse("sms2").is_ok());
        for bad in ["", "Mass", "a-b", "a b", "é", &"a".repeat(65)] {
            assert!(Code::parse(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn lengths_are_counted_in_characters() {
        assert!(PersonName::parse("").is_ok());
        assert!(PersonName::parse("я".repeat(200)).is_ok());
        assert!(PersonName::parse("я".repeat(201)).is_err());
        assert!(Name::parse("   ").is_err());
        assert!(Message::parse("ю".repeat(10_000)).is_ok());
        assert!(Message::parse("ю".repeat(10_001)).is_err());
        assert!(Message::parse("").is_err());
        assert!(ExternalId::parse("x".repeat(256)).is_err());
    }
}
