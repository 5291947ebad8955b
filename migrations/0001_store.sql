-- Schema 1: the document store.
--
-- Every write is an immutable row of document_versions: a version (kind 0, with a body) or a
-- tombstone (kind 1, a delete). Nothing is updated in place. The current state of a key is the
-- row that wins last-writer-wins among that key's rows: highest hlc, then peer_id, then
-- version_id. It is derived on every read, so it can never disagree with the history.

-- The peer this home is, created on first use. Exactly one row.
CREATE TABLE peer (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    peer_id     BLOB    NOT NULL CHECK (length(peer_id) = 16),
    generation  INTEGER NOT NULL CHECK (generation >= 1),
    host        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL            -- milliseconds since the Unix epoch
);

CREATE TABLE document_versions (
    seq         INTEGER PRIMARY KEY,        -- local change-log order: what push reads
    version_id  BLOB    NOT NULL UNIQUE CHECK (length(version_id) = 16),  -- UUID v7
    project     TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    kind        INTEGER NOT NULL CHECK (kind IN (0, 1)),                  -- 0 version, 1 tombstone
    body        BLOB,
    body_sha256 BLOB,
    hlc         INTEGER NOT NULL,           -- hybrid logical clock: wall ms << 16 | counter
    peer_id     BLOB    NOT NULL CHECK (length(peer_id) = 16),            -- the peer that wrote it
    parent_id   BLOB,                       -- the row that was current when this one was written
    expires_at  INTEGER,                    -- absolute expiry, milliseconds since the Unix epoch
    CHECK ((kind = 0 AND body IS NOT NULL AND length(body_sha256) = 32)
        OR (kind = 1 AND body IS NULL AND body_sha256 IS NULL AND expires_at IS NULL))
);

-- The history of one key in last-writer-wins order; its last entry is the current state.
CREATE INDEX document_versions_by_key
    ON document_versions (project, key, hlc, peer_id, version_id);
