-- Schema 9: what a refused pull would have brought, kept so that a person can see it and
-- settle it before pulling again.
--
-- A pull that would overwrite an unseen local change is rolled back whole (exit 3). The
-- incoming side of each such key (the version that would have won) is kept here, with its body,
-- so that `conflicts` lists it, `diff KEY mine theirs` shows it and `resolve` settles it: the
-- resolution settles this version by id (table `settles`), so when the next pull brings it, it
-- is already settled. A row leaves when a pull applies its version or a resolution settles it.
CREATE TABLE held_versions (
    held_id     INTEGER PRIMARY KEY,
    version_id  BLOB    NOT NULL UNIQUE CHECK (length(version_id) = 16),
    project     TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    kind        INTEGER NOT NULL CHECK (kind IN (0, 1)),
    body        BLOB,
    body_sha256 BLOB,
    hlc         INTEGER NOT NULL,
    peer_id     BLOB    NOT NULL CHECK (length(peer_id) = 16),
    parent_id   BLOB,
    expires_at  INTEGER,
    ancestor_id BLOB,                       -- the newest row both sides descend from, if any
    held_at     INTEGER NOT NULL            -- when the refused pull met it (ms since the epoch)
);
CREATE INDEX held_versions_by_key ON held_versions (project, key);
