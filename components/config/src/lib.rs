//! `triad-config`: the one description of a Triad cluster, `cluster.toml`, identical on every
//! host. Loading parses, applies defaults and validates; every problem is reported with the
//! file, line and key path, all of them at once.

mod error;
mod location;
mod schema;
mod topology;
mod units;
mod validate;

pub use error::{ConfigError, Diagnostic};
pub use location::{KeyPath, LineCol, Seg, SourceMap};
pub use schema::*;
pub use units::{Bytes, Span};
pub use validate::{KEEPER_OWNED_PARAMETERS, Problem, validate};

use std::ops::Deref;
use std::path::Path;

/// A parsed and validated cluster file.
#[derive(Debug, Clone)]
pub struct Cluster {
    file: ClusterFile,
    /// Where it was read from, for messages.
    pub source: String,
}

impl Deref for Cluster {
    type Target = ClusterFile;
    fn deref(&self) -> &ClusterFile {
        &self.file
    }
}

impl Cluster {
    /// Reads, parses and validates a cluster file.
    pub fn load(path: impl AsRef<Path>) -> Result<Cluster, ConfigError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::single(name.clone(), "(file)", format!("cannot read: {e}")))?;
        Cluster::parse(&name, &text)
    }

    /// Parses and validates cluster-file text; `name` is used in messages.
    ///
    /// A value of the wrong type stops serde at the first one, so parsing recovers: the
    /// offending `key = value` is blanked out, the text parsed again, and problems that only
    /// follow from the blanking are dropped. Every independent problem is reported at once.
    pub fn parse(name: &str, text: &str) -> Result<Cluster, ConfigError> {
        const MAX_ROUNDS: usize = 32;
        let original = SourceMap::new(text);
        let diag = |path: &KeyPath, message: String| {
            let pos = original.locate(path);
            Diagnostic { line: pos.map(|p| p.line), col: pos.map(|p| p.col), key: path.to_string(), message }
        };
        let mut working = text.to_string();
        let mut diagnostics: Vec<Diagnostic> = Vec::new();
        let mut blanked: Vec<KeyPath> = Vec::new();
        let mut parsed = None;
        for _ in 0..MAX_ROUNDS {
            let mut unknown: Vec<KeyPath> = Vec::new();
            let attempt: Result<ClusterFile, toml::de::Error> = toml::de::Deserializer::parse(&working)
                .and_then(|de| serde_ignored::deserialize(de, |p| unknown.push(ignored_path(&p))));
            let unknown_diags = unknown.iter().map(|p| diag(p, "unknown key".to_string()));
            match attempt {
                Ok(file) => {
                    diagnostics.extend(unknown_diags);
                    parsed = Some(file);
                    break;
                }
                Err(e) => {
                    let offset = e.span().map(|s| s.start);
                    let entry = offset.and_then(|o| SourceMap::new(&working).entry_at(o));
                    let follow_on = !blanked.is_empty() && e.message().starts_with("missing field");
                    if !follow_on {
                        let pos = offset.map(|o| original.line_col(o));
                        diagnostics.push(Diagnostic {
                            line: pos.map(|p| p.line),
                            col: pos.map(|p| p.col),
                            key: entry.as_ref().map_or_else(|| "(syntax)".to_string(), |(p, _)| p.to_string()),
                            message: e.message().trim().to_string(),
                        });
                    }
                    match entry {
                        Some((path, range)) if !follow_on => {
                            working = SourceMap::blank(&working, range);
                            blanked.push(path);
                        }
                        _ => {
                            diagnostics.extend(unknown_diags);
                            break;
                        }
                    }
                }
            }
        }
        if let Some(file) = &parsed {
            let caused_by_blanking = |p: &KeyPath| blanked.iter().any(|b| p.0.starts_with(&b.0) || b.0.starts_with(&p.0));
            diagnostics.extend(
                validate(file).into_iter().filter(|p| !caused_by_blanking(&p.path)).map(|p| diag(&p.path, p.message)),
            );
        }
        diagnostics.sort_by_key(|d| (d.line.unwrap_or(usize::MAX), d.col.unwrap_or(0)));
        diagnostics.dedup();
        match parsed {
            Some(file) if diagnostics.is_empty() => Ok(Cluster { file, source: name.into() }),
            _ => Err(ConfigError { file: name.into(), diagnostics }),
        }
    }

    /// Builds a validated cluster from an already typed file (tests, generators).
    pub fn from_file(file: ClusterFile, name: &str) -> Result<Cluster, ConfigError> {
        let problems = validate(&file);
        if problems.is_empty() {
            return Ok(Cluster { file, source: name.into() });
        }
        Err(ConfigError {
            file: name.into(),
            diagnostics: problems
                .into_iter()
                .map(|p| Diagnostic { line: None, col: None, key: p.path.to_string(), message: p.message })
                .collect(),
        })
    }

    pub fn file(&self) -> &ClusterFile {
        &self.file
    }

    /// The file as TOML text (defaults filled in).
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.file).expect("cluster file serialises")
    }
}

fn ignored_path(p: &serde_ignored::Path<'_>) -> KeyPath {
    use serde_ignored::Path;
    match p {
        Path::Root => KeyPath::root(),
        Path::Seq { parent, index } => ignored_path(parent).index(*index),
        Path::Map { parent, key } => ignored_path(parent).key(key.clone()),
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => {
            ignored_path(parent)
        }
    }
}
