//! Several processes writing into one home at once.

use std::process::Stdio;

use crate::util::Home;

/// 4 processes × 200 puts at once, on shared and private keys: every version lands, and no
/// "database is locked" reaches the user (writers queue on SQLite's busy timeout).
#[test]
fn four_writers_at_once_lose_nothing() {
    const WRITERS: usize = 4;
    const PUTS: usize = 200;
    let home = Home::new();
    // Each writer is a shell loop of real `context put` processes, started together on a home
    // that does not exist yet, so creation and migration race too.
    let script = format!(
        "for i in $(seq 1 {PUTS}); do \
           if [ $((i % 2)) -eq 0 ]; then key=shared/$((i % 5)); else key=own/$W/$i; fi; \
           echo \"$W $i\" | \"$BIN\" put \"$key\" >/dev/null || exit 1; \
         done"
    );
    let children: Vec<_> = (0..WRITERS)
        .map(|w| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .env("W", w.to_string())
                .env("BIN", crate::util::BIN)
                .env("CONTEXT_HOME", home.path())
                .env_remove("CONTEXT_PROJECT")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn writer")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a writer failed: {stderr}");
        assert!(!stderr.contains("locked"), "{stderr}");
    }

    let conn = rusqlite::Connection::open(home.db()).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM document_versions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows as usize, WRITERS * PUTS);
    // Every body written is there, once.
    let distinct: i64 = conn
        .query_row(
            "SELECT count(DISTINCT CAST(body AS TEXT)) FROM document_versions",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(distinct as usize, WRITERS * PUTS);
    // The shared keys' histories are chains: each version's parent was the current one.
    for k in 0..5 {
        let history = home
            .run(&["history", &format!("shared/{k}"), "--json"])
            .code(0)
            .json();
        let list = history.as_array().unwrap();
        for pair in list.windows(2) {
            assert_eq!(pair[0]["parent"], pair[1]["id"], "shared/{k}");
        }
    }
    let peers: i64 = conn
        .query_row("SELECT count(*) FROM peer", [], |r| r.get(0))
        .unwrap();
    assert_eq!(peers, 1, "one peer identity however many processes raced");
}

/// Three pulls started at once on one home: one applies, the others are busy (exit 4) or wait
/// for it (`--wait`); nothing is lost or applied twice.
#[test]
fn concurrent_pulls_on_one_home_take_turns() {
    let (a, b, folder) = (Home::new(), Home::new(), crate::util::Folder::new());
    a.bulk_put("big", 2_000, 2_000);
    a.sync("push", &folder, &[]).code(0);
    let total = a.rows();

    let spawn = |wait: &str| {
        b.command(&["sync", "pull", "--remote", folder.arg(), "--wait", wait])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..3).map(|_| spawn("0")).collect();
    let codes: Vec<(i32, String)> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect();
    assert!(codes.iter().all(|(c, _)| *c == 0 || *c == 4), "{codes:?}");
    assert!(codes.iter().any(|(c, _)| *c == 0), "{codes:?}");
    for (code, stderr) in &codes {
        if *code == 4 {
            assert!(stderr.contains("another sync"), "{stderr}");
        }
    }
    assert_eq!(b.rows(), total);
    assert_eq!(a.version_ids(), b.version_ids());

    // With --wait they queue instead, and all succeed.
    a.bulk_put("more", 500, 2_000);
    a.sync("push", &folder, &[]).code(0);
    let children: Vec<_> = (0..3).map(|_| spawn("60")).collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(a.version_ids(), b.version_ids());
}

/// A large pull beside 4 processes writing with `context put`: every write lands, the pull
/// completes, and no "database is locked" reaches anyone.
#[test]
fn a_pull_beside_writers_loses_nothing() {
    let (a, b, folder) = (Home::new(), Home::new(), crate::util::Folder::new());
    a.bulk_put("big", 3_000, 3_000);
    a.sync("push", &folder, &[]).code(0);
    let remote_rows = a.rows();
    b.put("warm", "up");

    let script = "for i in $(seq 1 50); do echo \"$W $i\" | \"$BIN\" put \"w/$W/$i\" >/dev/null || exit 1; done";
    let writers: Vec<_> = (0..4)
        .map(|w| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .env("W", w.to_string())
                .env("BIN", crate::util::BIN)
                .env("CONTEXT_HOME", b.path())
                .env_remove("CONTEXT_PROJECT")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let pull = b.sync("pull", &folder, &[]);
    for w in writers {
        let out = w.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a writer failed: {stderr}");
        assert!(!stderr.contains("locked"), "{stderr}");
    }
    pull.code(0);
    assert_eq!(b.rows(), remote_rows + 1 + 200);
    b.assert_intact();
}
