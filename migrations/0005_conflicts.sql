-- Schema 5: conflicts a person can settle.
--
-- A key's rows form a graph: each row points at its parent (the row that was current when it
-- was written) and, when its writer settled a conflict, at the losing rows it settled. A row
-- nothing points at is a head; a key with two heads of different content has an unsettled
-- conflict. Any write on a key (put, rm, restore, resolve) settles every head its writer holds.

-- Row `version_id` was written knowing `settled_id`, a concurrent row that had lost.
CREATE TABLE settles (
    version_id  BLOB NOT NULL,
    settled_id  BLOB NOT NULL,
    PRIMARY KEY (version_id, settled_id)
) WITHOUT ROWID;
CREATE INDEX settles_by_settled ON settles (settled_id);

-- Keys that may have an unsettled conflict: every key an import gave a row that was not a
-- fast-forward of its current one. A superset: `context conflicts` checks each exactly, and a
-- write that settles a key removes it.
CREATE TABLE conflict_candidates (
    project  TEXT NOT NULL,
    key      TEXT NOT NULL,
    PRIMARY KEY (project, key)
) WITHOUT ROWID;

-- The history index carries each row's parent, so that telling a key whose rows form one line
-- from one with a fork is a scan of the index alone (no row lookups).
DROP INDEX document_versions_by_key;
CREATE INDEX document_versions_by_key
    ON document_versions (project, key, hlc, peer_id, version_id, parent_id);

-- Keys of databases from before this schema with more than one head.
INSERT INTO conflict_candidates (project, key)
    SELECT project, key FROM document_versions
    GROUP BY project, key
    HAVING count(*) - count(DISTINCT parent_id) > 1;

-- The host each peer wrote its changesets on, as the last one read said: what output shows in
-- place of a peer id.
CREATE TABLE peer_hosts (
    peer_id  BLOB PRIMARY KEY CHECK (length(peer_id) = 16),
    host     TEXT NOT NULL
) WITHOUT ROWID;
