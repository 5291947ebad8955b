//! Several named remotes (`context sync remote add/list/remove/rename`): bare `context sync`
//! covers each in turn, so a machine between two others relays with no flags; one failing
//! remote does not stop the others; `sync status` and `status --check` report per remote; the
//! default remote of earlier versions becomes the one named `default`, nothing re-pushed.

use crate::util::{Folder, Home};

#[test]
fn remotes_are_added_listed_renamed_and_removed_without_touching_them() {
    let (h, folder, other) = (Home::new(), Folder::new(), Folder::new());
    h.ok(&["sync", "remote", "add", "nas", folder.arg()]);
    h.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        other.arg(),
        "--projects",
        "shared,plans",
    ]);
    let list = h.run(&["sync", "remote", "list", "--json"]).code(0).json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "nas");
    assert_eq!(list[0]["projects"], serde_json::Value::Null);
    assert_eq!(list[0]["encrypted"], false);
    assert_eq!(list[0]["last_sync_at"], serde_json::Value::Null);
    assert_eq!(list[1]["name"], "share");
    assert_eq!(list[1]["projects"], serde_json::json!(["plans", "shared"]));
    assert!(
        list[1]["url"]
            .as_str()
            .unwrap()
            .ends_with(other.path().file_name().unwrap().to_str().unwrap())
    );

    // The same name for another place is refused; the same name and URL sets the projects.
    let taken = h
        .run(&["sync", "remote", "add", "nas", other.arg()])
        .code(2);
    assert!(
        taken.stderr.contains("already has a remote named"),
        "{}",
        taken.stderr
    );
    h.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        other.arg(),
        "--projects",
        "shared",
    ]);
    let list = h.run(&["sync", "remote", "list", "--json"]).code(0).json();
    assert_eq!(list[1]["projects"], serde_json::json!(["shared"]));
    // Names are never paths or URLs.
    h.run(&["sync", "remote", "add", "a/b", folder.arg()])
        .code(2);
    // A missing place is refused before it is named.
    let missing = folder.path().join("not-there");
    h.run(&["sync", "remote", "add", "gone", missing.to_str().unwrap()])
        .code(1);

    // `--remote NAME` reaches it; a name nobody gave is said so, with the names there are.
    h.put("k", "v");
    let pushed = h
        .run(&["sync", "push", "--remote", "nas", "--json"])
        .code(0)
        .json();
    assert_eq!(pushed["entries"], 1);
    let unknown = h.run(&["sync", "push", "--remote", "nope"]).code(1);
    assert!(
        unknown.stderr.contains("no remote named \"nope\"") && unknown.stderr.contains("nas"),
        "{}",
        unknown.stderr
    );
    let list = h.run(&["sync", "remote", "list", "--json"]).code(0).json();
    assert_eq!(
        list[0]["last_sync_at"],
        serde_json::Value::Null,
        "a push alone is no sync"
    );
    h.ok(&["sync", "--remote", "nas"]);
    let list = h.run(&["sync", "remote", "list", "--json"]).code(0).json();
    assert!(list[0]["last_sync_at"].is_string(), "{list}");

    // Rename and remove touch nothing in the remote; its records stay (nothing re-pushed).
    let before = crate::util::tree_of(folder.path());
    h.ok(&["sync", "remote", "rename", "nas", "home-server"]);
    h.run(&["sync", "remote", "rename", "home-server", "share"])
        .code(2);
    let pushed = h
        .run(&["sync", "push", "--remote", "home-server", "--json"])
        .code(0)
        .json();
    assert_eq!(pushed["entries"], 0, "renaming re-pushes nothing");
    h.ok(&["sync", "remote", "remove", "home-server"]);
    assert_eq!(crate::util::tree_of(folder.path()), before);
    h.run(&["sync", "remote", "remove", "home-server"]).code(1);
    let text = h.ok(&["sync", "remote", "list"]);
    assert!(text.starts_with("share\t"), "{text}");
}

/// A desktop between a laptop's folder and a server's: bare `context sync` on it relays both
/// ways with no flags; a remote that fails does not stop the other; status covers each.
#[test]
fn bare_sync_covers_every_remote_and_relays_between_them() {
    let (laptop, desktop, server) = (Home::new(), Home::new(), Home::new());
    let (near, far) = (Folder::new(), Folder::new());
    laptop.ok(&["sync", "remote", "add", "desktop", near.arg()]);
    desktop.ok(&["sync", "remote", "add", "laptop", near.arg()]);
    desktop.ok(&["sync", "remote", "add", "server", far.arg()]);
    server.ok(&["sync", "remote", "add", "desktop", far.arg()]);

    laptop.put("from/laptop", "written on the laptop");
    server.put("from/server", "written on the server");
    laptop.ok(&["sync"]);
    server.ok(&["sync"]);
    // Each remote is pulled then pushed in turn (by name): what the desktop pulls from the
    // server reaches the laptop's folder at its next run.
    desktop.ok(&["sync"]);
    desktop.ok(&["sync"]);
    laptop.ok(&["sync"]);
    server.ok(&["sync"]);
    for h in [&laptop, &desktop, &server] {
        assert_eq!(h.get("from/laptop"), "written on the laptop");
        assert_eq!(h.get("from/server"), "written on the server");
    }

    // Status of every remote: one report each, by name.
    let status = desktop.run(&["sync", "status", "--json"]).code(0).json();
    let names: Vec<&str> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["laptop", "server"]);
    assert!(status.as_array().unwrap().iter().all(|s| s["ahead"] == 0));
    desktop.run(&["sync", "status", "--check"]).code(0);

    // The server's folder goes away: the laptop's still syncs; the exit status says 1, and
    // the failure names the remote.
    std::fs::remove_dir_all(far.path()).unwrap();
    laptop.put("later", "still reaches the desktop");
    laptop.ok(&["sync"]);
    let run = desktop.run(&["sync"]).code(1);
    assert!(run.stderr.contains("remote server"), "{}", run.stderr);
    assert_eq!(desktop.get("later"), "still reaches the desktop");
    let check = desktop.run(&["sync", "status", "--check"]).code(6);
    assert!(check.stdout.contains("remote server"), "{}", check.stdout);
    assert!(!check.stdout.contains("remote laptop"), "{}", check.stdout);
    // With several remotes, a command that takes one asks which.
    let which = desktop.run(&["sync", "push"]).code(1);
    assert!(which.stderr.contains("several remotes"), "{}", which.stderr);
}

/// The default remote of an earlier version (a setting) becomes the remote named `default`:
/// nothing is pushed again, and it is synced as before.
#[test]
fn the_default_remote_of_an_earlier_version_becomes_the_remote_named_default() {
    let (h, folder) = (Home::new(), Folder::new());
    h.put("k", "v");
    h.ok(&["sync", "remote", folder.arg()]);
    h.ok(&["sync"]);
    // The database as schema 12 left it: the default remote in the settings.
    let url = h.ok(&["sync", "remote"]).trim().to_string();
    {
        let db = rusqlite::Connection::open(h.db()).unwrap();
        db.execute_batch(&format!(
            "DROP TABLE named_remotes;
             ALTER TABLE published DROP COLUMN projects;
             ALTER TABLE published DROP COLUMN late;
             DROP INDEX document_versions_by_session;
             ALTER TABLE document_versions DROP COLUMN author;
             ALTER TABLE document_versions DROP COLUMN session;
             ALTER TABLE held_versions DROP COLUMN author;
             ALTER TABLE held_versions DROP COLUMN session;
             INSERT INTO settings (name, value) VALUES ('sync.remote', '{url}');
             PRAGMA user_version = 12;"
        ))
        .unwrap();
    }
    let list = h.run(&["sync", "remote", "list", "--json"]).code(0).json();
    assert_eq!(list[0]["name"], "default");
    assert_eq!(list[0]["url"], url.as_str());
    let pushed = h.run(&["sync", "push", "--json"]).code(0).json();
    assert_eq!(pushed["entries"], 0, "nothing pushed again");
    h.put("k2", "v2");
    let both = h.run(&["sync", "--json"]).code(0).json();
    assert_eq!(both["push"]["entries"], 1);
}
