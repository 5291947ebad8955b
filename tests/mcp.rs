//! `context mcp` driven over stdio by the official Python MCP client SDK (`mcp` from PyPI, in
//! the virtual environment `make test` and `.ci/run` make: `target/mcp-venv`): tools listed and
//! described, documents written, read, listed and diffed, history with the agent's session, a
//! conflict between two homes listed and settled, resources, malformed calls answered with an
//! error while the server goes on; then on another machine, after a sync, the agent's session
//! shown and reverted, a key a person edited since left alone and listed.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::util::{Folder, Home};

/// The Python of the virtual environment that holds the MCP SDK.
fn python() -> String {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/mcp-venv/bin/python");
    let python = std::env::var("CONTEXT_TEST_MCP_PYTHON").unwrap_or_else(|_| venv.to_string());
    assert!(
        std::path::Path::new(&python).exists(),
        "{python} is missing: the MCP tests need the Python MCP SDK in a virtual environment \
         (`python3 -m venv target/mcp-venv && target/mcp-venv/bin/pip install mcp`; \
         `make test` and .ci/run make it)"
    );
    python
}

/// Runs `calls` in one MCP session with `context mcp` in `home`; the results, in order (the
/// first is the server's name from `initialize`).
fn session(home: &Home, calls: Value) -> Vec<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/util/mcp_client.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_context"))
        .env("CONTEXT_HOME", home.path())
        .env("CONTEXT_AUTO_SYNC", "0")
        .env_remove("CONTEXT_AUTHOR")
        .env_remove("CONTEXT_SESSION")
        .env_remove("CONTEXT_PROJECT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(calls.to_string().as_bytes())
        .expect("the calls");
    let out = child.wait_with_output().expect("the session");
    assert!(
        out.status.success(),
        "the MCP client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("the results")
}

fn ok(result: &Value) -> &Value {
    assert_eq!(result["is_error"], false, "{result}");
    &result["structured"]
}

#[test]
fn an_agent_reads_writes_lists_and_settles_a_conflict_through_context_mcp() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    // A conflict between two homes: both edit `shared`, a's pull forces b's side through.
    a.put("shared", "one\ntwo\nthree\n");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    a.put("shared", "ONE\ntwo\nthree\n");
    b.put("shared", "one\ntwo\nTHREE\n");
    b.sync("push", &folder, &[]).code(0);
    a.sync("pull", &folder, &["--force"]).code(0);

    let r = session(
        &a,
        json!([
            {"list_tools": true},
            {"tool": "write_document", "args": {"key": "plan/q1", "body": "ship it\n"}},
            {"tool": "write_document", "args": {"key": "plan/q1", "body": "ship it on time\n"}},
            {"tool": "read_document", "args": {"key": "plan/q1"}},
            {"tool": "list_documents", "args": {"prefix": "plan/"}},
            {"tool": "history", "args": {"key": "plan/q1"}},
            {"tool": "diff", "args": {"key": "plan/q1"}},
            {"tool": "read_document", "args": {"nokey": 1}},
            {"tool": "read_document", "args": {"key": "no/such"}},
            {"tool": "no_such_tool", "args": {}},
            {"tool": "list_conflicts"},
            {"tool": "resolve_conflict", "args": {"key": "shared", "keep": "merge"}},
            {"tool": "list_conflicts"},
            {"tool": "sync_status"},
            {"list_resources": true},
            {"read_resource": "context://default/plan/q1"},
            {"tool": "read_document", "args": {"key": "shared"}},
            {"tool": "search_documents", "args": {"query": "TIME"}},
        ]),
    );
    assert_eq!(r[0]["server"], "context");
    let tools: Vec<&str> = r[1]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for t in [
        "read_document",
        "write_document",
        "delete_document",
        "list_documents",
        "search_documents",
        "history",
        "diff",
        "restore_version",
        "list_conflicts",
        "resolve_conflict",
        "sync_status",
    ] {
        assert!(tools.contains(&t), "{t} in {tools:?}");
    }
    assert!(
        r[1]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["description"].as_str().unwrap().len() > 40),
        "every tool described: {}",
        r[1]
    );
    let written = ok(&r[3]);
    let session_id = written["version"]["session"].as_str().unwrap().to_string();
    assert_eq!(written["version"]["author"], "mcp", "the client's name");
    assert_eq!(ok(&r[4])["body"], "ship it on time\n");
    assert_eq!(ok(&r[5])["documents"][0]["key"], "plan/q1");
    let history = &ok(&r[6])["versions"];
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[1]["session"], session_id.as_str());
    assert!(
        ok(&r[7])["diff"]
            .as_str()
            .unwrap()
            .contains("+ship it on time")
    );
    // Malformed calls: errors, and the server goes on answering.
    assert!(
        r[8]["is_error"] == true || r[8]["protocol_error"].is_string(),
        "{}",
        r[8]
    );
    assert_eq!(r[9]["is_error"], true, "{}", r[9]);
    assert!(
        r[9]["text"].as_str().unwrap().contains("no/such"),
        "{}",
        r[9]
    );
    assert!(
        r[10]["is_error"] == true || r[10]["protocol_error"].is_string(),
        "{}",
        r[10]
    );
    let conflicts = &ok(&r[11])["conflicts"];
    assert_eq!(conflicts.as_array().unwrap().len(), 1, "{conflicts}");
    assert_eq!(conflicts[0]["key"], "shared");
    ok(&r[12]);
    assert_eq!(ok(&r[13])["conflicts"], json!([]));
    ok(&r[14]);
    let resources = r[15]["resources"].as_array().unwrap();
    assert!(
        resources.contains(&json!("context://default/plan/q1")),
        "{resources:?}"
    );
    assert_eq!(r[16]["text"], "ship it on time\n");
    assert_eq!(
        ok(&r[17])["body"],
        "ONE\ntwo\nTHREE\n",
        "the merge of both sides"
    );
    // The terminal sees what the agent wrote, and who.
    let h = a.run(&["history", "plan/q1", "--json"]).code(0).json();
    assert_eq!(h[0]["session"], session_id.as_str());
}

#[test]
fn an_agents_session_is_shown_and_reverted_on_another_machine() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put("plan", "the person's plan\n");
    a.put("notes", "the person's notes\n");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let r = session(
        &a,
        json!([
            {"tool": "write_document", "args": {"key": "plan", "body": "the agent's plan\n"}},
            {"tool": "write_document", "args": {"key": "notes", "body": "the agent's notes\n"}},
            {"tool": "write_document", "args": {"key": "new", "body": "the agent's new doc\n"}},
            {"tool": "delete_document", "args": {"key": "plan"}},
            {"tool": "restore_version", "args": {"key": "plan", "version": "no-such"}},
        ]),
    );
    let session_id = ok(&r[1])["version"]["session"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(r[5]["is_error"], true, "{}", r[5]);
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let h = b.run(&["history", "notes", "--json"]).code(0).json();
    assert_eq!(h[0]["author"], "mcp");
    assert_eq!(h[0]["session"], session_id.as_str());
    // A person edits one of the agent's keys after it.
    b.run_with(
        &["put", "notes", "--author", "dana"],
        b"dana's notes\n",
        &[],
    )
    .code(0);
    let reverted = b
        .run(&["revert", "--session", &session_id, "--yes", "--json"])
        .code(0)
        .json();
    let actions: Vec<(&str, &str)> = reverted["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["key"].as_str().unwrap(), k["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [("new", "delete"), ("notes", "left"), ("plan", "restore")]
    );
    assert_eq!(b.get("plan"), "the person's plan\n");
    b.run(&["get", "new"]).code(1);
    assert_eq!(b.get("notes"), "dana's notes\n");
    // The revert syncs back.
    b.sync("push", &folder, &[]).code(0);
    a.sync("pull", &folder, &[]).code(0);
    assert_eq!(a.get("plan"), "the person's plan\n");
    a.run(&["get", "new"]).code(1);
    assert_eq!(a.get("notes"), "dana's notes\n");
}
