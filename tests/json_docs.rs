//! `docs/json.md` shows every command's `--json` output; this test keeps it true. It runs a
//! scenario that gives each command something to say (a conflict forced through, a snapshot,
//! a prune, a damaged nothing), then compares each real output with the documented example:
//! the same fields at every level (no more, no fewer), of the same JSON types. Values differ
//! from run to run (ids, times) and are not compared.
//!
//! `CONTEXT_BLESS_JSON_DOCS=1 cargo test --test integration json_docs` rewrites the examples in
//! `docs/json.md` from this run's real output (the prose around them stays).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::util::{Folder, Home, T0, at, inspect};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md");

/// Every `--json` output, by the heading it has in `docs/json.md`.
fn outputs() -> BTreeMap<&'static str, Value> {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    let mut out = BTreeMap::new();

    a.run_with(&["put", "plan/q1", "--ttl", "7d"], b"ship it\n", &at(T0))
        .code(0);
    a.run_with(&["put", "notes/x", "--project", "work"], b"x\n", &[])
        .code(0);
    a.put("research/sync", "first\n");
    a.put("plan/q2", "one\ntwo\nthree\n");
    a.put("gone", "soon deleted\n");
    a.ok(&["rm", "gone"]);
    out.insert(
        "context sync push --json",
        a.sync("push", &folder, &["--json"]).code(0).json(),
    );
    b.sync("pull", &folder, &[]).code(0);

    // A conflict, forced through on A: B's later edit replaces A's unseen one. Another, of
    // edits to different lines, merged.
    a.put("research/sync", "from a\n");
    a.put("plan/q2", "ONE\ntwo\nthree\n");
    b.put("research/sync", "from b\n");
    b.put("plan/q2", "one\ntwo\nTHREE\n");
    b.sync("push", &folder, &[]).code(0);
    out.insert(
        "context sync pull --dry-run --json",
        a.sync("pull", &folder, &["--dry-run", "--json"])
            .code(3)
            .json(),
    );
    out.insert(
        "context sync pull --json",
        a.sync("pull", &folder, &["--force", "--merge", "--json"])
            .code(0)
            .json(),
    );
    out.insert(
        "context conflicts --json",
        a.run(&["conflicts", "--json"]).code(0).json(),
    );
    a.put("after", "x\n");
    out.insert("context sync --json", {
        let run = a.run(&["sync", "--remote", folder.arg(), "--json"]).code(0);
        run.json()
    });
    out.insert(
        "context sync status --json",
        a.sync("status", &folder, &["--json"]).code(0).json(),
    );
    out.insert(
        "context sync status --check --json",
        a.sync("status", &folder, &["--check", "--json"]).json(),
    );
    b.sync("pull", &folder, &[]).code(0);
    a.sync("pull", &folder, &[]).code(0);
    // No snapshot yet: prune writes one first.
    out.insert(
        "context sync prune --json",
        a.sync("prune", &folder, &["--json"]).code(0).json(),
    );
    out.insert(
        "context sync snapshot --json",
        b.sync("snapshot", &folder, &["--json"]).code(0).json(),
    );
    out.insert(
        "context sync verify --json",
        a.sync("verify", &folder, &["--json"]).code(0).json(),
    );
    let file: PathBuf = folder.changesets().pop().expect("a changeset");
    out.insert("context sync inspect FILE --json", inspect(&file));
    out.insert(
        "context sync log --json",
        a.run(&["sync", "log", "--json"]).code(0).json(),
    );
    out.insert(
        "context ls --json",
        a.run(&["ls", "--deleted", "--json"]).code(0).json(),
    );
    // A second home with two named remotes, one of them carrying one project.
    let named = Home::new();
    named.ok(&["sync", "remote", "add", "nas", folder.arg()]);
    named.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        folder.arg(),
        "--projects",
        "work",
    ]);
    named.ok(&["sync", "--remote", "nas"]);
    out.insert(
        "context sync remote list --json",
        named
            .run(&["sync", "remote", "list", "--json"])
            .code(0)
            .json(),
    );
    out.insert(
        "context projects --json",
        a.run(&["projects", "--json"]).code(0).json(),
    );
    out.insert(
        "context search WORDS --json",
        a.run(&["search", "two", "--json"]).code(0).json(),
    );
    out.insert(
        "context history KEY --json",
        a.run(&["history", "research/sync", "--json"])
            .code(0)
            .json(),
    );
    // A's newest changeset loses a byte: repair puts it back.
    let a_peer = a.peer_id(&folder);
    let newest = folder
        .changesets()
        .into_iter()
        .rfind(|f| {
            f.starts_with(folder.path().join(&a_peer)) && !f.to_string_lossy().contains("snapshot")
        })
        .expect("a changeset of A");
    let mut bytes = std::fs::read(&newest).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&newest, bytes).unwrap();
    out.insert(
        "context sync repair --json",
        a.sync("repair", &folder, &["--json"]).code(0).json(),
    );
    out
}

/// The examples of `docs/json.md`: each `## \`COMMAND\`` heading and the first ```json block
/// after it, with where that block's body lies in the text.
fn examples(doc: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(h) = doc[at..].find("\n## `") {
        let start = at + h + "\n## `".len();
        let end = start + doc[start..].find('`').expect("a closing backtick");
        let heading = doc[start..end].to_string();
        let open = end + doc[end..].find("```json\n").expect("a json block") + "```json\n".len();
        let close = open + doc[open..].find("```").expect("a closed block");
        found.push((heading, open..close));
        at = close;
    }
    found
}

/// Why `actual` does not have the shape of `doc`, if it does not. Objects have the same keys;
/// arrays' elements each have the shape of the example's first; `null` stands for any type on
/// either side (an optional value); the keys of `per_project` are projects, not fields.
fn shape_mismatch(path: &str, doc: &Value, actual: &Value) -> Option<String> {
    match (doc, actual) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Object(d), Value::Object(a)) if path.ends_with(".per_project") => {
            let example = d.values().next()?;
            a.iter()
                .find_map(|(k, v)| shape_mismatch(&format!("{path}.{k}"), example, v))
        }
        (Value::Object(_), Value::Object(_)) if path.ends_with(".summary") => None,
        (Value::Object(d), Value::Object(a)) => {
            let (dk, ak): (Vec<_>, Vec<_>) = (d.keys().collect(), a.keys().collect());
            if dk != ak {
                return Some(format!(
                    "{path}: documented fields {dk:?}, output has {ak:?}"
                ));
            }
            d.iter()
                .find_map(|(k, v)| shape_mismatch(&format!("{path}.{k}"), v, &a[k]))
        }
        (Value::Array(d), Value::Array(a)) => {
            let example = d.first()?;
            a.iter()
                .enumerate()
                .find_map(|(i, v)| shape_mismatch(&format!("{path}[{i}]"), example, v))
        }
        (d, a) if std::mem::discriminant(d) == std::mem::discriminant(a) => None,
        (d, a) => Some(format!("{path}: documented as {d}, output has {a}")),
    }
}

#[test]
fn every_json_output_has_the_shape_docs_json_md_shows() {
    let outputs = outputs();
    let doc = std::fs::read_to_string(DOC).expect("docs/json.md");
    let examples = examples(&doc);
    if std::env::var_os("CONTEXT_BLESS_JSON_DOCS").is_some() {
        let mut text = doc.clone();
        for (heading, range) in examples.iter().rev() {
            let value = &outputs[heading.as_str()];
            let pretty = serde_json::to_string_pretty(value).unwrap() + "\n";
            text.replace_range(range.clone(), &pretty);
        }
        std::fs::write(DOC, text).unwrap();
        return;
    }
    let documented: Vec<&str> = examples.iter().map(|(h, _)| h.as_str()).collect();
    let produced: Vec<&str> = outputs.keys().copied().collect();
    let mut sorted = documented.clone();
    sorted.sort();
    assert_eq!(
        sorted, produced,
        "docs/json.md documents exactly the --json outputs"
    );
    for (heading, range) in &examples {
        let example: Value = serde_json::from_str(&doc[range.clone()])
            .unwrap_or_else(|e| panic!("docs/json.md, {heading}: not JSON: {e}"));
        if let Some(why) = shape_mismatch("", &example, &outputs[heading.as_str()]) {
            panic!(
                "docs/json.md, `{heading}` is out of date: {why}\n(rerun with \
                 CONTEXT_BLESS_JSON_DOCS=1 after checking the change is meant)"
            );
        }
    }
    // One vocabulary: 64-bit clocks are strings wherever they appear.
    for (heading, value) in &outputs {
        assert_no_numeric_hlc(heading, value);
    }
}

fn assert_no_numeric_hlc(heading: &str, v: &Value) {
    match v {
        Value::Object(m) => {
            if let Some(h) = m.get("hlc") {
                assert!(h.is_string(), "{heading}: hlc is {h}, not a string");
            }
            m.values().for_each(|v| assert_no_numeric_hlc(heading, v));
        }
        Value::Array(a) => a.iter().for_each(|v| assert_no_numeric_hlc(heading, v)),
        _ => {}
    }
}

/// The comparison itself can fail: a field added, removed or retyped is caught.
#[test]
fn the_shape_check_catches_added_missing_and_retyped_fields() {
    let doc: Value = serde_json::json!({"a": 1, "b": [{"c": "x"}], "per_project": {"p": {"v": 1}}});
    let same = serde_json::json!({"a": 2, "b": [], "per_project": {"q": {"v": 3}, "r": {"v": 4}}});
    assert_eq!(shape_mismatch("", &doc, &same), None);
    for bad in [
        serde_json::json!({"a": 1, "b": [], "per_project": {}, "extra": 1}),
        serde_json::json!({"a": 1, "per_project": {}}),
        serde_json::json!({"a": "1", "b": [], "per_project": {}}),
        serde_json::json!({"a": 1, "b": [{"c": 1}], "per_project": {}}),
        serde_json::json!({"a": 1, "b": [], "per_project": {"q": {"w": 1}}}),
    ] {
        assert!(shape_mismatch("", &doc, &bad).is_some(), "{bad}");
    }
}
