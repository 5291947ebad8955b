-- Schema 3: sync state.

-- Every remote this home has pushed to or pulled from, by location.
CREATE TABLE remotes (
    remote_id  INTEGER PRIMARY KEY,
    location   TEXT NOT NULL UNIQUE
);

-- The remote a row was pulled from (NULL: written here). Push never sends a row back to the
-- remote it came from, but passes it on to others.
ALTER TABLE document_versions ADD COLUMN received_from INTEGER REFERENCES remotes (remote_id);

-- This peer's own streams: per remote and generation, the last changeset published and the
-- local change-log position it covers.
CREATE TABLE pushed (
    remote_id      INTEGER NOT NULL REFERENCES remotes (remote_id),
    generation     INTEGER NOT NULL,
    last_seq       INTEGER NOT NULL,   -- changeset sequence number; 0 before the first
    last_checksum  BLOB,               -- that changeset's checksum (the chain); NULL before
    high_water     INTEGER NOT NULL,   -- document_versions.seq covered so far
    PRIMARY KEY (remote_id, generation)
) WITHOUT ROWID;

-- How far this peer has applied every other stream of every remote.
CREATE TABLE applied (
    remote_id      INTEGER NOT NULL REFERENCES remotes (remote_id),
    peer_id        BLOB    NOT NULL,
    generation     INTEGER NOT NULL,
    last_seq       INTEGER NOT NULL,
    last_checksum  BLOB    NOT NULL,
    PRIMARY KEY (remote_id, peer_id, generation)
) WITHOUT ROWID;

-- The last runs of push and pull (bounded): what `sync status` and `sync log` show.
CREATE TABLE sync_runs (
    run_id       INTEGER PRIMARY KEY,
    remote_id    INTEGER REFERENCES remotes (remote_id),
    command      TEXT    NOT NULL,     -- push | pull
    scenario_id  TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL,
    exit_status  INTEGER NOT NULL,
    outcome      TEXT    NOT NULL,     -- ok | diverged | conflict | bad-data | error
    summary      TEXT    NOT NULL      -- JSON: counts per project, conflicts, files
);
