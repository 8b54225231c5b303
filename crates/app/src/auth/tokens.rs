//! Access tokens: short-lived JWTs signed with HS256.
//!
//! The header says `typ: at+jwt` (RFC 9068) and the claims carry `iss`, `aud`
//! (`omnichannel-admin`), `sub` (the operator), `iat`, `exp` and `jti`.
//! Validation pins the algorithm, requires every claim, checks issuer, audience
//! and type, and allows 5 s of clock difference.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use omnichannel_domain::AdminId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const AUDIENCE: &str = "omnichannel-admin";
pub const TOKEN_TYPE: &str = "at+jwt";
pub const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    iat: i64,
    exp: i64,
    jti: String,
}

/// Why an access token was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid access token: {0}")]
pub struct InvalidToken(String);

/// An access token and how many seconds it lives.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: u64,
}

pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    ttl: Duration,
}

impl AccessTokens {
    pub fn new(secret: &[u8], issuer: impl Into<String>, ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: issuer.into(),
            ttl,
        }
    }

    pub fn issue(&self, admin: AdminId, now: DateTime<Utc>) -> anyhow::Result<IssuedToken> {
        let header = Header {
            typ: Some(TOKEN_TYPE.to_owned()),
            ..Header::new(Algorithm::HS256)
        };
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: admin.to_string(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
            jti: Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_in: u64::try_from(self.ttl.num_seconds()).unwrap_or(0),
        })
    }

    /// The operator an access token speaks for, if it is valid now.
    pub fn verify(&self, token: &str) -> Result<AdminId, InvalidToken> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| InvalidToken(e.to_string()))?;
        let typ = data.header.typ.as_deref().unwrap_or_default();
        if !typ.eq_ignore_ascii_case(TOKEN_TYPE) && !typ.eq_ignore_ascii_case("application/at+jwt")
        {
            return Err(InvalidToken(format!("type {typ:?} is not an access token")));
        }
        data.claims
            .sub
            .parse()
            .map_err(|_| InvalidToken("the subject is not an operator id".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn tokens() -> AccessTokens {
        AccessTokens::new(SECRET, "omnichannel", Duration::minutes(15))
    }

    fn forge(header: serde_json::Value, claims: serde_json::Value, secret: &[u8]) -> String {
        let header = jsonwebtoken::Header {
            typ: header["typ"].as_str().map(str::to_owned),
            ..Header::new(Algorithm::HS256)
        };
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret)).expect("encode")
    }

    fn claims(now: DateTime<Utc>) -> serde_json::Value {
        serde_json::json!({
            "iss": "omnichannel", "aud": AUDIENCE, "sub": AdminId::generate().to_string(),
            "iat": now.timestamp(), "exp": (now + Duration::minutes(5)).timestamp(), "jti": "x"
        })
    }

    #[test]
    fn an_issued_token_verifies_to_its_operator() {
        let admin = AdminId::generate();
        let issued = tokens().issue(admin, Utc::now()).expect("issued");
        assert_eq!(issued.expires_in, 900);
        assert_eq!(tokens().verify(&issued.token).ok(), Some(admin));
    }

    #[test]
    fn expiry_allows_five_seconds_of_leeway_only() {
        let admin = AdminId::generate();
        let short = AccessTokens::new(SECRET, "omnichannel", Duration::seconds(10));
        let just_expired = short
            .issue(admin, Utc::now() - Duration::seconds(12))
            .expect("issued");
        assert!(short.verify(&just_expired.token).is_ok());
        let expired = short
            .issue(admin, Utc::now() - Duration::seconds(20))
            .expect("issued");
        assert!(short.verify(&expired.token).is_err());
    }

    #[test]
    fn wrong_secret_issuer_audience_type_or_missing_claims_are_refused() {
        let now = Utc::now();
        let at = serde_json::json!({"typ": "at+jwt"});
        assert!(
            tokens()
                .verify(&forge(at.clone(), claims(now), SECRET))
                .is_ok()
        );
        assert!(
            tokens()
                .verify(&forge(
                    at.clone(),
                    claims(now),
                    b"another secret of 32 bytes!!!!!"
                ))
                .is_err()
        );
        let mut wrong_iss = claims(now);
        wrong_iss["iss"] = "someone-else".into();
        assert!(
            tokens()
                .verify(&forge(at.clone(), wrong_iss, SECRET))
                .is_err()
        );
        let mut wrong_aud = claims(now);
        wrong_aud["aud"] = "omnichannel-public".into();
        assert!(
            tokens()
                .verify(&forge(at.clone(), wrong_aud, SECRET))
                .is_err()
        );
        let jwt = serde_json::json!({"typ": "JWT"});
        assert!(tokens().verify(&forge(jwt, claims(now), SECRET)).is_err());
        let mut no_exp = claims(now);
        no_exp.as_object_mut().expect("object").remove("exp");
        assert!(tokens().verify(&forge(at, no_exp, SECRET)).is_err());
    }

    #[test]
    fn unsigned_and_tampered_tokens_are_refused() {
        let issued = tokens()
            .issue(AdminId::generate(), Utc::now())
            .expect("issued");
        let mut parts: Vec<&str> = issued.token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(tokens().verify(&unsigned).is_err());
        let other_claims =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(Utc::now())).expect("json"));
        parts[1] = &other_claims;
        assert!(tokens().verify(&parts.join(".")).is_err());
    }
}
