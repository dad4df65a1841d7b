//! mmp's top-level modules depend on each other one way only: the graph of `crate::<module>`
//! references outside `#[cfg(test)]` has no cycle, so each module can be read (and changed)
//! knowing only those below it.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each top-level module's non-test source: `src/<m>.rs`, or every file of `src/<m>/`.
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let files: Vec<_> = if path.is_dir() {
            std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "rs"))
                .collect()
        } else if name != "lib" && name != "main" {
            vec![path]
        } else {
            continue;
        };
        let text: String = files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).unwrap();
                match text.find("#[cfg(test)]") {
                    Some(at) => text[..at].to_string(),
                    None => text,
                }
            })
            .collect();
        modules.insert(name, text);
    }
    modules
}

fn graph(modules: &BTreeMap<String, String>) -> BTreeMap<&str, BTreeSet<&str>> {
    modules
        .iter()
        .map(|(name, text)| {
            let uses = text
                .split("crate::")
                .skip(1)
                .filter_map(|rest| {
                    let end = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or(rest.len());
                    modules.get_key_value(&rest[..end]).map(|(k, _)| k.as_str())
                })
                .filter(|used| used != name)
                .collect();
            (name.as_str(), uses)
        })
        .collect()
}

/// A cycle through `from`, if the graph has one: `from` reached again from what it uses.
fn cycle_through<'a>(
    graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    from: &'a str,
) -> Option<Vec<&'a str>> {
    let mut stack = vec![vec![from]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path[path.len() - 1];
        for &next in &graph[last] {
            if next == from {
                return Some(path);
            }
            if seen.insert(next) {
                let mut longer = path.clone();
                longer.push(next);
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn the_top_level_modules_form_no_cycle() {
    let modules = modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(modules.contains_key("cli") && modules.contains_key("console"));
    let graph = graph(&modules);
    let cycles: Vec<_> = graph
        .keys()
        .filter_map(|m| cycle_through(&graph, m))
        .collect();
    assert!(cycles.is_empty(), "module cycles: {cycles:?}");
}

#[test]
fn a_cycle_is_found() {
    let modules = BTreeMap::from([
        ("a".to_string(), "use crate::b::X;".to_string()),
        ("b".to_string(), "fn f() { crate::c::g() }".to_string()),
        ("c".to_string(), "use crate::a;".to_string()),
        ("d".to_string(), "use crate::a;".to_string()),
    ]);
    let graph = graph(&modules);
    assert_eq!(cycle_through(&graph, "a"), Some(vec!["a", "b", "c"]));
    assert_eq!(cycle_through(&graph, "d"), None);
}
