//! Human-readable durations ("500ms", "6s") and byte sizes ("512MiB") for the cluster file.
//!
//! Both keep the text the operator wrote so rendered files and error messages show it back
//! unchanged.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;
use std::time::Duration;

/// A duration written as text, e.g. `"250ms"`, `"6s"`, `"5m"`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(Duration);

impl Span {
    pub const fn from_millis(ms: u64) -> Self {
        Span(Duration::from_millis(ms))
    }
    pub const fn from_secs(s: u64) -> Self {
        Span(Duration::from_secs(s))
    }
    pub fn get(self) -> Duration {
        self.0
    }
    pub fn as_millis(self) -> u64 {
        self.0.as_millis() as u64
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }
}

impl From<Span> for Duration {
    fn from(s: Span) -> Duration {
        s.0
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim())
            .map(Span)
            .map_err(|e| de::Error::custom(format!("invalid duration {text:?} ({e}); write e.g. \"500ms\", \"6s\", \"2m\"")))
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A size in bytes written as text with a binary or decimal unit, e.g. `"512MiB"`, `"2GiB"`,
/// `"16MB"`, or a bare integer number of bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

impl Bytes {
    pub fn get(self) -> u64 {
        self.0
    }

    pub fn parse(text: &str) -> Result<Bytes, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        if num.is_empty() {
            return Err(format!("invalid size {text:?}: expected a number followed by a unit such as MiB or GiB"));
        }
        let n: u64 = num.parse().map_err(|_| format!("invalid size {text:?}: number too large"))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "kB" | "KB" => 1000,
            "KiB" => 1 << 10,
            "MB" => 1000_000,
            "MiB" => 1 << 20,
            "GB" => 1000_000_000,
            "GiB" => 1 << 30,
            "TB" => 1000_000_000_000,
            "TiB" => 1 << 40,
            other => {
                return Err(format!(
                    "invalid size {text:?}: unknown unit {other:?} (use B, kB, KiB, MB, MiB, GB, GiB, TB or TiB)"
                ));
            }
        };
        n.checked_mul(mult).map(Bytes).ok_or_else(|| format!("invalid size {text:?}: too large"))
    }
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        for (unit, size) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if b >= size && b % size == 0 {
                return write!(f, "{}{}", b / size, unit);
            }
        }
        write!(f, "{b}B")
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"512MiB\" or a number of bytes")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bytes, E> {
                u64::try_from(v).map(Bytes).map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
                Bytes::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(Bytes::parse("512MiB").unwrap().get(), 512 << 20);
        assert_eq!(Bytes::parse("2GiB").unwrap().get(), 2 << 30);
        assert_eq!(Bytes::parse("16MB").unwrap().get(), 16_000_000);
        assert_eq!(Bytes::parse("42").unwrap().get(), 42);
        assert!(Bytes::parse("12 parsecs").unwrap_err().contains("unknown unit"));
        assert!(Bytes::parse("MiB").is_err());
        assert_eq!(Bytes(3 << 30).to_string(), "3GiB");
    }

    #[test]
    fn durations_round_trip() {
        let s: Span = toml::from_str::<std::collections::BTreeMap<String, Span>>("a = \"1500ms\"").unwrap()["a"];
        assert_eq!(s.as_millis(), 1500);
        assert_eq!(s.to_string(), "1s 500ms");
    }
}
