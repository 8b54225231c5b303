//! Hashing and random values: bcrypt for passwords, SHA-256 for 256-bit random
//! secrets (refresh tokens, API secrets), compared in constant time.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use omnichannel_domain::auth::NewPassword;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Hashes and checks operators' passwords with bcrypt.
pub struct PasswordHasher {
    cost: u32,
    /// A hash of nothing anybody knows, checked when the username is unknown so
    /// that an unknown user takes as long to refuse as a wrong password. Made
    /// at the first such login.
    decoy: OnceLock<String>,
}

impl PasswordHasher {
    pub const DEFAULT_COST: u32 = 12;

    pub fn new(cost: u32) -> Self {
        Self {
            cost,
            decoy: OnceLock::new(),
        }
    }

    pub fn hash(&self, password: &NewPassword) -> anyhow::Result<String> {
        Ok(bcrypt::hash(password.expose(), self.cost)?)
    }

    /// Whether `password` matches `hash`; a malformed hash or an over-long
    /// password never matches.
    pub fn verify(&self, password: &str, hash: &str) -> bool {
        bcrypt::verify(password, hash).unwrap_or(false)
    }

    /// Spends the time of a check that fails, for a username that does not exist.
    pub fn verify_nobody(&self, password: &str) {
        let decoy = self.decoy.get_or_init(|| {
            let unknowable = random_token(16).unwrap_or_else(|_| "decoy".repeat(4));
            bcrypt::hash(unknowable, self.cost).unwrap_or_default()
        });
        let _ = bcrypt::verify(password, decoy);
    }
}

/// `bytes` random bytes from the operating system, base64url without padding.
pub fn random_token(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0_u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(URL_SAFE_NO_PAD.encode(buffer))
}

/// The SHA-256 of a high-entropy secret, in hex: what is stored instead of it.
pub fn secret_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two hashes without leaking where they differ.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let a = random_token(32).expect("token");
        let b = random_token(32).expect("token");
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn secret_hashes_are_stable_and_compared_whole() {
        let hash = secret_hash("s3cret");
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, secret_hash("s3cret"));
        assert!(same_hash(&hash, &secret_hash("s3cret")));
        assert!(!same_hash(&hash, &secret_hash("s3cres")));
        assert!(!same_hash(&hash, &hash[..63]));
    }

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hasher = PasswordHasher::new(4);
        let password = NewPassword::parse("correct horse battery".into()).expect("password");
        let hash = hasher.hash(&password).expect("hash");
        assert!(hash.starts_with("$2"));
        assert!(hasher.verify("correct horse battery", &hash));
        assert!(!hasher.verify("correct horse battery!", &hash));
        assert!(!hasher.verify("anything", "not a hash"));
    }
}
