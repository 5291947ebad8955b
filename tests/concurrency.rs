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
