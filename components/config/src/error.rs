//! Errors that name the file, the line and the key, all of them at once.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line and column, when the key (or the table that should hold it) is in the file.
    pub line: Option<usize>,
    pub col: Option<usize>,
    /// Key path such as `hosts[1].address`.
    pub key: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl ConfigError {
    pub fn single(file: impl Into<String>, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.into(),
            diagnostics: vec![Diagnostic { line: None, col: None, key: key.into(), message: message.into() }],
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (Some(l), Some(c)) => write!(f, "{l}:{c}: {}: {}", self.key, self.message),
            (Some(l), None) => write!(f, "{l}: {}: {}", self.key, self.message),
            _ => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{d}", self.file)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
