//! `webdav://` remotes through the real binary against a real WebDAV server (wsgidav) on
//! loopback: every sync command, plain and encrypted, prune and bootstrap, credentials from the
//! environment or a netrc file, and the refusals a user meets: wrong credentials, a missing
//! folder, and a server that ignores `If-None-Match` (which could let one machine's changeset
//! replace another's): refused, nothing written.

use crate::util::webdav::{self, DavFolder, PASSWORD, USER};
use crate::util::{Home, Run};

fn home() -> Home {
    Home::new().with_envs(webdav::env())
}

fn sync(h: &Home, sub: &str, folder: &DavFolder, args: &[&str]) -> Run {
    h.sync_at(sub, &folder.url, args)
}

#[test]
fn every_sync_command_works_over_webdav() {
    let (a, b, folder) = (home(), home(), DavFolder::new());
    a.put("plan/q1", "ship it");
    let pushed = sync(&a, "push", &folder, &["--json"]).code(0).json();
    assert_eq!(pushed["entries"], 1);
    assert_eq!(pushed["remote"], folder.url);
    sync(&b, "pull", &folder, &[]).code(0);
    assert_eq!(b.get("plan/q1"), "ship it");
    // A conflict: refused, then forced, as over a folder.
    a.put("plan/q1", "from a");
    b.put("plan/q1", "from b");
    sync(&b, "push", &folder, &[]).code(0);
    sync(&a, "pull", &folder, &[]).code(3);
    sync(&a, "pull", &folder, &["--force"]).code(0);
    assert_eq!(a.get("plan/q1"), "from b");
    a.ok(&["sync", "remote", &folder.url]);
    a.ok(&["sync"]);
    let status = a.run(&["sync", "status", "--json"]).code(0).json();
    assert_eq!(status["remote"], folder.url);
    assert_eq!(status["ahead"], 0);
    a.run(&["sync", "verify"]).code(0);
    // The files are where a folder remote keeps them, on the server's disk; the probe of
    // If-None-Match left nothing behind.
    let entries: Vec<String> = std::fs::read_dir(&folder.path)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 2, "a folder per peer: {entries:?}");

    // Prune, then a new machine bootstraps from what is left.
    for round in 0..3 {
        a.put(&format!("k{round}"), &format!("v{round}"));
        sync(&a, "push", &folder, &[]).code(0);
        b.run(&["sync", "--remote", &folder.url]).code(0);
    }
    a.run(&["sync", "--remote", &folder.url]).code(0);
    let pruned = sync(&a, "prune", &folder, &["--json"]).code(0).json();
    assert!(
        !pruned["removed"].as_array().unwrap().is_empty(),
        "{pruned}"
    );
    sync(&a, "verify", &folder, &[]).code(0);
    let c = home();
    sync(&c, "pull", &folder, &[]).code(0);
    assert_eq!(c.version_ids(), a.version_ids());
}

#[test]
fn two_homes_sync_through_an_encrypted_webdav_folder_and_it_holds_no_plaintext() {
    let (a, b, folder) = (home(), home(), DavFolder::new());
    a.run(&["sync", "init", "--encrypt", "--remote", &folder.url])
        .code(0);
    a.put("plan", "the secret plan");
    sync(&a, "push", &folder, &[]).code(0);
    let line = a
        .run(&["sync", "key", "export", "--remote", &folder.url])
        .code(0)
        .stdout;
    b.run_with(
        &["sync", "key", "import", "--remote", &folder.url],
        line.as_bytes(),
        &[],
    )
    .code(0);
    sync(&b, "pull", &folder, &[]).code(0);
    assert_eq!(b.get("plan"), "the secret plan");
    b.put("reply", "a secret reply");
    b.run(&["sync", "--remote", &folder.url]).code(0);
    a.run(&["sync", "--remote", &folder.url]).code(0);
    assert_eq!(a.get("reply"), "a secret reply");
    let files = crate::util::tree_of(&folder.path);
    assert!(files.len() >= 4, "{}", files.len());
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("secret") && !text.contains("plan"),
            "{} holds plaintext",
            path.display()
        );
    }
    // A home without the key is refused, and writes nothing.
    let c = home();
    c.put("mine", "x");
    let refused = sync(&c, "push", &folder, &[]).code(1);
    assert!(refused.stderr.contains("key"), "{}", refused.stderr);
}

#[test]
fn a_server_that_ignores_if_none_match_is_refused_and_nothing_is_written() {
    let folder = DavFolder::on(webdav::ignoring_server());
    let a = home();
    a.put("plan", "x");
    let refused = sync(&a, "push", &folder, &[]).code(1);
    assert!(
        refused.stderr.contains("If-None-Match") && refused.stderr.contains(&folder.url),
        "{}",
        refused.stderr
    );
    // No changeset, no manifest, no probe object: nothing of ours.
    let files = crate::util::tree_of(&folder.path);
    assert!(files.is_empty(), "{files:?}");
    // Reading is no risk: a pull of an empty folder is fine.
    sync(&a, "pull", &folder, &[]).code(0);
}

#[test]
fn credentials_come_from_the_environment_or_netrc_and_a_refusal_is_named() {
    let folder = DavFolder::new();
    let writer = home();
    writer.put("plan", "x");
    sync(&writer, "push", &folder, &[]).code(0);

    // Wrong password: exit 1 naming the status and where credentials come from.
    let wrong = Home::new()
        .with_env("CONTEXT_WEBDAV_USER", USER)
        .with_env("CONTEXT_WEBDAV_PASSWORD", "wrong");
    let refused = sync(&wrong, "pull", &folder, &[]).code(1);
    assert!(
        refused.stderr.contains("401") && refused.stderr.contains("CONTEXT_WEBDAV_USER"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("wrong"), "{}", refused.stderr);

    // None at all: the same refusal (the server asks for them).
    let none = Home::new().with_env("NETRC", "/nonexistent/netrc");
    sync(&none, "pull", &folder, &[]).code(1);

    // A netrc file, as curl and git read it: the host's machine line.
    let dir = tempfile::tempdir().unwrap();
    let netrc = dir.path().join("netrc");
    std::fs::write(
        &netrc,
        format!(
            "machine elsewhere login a password b\n\
             machine 127.0.0.1 login {USER} password {PASSWORD}\n"
        ),
    )
    .unwrap();
    let reader = Home::new().with_env("NETRC", netrc.to_str().unwrap());
    sync(&reader, "pull", &folder, &[]).code(0);
    assert_eq!(reader.get("plan"), "x");

    // A password in the URL is refused before anything is sent, and never shown.
    let with_password = folder.url.replacen("webdav://", "webdav://me:hunter2@", 1);
    let refused = reader
        .run(&["sync", "pull", "--remote", &with_password])
        .code(2);
    assert!(!refused.stderr.contains("hunter2"), "{}", refused.stderr);
}

#[test]
fn a_missing_folder_or_server_exits_1_naming_it() {
    let a = home();
    let folder = DavFolder::new();
    let missing = format!("{}/not-there", folder.url);
    let run = a.run(&["sync", "remote", &missing]).code(1);
    assert!(run.stderr.contains("not-there"), "{}", run.stderr);
    let port = crate::util::server::free_port();
    let down = format!("webdav://127.0.0.1:{port}/dav");
    let run = a
        .run_with(
            &["sync", "pull", "--remote", &down],
            b"",
            &[("CONTEXT_RETRY_BUDGET", "1s")],
        )
        .code(1);
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
}
