//! The schema over time: old databases are brought forward, newer ones are refused.

use crate::util::Home;

/// The version `migrations/` brings a database to; bump with each new migration file.
const LATEST: i64 = 15;

fn user_version(db: &std::path::Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_new_home_gets_the_latest_schema() {
    let home = Home::new();
    home.put("k", "v");
    assert_eq!(user_version(&home.db()), LATEST);
}

/// `fixtures/db/schema-1.db` was made by the first schema (`cargo run --example
/// make-fixtures`): its documents read back through today's binary, which migrates it.
#[test]
fn a_database_from_the_first_schema_is_migrated_forward() {
    let home = Home::new();
    std::fs::copy("fixtures/db/schema-1.db", home.db()).unwrap();
    assert_eq!(user_version(&home.db()), 1);

    assert_eq!(home.get("research/background-sync"), "second draft\n");
    assert_eq!(
        home.ok(&["get", "plan/q1", "--project", "plans"]),
        "ship it\n"
    );
    let history = home
        .run(&["history", "research/background-sync", "--json"])
        .code(0)
        .json();
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["parent"], history[1]["id"]);
    assert_eq!(
        home.ok(&["ls", "--deleted"]),
        "gone (deleted)\nresearch/background-sync\n"
    );
    assert_eq!(user_version(&home.db()), LATEST);

    // The migrated database takes new writes on the old history.
    home.put("research/background-sync", "third draft\n");
    let history = home
        .run(&["history", "research/background-sync", "--json"])
        .code(0)
        .json();
    assert_eq!(history[1]["id"], history[0]["parent"]);
    let conn = rusqlite::Connection::open(home.db()).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_database_from_a_newer_binary_is_refused_untouched() {
    let home = Home::new();
    home.put("k", "v");
    let conn = rusqlite::Connection::open(home.db()).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let before = std::fs::read(home.db()).unwrap();

    let run = home.run(&["get", "k"]).code(1);
    assert!(run.stderr.contains("newer"), "{}", run.stderr);
    assert!(run.stderr.contains("99"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&home.db().display().to_string()),
        "{}",
        run.stderr
    );
    home.run_with(&["put", "k"], b"w", &[]).code(1);
    assert_eq!(user_version(&home.db()), 99);
    assert_eq!(std::fs::read(home.db()).unwrap(), before);
}

#[test]
fn a_file_that_is_not_a_database_is_named_in_the_error() {
    let home = Home::new();
    std::fs::write(
        home.db(),
        "this is not SQLite, it is a text file ".repeat(200),
    )
    .unwrap();
    let run = home.run(&["ls"]).code(1);
    assert!(run.stderr.contains("context.db"), "{}", run.stderr);
}
