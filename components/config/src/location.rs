//! Where a key lives in the file: dotted key paths and the mapping from a path to a line.
//!
//! Validation works on typed values and speaks in key paths (`hosts[1].address`); this module
//! turns such a path into the line and column the operator has to edit, using the spans that
//! toml's parser keeps.

use std::fmt;
use std::ops::Range;
use toml::de::{DeTable, DeValue};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path to a key, e.g. `hosts[1].address`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }
    pub fn key(mut self, k: impl Into<String>) -> Self {
        self.0.push(Seg::Key(k.into()));
        self
    }
    pub fn index(mut self, i: usize) -> Self {
        self.0.push(Seg::Index(i));
        self
    }
    /// Builds a path from dotted text such as `hosts.1.address` (indices as numbers).
    pub fn parse(dotted: &str) -> Self {
        KeyPath(
            dotted
                .split('.')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map(Seg::Index).unwrap_or_else(|_| Seg::Key(s.to_string())))
                .collect(),
        )
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Line and column, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub col: usize,
}

/// The parsed document, kept for looking up where keys are.
pub struct SourceMap<'i> {
    text: &'i str,
    root: Option<DeTable<'i>>,
}

impl<'i> SourceMap<'i> {
    pub fn new(text: &'i str) -> Self {
        let root = DeTable::parse(text).ok().map(|t| t.into_inner());
        SourceMap { text, root }
    }

    pub fn line_col(&self, offset: usize) -> LineCol {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        LineCol { line, col }
    }

    /// The position of the deepest part of `path` present in the file: the key itself when
    /// it is written, otherwise the table that should hold it; `None` when nothing of it is.
    pub fn locate(&self, path: &KeyPath) -> Option<LineCol> {
        self.span_of(path).map(|r| self.line_col(r.start))
    }

    /// The innermost key-value pair whose text (from the key to the end of the value) contains
    /// `offset`: its path and that byte range. Parse errors carry only a span; this names them.
    pub fn entry_at(&self, offset: usize) -> Option<(KeyPath, Range<usize>)> {
        fn walk(v: &DeValue<'_>, path: &KeyPath, offset: usize, best: &mut Option<(KeyPath, Range<usize>)>) {
            match v {
                DeValue::Table(t) => {
                    for (k, val) in t.iter() {
                        let here = path.clone().key(k.get_ref().to_string());
                        let range = k.span().start..val.span().end.max(k.span().end);
                        let leaf = !matches!(val.get_ref(), DeValue::Table(_) | DeValue::Array(_));
                        if leaf && range.contains(&offset) && best.as_ref().is_none_or(|(_, r)| r.len() >= range.len()) {
                            *best = Some((here.clone(), range.clone()));
                        }
                        if !leaf {
                            // Arrays of scalars count as one value: blank the whole `key = [..]`.
                            if let DeValue::Array(a) = val.get_ref()
                                && a.iter().all(|i| !matches!(i.get_ref(), DeValue::Table(_)))
                                && range.contains(&offset)
                                && best.as_ref().is_none_or(|(_, r)| r.len() >= range.len())
                            {
                                *best = Some((here.clone(), range.clone()));
                                continue;
                            }
                            walk(val.get_ref(), &here, offset, best);
                        }
                    }
                }
                DeValue::Array(a) => {
                    for (i, item) in a.iter().enumerate() {
                        walk(item.get_ref(), &path.clone().index(i), offset, best);
                    }
                }
                _ => {}
            }
        }
        let root = DeValue::Table(self.root.clone()?);
        let mut best = None;
        walk(&root, &KeyPath::root(), offset, &mut best);
        best
    }

    /// The text with `range` replaced by spaces (newlines kept), so every other offset, line
    /// and column stays where it was.
    pub fn blank(text: &str, range: Range<usize>) -> String {
        let mut bytes = text.as_bytes().to_vec();
        for b in &mut bytes[range] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
        String::from_utf8(bytes).expect("only whole multi-byte characters are blanked")
    }

    fn span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        let mut table = self.root.as_ref()?;
        let mut value: Option<&DeValue<'i>> = None;
        let mut best: Option<Range<usize>> = None;
        for seg in &path.0 {
            match (seg, value) {
                (Seg::Key(k), None) => {
                    let (key, v) = table.get_key_value(k.as_str())?;
                    best = Some(key.span());
                    value = Some(v.get_ref());
                }
                (Seg::Key(k), Some(DeValue::Table(t))) => {
                    table = t;
                    match t.get_key_value(k.as_str()) {
                        Some((key, v)) => {
                            best = Some(key.span());
                            value = Some(v.get_ref());
                        }
                        None => return best,
                    }
                }
                (Seg::Index(i), Some(DeValue::Array(a))) => match a.get(*i) {
                    Some(item) => {
                        best = Some(item.span());
                        value = Some(item.get_ref());
                    }
                    None => return best,
                },
                _ => return best,
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[cluster]\nname = \"x\"\n\n[[hosts]]\nname = \"a\"\n\n[[hosts]]\nname = \"b\"\naddress = \"10.0.0.1\"\n";

    #[test]
    fn locates_keys_in_arrays_of_tables() {
        let map = SourceMap::new(DOC);
        assert_eq!(map.locate(&KeyPath::parse("cluster.name")).unwrap().line, 2);
        assert_eq!(map.locate(&KeyPath::parse("hosts.1.address")).unwrap().line, 9);
        assert_eq!(map.locate(&KeyPath::root().key("hosts").index(0).key("name")).unwrap().line, 5);
    }

    #[test]
    fn missing_key_falls_back_to_its_table() {
        let map = SourceMap::new(DOC);
        // hosts[0] has no address: point at the array element that should hold it.
        assert_eq!(map.locate(&KeyPath::parse("hosts.0.address")).unwrap().line, 4);
        assert_eq!(map.locate(&KeyPath::parse("ports.engine_sql")), None);
    }

    #[test]
    fn paths_print_like_the_operator_writes_them() {
        assert_eq!(KeyPath::parse("hosts.2.roles.0").to_string(), "hosts[2].roles[0]");
    }
}
