//! Passwords (argon2id, the same PHC strings the engines verify SQL logins against), session
//! tokens, and who is calling: a session cookie (pages) or HTTP Basic credentials (API).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use axum::http::HeaderMap;

pub const COOKIE: &str = "triad_session";

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow::anyhow!("argon2: {e}"))?.to_string())
}

pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// `verify` on a blocking thread: argon2 is deliberately slow (tens of milliseconds), and on
/// the async threads a burst of logins would stall every other request of the designer.
pub async fn verify_off_thread(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &phc)).await.unwrap_or(false)
}

/// `hash` on a blocking thread (see `verify_off_thread`).
pub async fn hash_off_thread(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

/// 256 random bits, hex.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How a request identifies its user.
#[derive(Debug, PartialEq)]
pub enum Credentials {
    Session(String),
    Basic { user: String, password: String },
    None,
}

pub fn credentials(headers: &HeaderMap) -> Credentials {
    if let Some(basic) = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Basic ")) {
        if let Some((user, password)) = base64_decode(basic.trim()).and_then(|s| s.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()))) {
            return Credentials::Basic { user, password };
        }
    }
    let cookies = headers.get_all("cookie").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).map(str::trim);
    for c in cookies {
        if let Some(t) = c.strip_prefix(COOKIE).and_then(|r| r.strip_prefix('=')) {
            return Credentials::Session(t.to_string());
        }
    }
    Credentials::None
}

/// Standard base64 of Basic credentials; `None` if malformed or not UTF-8.
fn base64_decode(s: &str) -> Option<String> {
    use base64::Engine;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(s).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("s3cret", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("s3cret", "not a hash"));
        assert_ne!(new_token(), new_token());
        assert_eq!(new_token().len(), 64);
    }

    #[test]
    fn credentials_from_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(credentials(&h), Credentials::None);
        h.insert("cookie", "a=b; triad_session=abc123".parse().unwrap());
        assert_eq!(credentials(&h), Credentials::Session("abc123".into()));
        // "ana:pa:ss" in base64.
        h.insert("authorization", "Basic YW5hOnBhOnNz".parse().unwrap());
        assert_eq!(credentials(&h), Credentials::Basic { user: "ana".into(), password: "pa:ss".into() });
        assert_eq!(base64_decode("aGVsbG8="), Some("hello".into()));
    }
}
