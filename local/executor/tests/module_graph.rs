//! The crate's top-level modules form a DAG: no module reaches back, through `crate::…` paths
//! outside comments and `#[cfg(test)]` code, to a module that depends on it.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names after each `crate::` in the file's code (test modules sit at each file's end).
fn references(text: &str) -> BTreeSet<String> {
    let code = text
        .lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let group = match rest.strip_prefix('{') {
            Some(inner) => &inner[..inner.find('}').unwrap_or(inner.len())],
            None => rest,
        };
        for item in group.split(',') {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
            if !rest.starts_with('{') {
                break;
            }
        }
    }
    names
}

/// Module → the modules it names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let top = |path: &Path| {
        let first = path.strip_prefix(src).unwrap().components().next().unwrap();
        let name = first.as_os_str().to_string_lossy().into_owned();
        name.trim_end_matches(".rs").to_string()
    };
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| top(f))
        .filter(|m| m != "lib" && m != "bin")
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for file in &files {
        let from = top(file);
        let Some(targets) = edges.get_mut(&from) else {
            continue;
        };
        let named = references(&fs::read_to_string(file).unwrap());
        // A path to the crate root's own items (`crate::Executor`) counts as a cycle too.
        targets.extend(named.into_iter().filter(|n| *n != from).map(|n| {
            if modules.contains(&n) {
                n
            } else {
                "lib".into()
            }
        }));
    }
    edges
}

/// Modules from which `start` is reachable again.
fn cycle_through(edges: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_string(), vec![start.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((module, path)) = stack.pop() {
        for next in edges.get(&module).into_iter().flatten() {
            if next == start {
                return Some(path);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn the_top_level_modules_form_a_dag() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = graph(&src);
    assert!(edges.contains_key("steps") && edges["schedule"].contains("steps"));
    for module in edges.keys() {
        if let Some(cycle) = cycle_through(&edges, module) {
            panic!("module cycle: {} → {module}", cycle.join(" → "));
        }
    }
}

#[test]
fn a_back_reference_is_seen() {
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        cycle_through(&edges, "a"),
        Some(vec!["a".into(), "b".into()])
    );
    let refs = references("use crate::{db::Db, model};\nuse crate::jobs;\n// crate::x\n");
    assert_eq!(
        refs,
        BTreeSet::from(["db".into(), "model".into(), "jobs".into()])
    );
}
