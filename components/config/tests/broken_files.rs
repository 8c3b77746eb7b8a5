//! Every file under tests/broken/ must be rejected with exactly the diagnostics its
//! `# expect: LINE[:COL] KEY MESSAGE-FRAGMENT` header lines name.

use std::path::Path;
use triad_config::Cluster;

struct Expect {
    line: usize,
    col: Option<usize>,
    key: String,
    fragment: String,
}

fn expectations(text: &str) -> Vec<Expect> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|rest| {
            let (pos, rest) = rest.split_once(' ').expect("expect line has a position");
            let (key, fragment) = rest.split_once(' ').unwrap_or((rest, ""));
            let mut parts = pos.split(':').filter(|s| !s.is_empty());
            Expect {
                line: parts.next().unwrap().parse().unwrap(),
                col: parts.next().map(|c| c.parse().unwrap()),
                key: key.to_string(),
                fragment: fragment.to_string(),
            }
        })
        .collect()
}

#[test]
fn broken_files_fail_with_the_expected_locations_and_keys() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    assert!(entries.len() >= 10, "the suite lost files");
    let mut failures = Vec::new();
    for path in entries {
        let text = std::fs::read_to_string(&path).unwrap();
        let want = expectations(&text);
        assert!(!want.is_empty(), "{} has no expect lines", path.display());
        let err = match Cluster::load(&path) {
            Ok(_) => {
                failures.push(format!("{}: accepted, expected errors", path.display()));
                continue;
            }
            Err(e) => e,
        };
        assert_eq!(err.file, path.display().to_string());
        for w in &want {
            let hit = err.diagnostics.iter().any(|d| {
                d.line == Some(w.line)
                    && (w.col.is_none() || d.col == w.col)
                    && d.key == w.key
                    && d.message.contains(&w.fragment)
            });
            if !hit {
                failures.push(format!(
                    "{}: no diagnostic at line {} key {} containing {:?}; got:\n{}",
                    path.display(),
                    w.line,
                    w.key,
                    w.fragment,
                    err
                ));
            }
        }
        if err.diagnostics.len() != want.len() {
            failures.push(format!("{}: {} diagnostics, {} expected:\n{}", path.display(), err.diagnostics.len(), want.len(), err));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_message_names_file_line_and_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken/duplicates.toml");
    let text = Cluster::load(&path).unwrap_err().to_string();
    let first = text.lines().next().unwrap();
    assert!(first.starts_with(&format!("{}:18:1: hosts[2].name: duplicate host name", path.display())), "{first}");
}
