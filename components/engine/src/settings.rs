//! A SQL session's run-time parameters, as PostgreSQL's SHOW, SET, RESET, `current_setting()`
//! and `set_config()` see them. Every parameter drivers and BI tools ask for has its
//! PostgreSQL name and a value of PostgreSQL's form. Parameters the engine acts on are
//! honoured (`search_path`, `TimeZone`, `statement_timeout`, `extra_float_digits`,
//! `default_transaction_read_only`, `application_name`); values it cannot honour are refused
//! (a `DateStyle` other than ISO, an encoding other than UTF8, isolation stricter than READ
//! COMMITTED), never silently accepted. Unknown names are refused as PostgreSQL refuses them,
//! except custom `prefix.name` parameters, which PostgreSQL also keeps.

use std::collections::BTreeMap;
use std::time::Duration;

/// PostgreSQL's version as drivers parse it (`server_version`, `version()`).
pub const SERVER_VERSION: &str = "15.0";
pub const SERVER_VERSION_NUM: &str = "150000";

/// (name as SHOW ALL prints it, default, whether SET may change it, description)
const PARAMETERS: &[(&str, &str, bool, &str)] = &[
    ("application_name", "", true, "Sets the application name to be reported in statistics and logs."),
    ("bytea_output", "hex", true, "Sets the output format for bytea."),
    ("client_encoding", "UTF8", true, "Sets the client's character set encoding (only UTF8)."),
    ("client_min_messages", "notice", true, "Sets the message levels that are sent to the client."),
    ("DateStyle", "ISO, MDY", true, "Sets the display format for date and time values (only ISO)."),
    ("default_table_access_method", "heap", false, "Sets the default table access method for new tables (SQLAlchemy's reflection reads it)."),
    ("default_transaction_isolation", "read committed", true, "Sets the transaction isolation level of each new transaction."),
    ("default_transaction_read_only", "off", true, "Sets the default read-only status of new transactions."),
    ("extra_float_digits", "1", true, "Sets the number of digits displayed for floating-point values."),
    ("idle_in_transaction_session_timeout", "0", true, "Sets the maximum allowed idle time between queries, when in a transaction."),
    ("integer_datetimes", "on", false, "Shows whether datetimes are integer based."),
    ("IntervalStyle", "postgres", true, "Sets the display format for interval values."),
    ("is_superuser", "off", false, "Shows whether the current user is a superuser."),
    ("lc_collate", "C.UTF-8", false, "Shows the collation order locale."),
    ("lc_ctype", "C.UTF-8", false, "Shows the character classification and case conversion locale."),
    ("lc_messages", "C.UTF-8", true, "Sets the language in which messages are displayed."),
    ("lc_monetary", "C.UTF-8", true, "Sets the locale for formatting monetary amounts."),
    ("lc_numeric", "C.UTF-8", true, "Sets the locale for formatting numbers."),
    ("lc_time", "C.UTF-8", true, "Sets the locale for formatting date and time values."),
    ("lock_timeout", "0", true, "Sets the maximum allowed duration of any wait for a lock."),
    ("max_identifier_length", "63", false, "Shows the maximum identifier length."),
    ("max_index_keys", "32", false, "Shows the maximum number of index keys."),
    ("search_path", "\"$user\", public", true, "Sets the schema search order for names that are not schema-qualified."),
    ("server_encoding", "UTF8", false, "Shows the server (database) character set encoding."),
    ("server_version", SERVER_VERSION, false, "Shows the server version."),
    ("server_version_num", SERVER_VERSION_NUM, false, "Shows the server version as an integer."),
    ("standard_conforming_strings", "on", true, "Causes '...' strings to treat backslashes literally (only on)."),
    ("statement_timeout", "0", true, "Sets the maximum allowed duration of any statement."),
    ("TimeZone", "UTC", true, "Sets the time zone for displaying and interpreting time stamps."),
    ("transaction_isolation", "read committed", true, "Sets the current transaction's isolation level."),
    ("transaction_read_only", "off", true, "Sets the current transaction's read-only status."),
];

/// A refusal: SQLSTATE and message.
pub type Refusal = (&'static str, String);

#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Values set in this session, by lower-case name.
    set: BTreeMap<String, String>,
}

/// The parameter a name (any case, PostgreSQL's spelled-out aliases) refers to.
fn lookup(name: &str) -> Option<&'static (&'static str, &'static str, bool, &'static str)> {
    let name = match name.to_lowercase().as_str() {
        "time zone" | "time_zone" => "timezone".to_string(),
        "transaction isolation level" => "transaction_isolation".to_string(),
        "session authorization" => "session_authorization".to_string(),
        n => n.to_string(),
    };
    PARAMETERS.iter().find(|p| p.0.eq_ignore_ascii_case(&name))
}

fn custom(name: &str) -> bool {
    let mut parts = name.split('.');
    matches!((parts.next(), parts.next(), parts.next()), (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty())
}

impl Settings {
    /// The value of a parameter (`user` answers `session_authorization`/`current_user`).
    pub fn get(&self, name: &str, user: &str) -> Result<String, Refusal> {
        let lower = name.to_lowercase();
        if matches!(lower.as_str(), "session_authorization" | "session authorization") {
            return Ok(user.to_string());
        }
        match lookup(name) {
            Some(p) => Ok(self.set.get(&p.0.to_lowercase()).cloned().unwrap_or_else(|| p.1.to_string())),
            None if custom(&lower) => self.set.get(&lower).cloned().ok_or_else(|| ("42704", format!("unrecognized configuration parameter \"{name}\""))),
            None => Err(("42704", format!("unrecognized configuration parameter \"{name}\""))),
        }
    }

    /// `SHOW ALL`: (name, setting, description) of every parameter.
    pub fn all(&self, user: &str) -> Vec<(String, String, String)> {
        let mut rows: Vec<(String, String, String)> = PARAMETERS.iter().map(|p| (p.0.to_string(), self.get(p.0, user).unwrap_or_default(), p.3.to_string())).collect();
        rows.push(("session_authorization".into(), user.into(), "Sets the session user name.".into()));
        rows.extend(self.set.iter().filter(|(k, _)| custom(k)).map(|(k, v)| (k.clone(), v.clone(), String::new())));
        rows.sort_by_key(|r| r.0.to_lowercase());
        rows
    }

    /// `SET name = value` (`value` as PostgreSQL would show it); `None` resets to the default.
    pub fn set(&mut self, name: &str, value: Option<&str>) -> Result<(), Refusal> {
        let lower = name.to_lowercase();
        let Some(p) = lookup(name) else {
            if custom(&lower) {
                match value {
                    Some(v) => self.set.insert(lower, v.to_string()),
                    None => self.set.remove(&lower),
                };
                return Ok(());
            }
            return Err(("42704", format!("unrecognized configuration parameter \"{name}\"")));
        };
        if !p.2 {
            return Err(("55P02", format!("parameter \"{}\" cannot be changed", p.0)));
        }
        let key = p.0.to_lowercase();
        let Some(value) = value else {
            self.set.remove(&key);
            return Ok(());
        };
        let value = normalise(&key, value)?;
        self.set.insert(key, value);
        Ok(())
    }

    /// `RESET ALL` / `DISCARD ALL`.
    pub fn reset_all(&mut self) {
        self.set.clear();
    }

    /// `statement_timeout` as a duration (None: no limit).
    pub fn statement_timeout(&self) -> Option<Duration> {
        let ms = duration_ms(&self.get("statement_timeout", "").unwrap_or_default()).unwrap_or(0);
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    /// The schemas of `search_path` in order (`$user` and `pg_catalog` left out).
    pub fn search_path(&self) -> Vec<String> {
        let path = self.get("search_path", "").unwrap_or_default();
        path.split(',').map(|s| s.trim().trim_matches('"').to_string()).filter(|s| !s.is_empty() && s != "$user" && s != "pg_catalog").collect()
    }

    pub fn time_zone(&self) -> String {
        self.get("TimeZone", "").unwrap_or_else(|_| "UTC".into())
    }

    pub fn extra_float_digits(&self) -> i32 {
        self.get("extra_float_digits", "").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
    }

    pub fn read_only(&self) -> bool {
        self.get("default_transaction_read_only", "").is_ok_and(|v| v == "on")
    }
}

/// A value checked and shown as PostgreSQL shows it.
fn normalise(key: &str, value: &str) -> Result<String, Refusal> {
    let v = value.trim();
    let bad = |why: String| Err(("22023", why));
    let lower = v.to_lowercase();
    match key {
        "datestyle" => {
            let parts: Vec<String> = lower.split(',').map(|p| p.trim().to_string()).collect();
            if parts.iter().any(|p| !matches!(p.as_str(), "iso" | "mdy" | "dmy" | "ymd" | "us" | "european" | "euro" | "noneuropean")) {
                return Err(("0A000", format!("DateStyle {v:?} is not supported: the engine writes dates in ISO format only (SET DateStyle = 'ISO')")));
            }
            let order = parts.iter().find(|p| *p != "iso").map(|p| match p.as_str() {
                "dmy" | "european" | "euro" => "DMY",
                "ymd" => "YMD",
                _ => "MDY",
            });
            Ok(format!("ISO, {}", order.unwrap_or("MDY")))
        }
        "client_encoding" => match lower.replace(['-', '_'], "").as_str() {
            "utf8" | "unicode" => Ok("UTF8".into()),
            _ => Err(("0A000", format!("client_encoding {v:?} is not supported: the engine speaks UTF8 only"))),
        },
        "standard_conforming_strings" => match lower.as_str() {
            "on" | "true" | "1" => Ok("on".into()),
            _ => Err(("0A000", "standard_conforming_strings can only be on".into())),
        },
        "default_transaction_read_only" | "transaction_read_only" => match lower.as_str() {
            "on" | "true" | "1" | "yes" => Ok("on".into()),
            "off" | "false" | "0" | "no" => Ok("off".into()),
            _ => bad(format!("parameter \"{key}\" requires a Boolean value")),
        },
        "default_transaction_isolation" | "transaction_isolation" => isolation(&lower).map(str::to_string),
        "extra_float_digits" => match v.parse::<i32>() {
            Ok(n) if (-15..=3).contains(&n) => Ok(n.to_string()),
            _ => bad(format!("{v} is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)")),
        },
        "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => match duration_ms(v) {
            Some(ms) => Ok(if ms == 0 { "0".into() } else { format!("{ms}ms") }),
            None => bad(format!("invalid value for parameter \"{key}\": \"{v}\"")),
        },
        "timezone" => {
            if v.is_empty() {
                return bad("invalid value for parameter \"TimeZone\": \"\"".into());
            }
            Ok(if lower == "utc" || lower == "gmt" || lower == "z" { "UTC".into() } else { v.to_string() })
        }
        _ => Ok(v.to_string()),
    }
}

/// PostgreSQL's isolation levels: READ UNCOMMITTED behaves as READ COMMITTED; the stricter
/// levels are refused (the engine does not provide them).
pub fn isolation(level: &str) -> Result<&'static str, Refusal> {
    match level.trim().to_lowercase().as_str() {
        "read committed" | "read uncommitted" | "default" => Ok("read committed"),
        l @ ("repeatable read" | "serializable") => Err(("0A000", format!("isolation level {} is not supported: transactions on cubes are READ COMMITTED (each statement sees the cells committed before it; writes are applied in commit order)", l.to_uppercase()))),
        other => Err(("22023", format!("invalid value for parameter \"transaction_isolation\": \"{other}\""))),
    }
}

/// A duration parameter in milliseconds: `5000`, `5s`, `1min`, `250ms`.
fn duration_ms(v: &str) -> Option<u64> {
    let v = v.trim().trim_matches('\'');
    let split = v.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().ok()?;
    let factor = match unit.trim().to_lowercase().as_str() {
        "" | "ms" => 1.0,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        "us" => 0.001,
        _ => return None,
    };
    Some((n * factor).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_questions_get_postgresql_answers() {
        let s = Settings::default();
        for (name, want) in [
            ("transaction_isolation", "read committed"),
            ("TRANSACTION ISOLATION LEVEL", "read committed"),
            ("time zone", "UTC"),
            ("server_version", SERVER_VERSION),
            ("standard_conforming_strings", "on"),
            ("search_path", "\"$user\", public"),
            ("session_authorization", "analyst"),
        ] {
            assert_eq!(s.get(name, "analyst").as_deref(), Ok(want), "{name}");
        }
        assert_eq!(s.get("no_such_thing", "u").unwrap_err().0, "42704");
        assert!(s.all("u").iter().any(|r| r.0 == "DateStyle" && r.1 == "ISO, MDY"));
    }

    #[test]
    fn set_is_honoured_or_refused_never_ignored() {
        let mut s = Settings::default();
        s.set("search_path", Some("sales, public")).unwrap();
        assert_eq!(s.search_path(), ["sales", "public"]);
        s.set("statement_timeout", Some("5s")).unwrap();
        assert_eq!((s.statement_timeout(), s.get("statement_timeout", "").unwrap()), (Some(Duration::from_secs(5)), "5000ms".into()));
        s.set("DateStyle", Some("ISO, DMY")).unwrap();
        assert_eq!(s.get("datestyle", "").unwrap(), "ISO, DMY");
        assert_eq!(s.set("DateStyle", Some("SQL, DMY")).unwrap_err().0, "0A000");
        assert_eq!(s.set("client_encoding", Some("LATIN1")).unwrap_err().0, "0A000");
        assert_eq!(s.set("client_encoding", Some("unicode")), Ok(()));
        assert_eq!(s.set("transaction_isolation", Some("serializable")).unwrap_err().0, "0A000");
        assert_eq!(s.set("server_version", Some("16")).unwrap_err().0, "55P02");
        assert_eq!(s.set("nonsense", Some("1")).unwrap_err().0, "42704");
        s.set("myapp.tenant", Some("7")).unwrap();
        assert_eq!(s.get("MYAPP.tenant", "").as_deref(), Ok("7"));
        s.set("search_path", None).unwrap();
        assert_eq!(s.search_path(), ["public"]);
        s.reset_all();
        assert_eq!(s.statement_timeout(), None);
    }
}
