//! The engine's modules form no import cycle: each one can be read, tested and replaced
//! knowing only the modules below it. A cycle (engine ↔ snapshot, sql ↔ encode once did) means
//! two modules are one concern split in two files, or a shared part belongs in a module of its
//! own. Edges are `crate::NAME` references outside comments and `#[cfg(test)]` code.

use std::collections::{BTreeMap, BTreeSet};

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            sources.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(name, text)| {
            let code = text.split("#[cfg(test)]").next().unwrap();
            let mut deps = BTreeSet::new();
            for line in code.lines().map(|l| l.split("//").next().unwrap()) {
                let mut rest = line;
                while let Some(i) = rest.find("crate::") {
                    rest = &rest[i + "crate::".len()..];
                    let group = rest.strip_prefix('{').map(|g| g.split('}').next().unwrap());
                    let names: Vec<&str> = match group {
                        Some(g) => g.split(',').map(|p| p.trim().split("::").next().unwrap()).collect(),
                        None => vec![rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap()],
                    };
                    deps.extend(names.into_iter().filter(|n| modules.contains(*n) && *n != name).map(str::to_string));
                }
            }
            (name.clone(), deps)
        })
        .collect()
}

/// A cycle through `start`, if there is one: the modules in order.
fn cycle_from(g: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(g: &BTreeMap<String, BTreeSet<String>>, start: &str, at: &str, path: &mut Vec<String>, seen: &mut BTreeSet<String>) -> bool {
        for next in &g[at] {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(g, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(g, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

#[test]
fn the_engine_modules_import_no_cycle() {
    let g = graph();
    assert!(g.contains_key("engine") && g["sql"].contains("engine"), "the module graph was not read: {g:?}");
    let cycles: Vec<String> = g.keys().filter_map(|m| cycle_from(&g, m)).map(|c| format!("{} -> {}", c.join(" -> "), c[0])).collect();
    assert!(cycles.is_empty(), "import cycles among the engine's modules:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let g: BTreeMap<String, BTreeSet<String>> = [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["a"])]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
        .collect();
    assert_eq!(cycle_from(&g, "a"), Some(vec!["a".to_string(), "b".to_string(), "c".to_string()]));
    assert_eq!(cycle_from(&g, "d"), None);
}
