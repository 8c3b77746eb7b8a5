//! `triadctl hash-password`: turn a password into the argon2 PHC string that cluster.toml's
//! `[[users]] password_hash` (and the designer's user table) store. The clear-text password is
//! read from a prompt (twice) or, when standard input is not a terminal, from its first line.

use anyhow::{Context, bail};
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("password: ")?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the two passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        bail!("refusing to hash an empty password");
    }
    println!("{}", hash(&password)?);
    Ok(ExitCode::SUCCESS)
}

/// argon2id with the crate's defaults (the OWASP-recommended parameters).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = super::hash("s3cret").unwrap();
        let b = super::hash("s3cret").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "a fresh salt every time");
        let parsed = PasswordHash::new(&a).unwrap();
        assert!(argon2::Argon2::default().verify_password(b"s3cret", &parsed).is_ok());
        assert!(argon2::Argon2::default().verify_password(b"wrong", &parsed).is_err());
    }
}
