-- Schema 6: what rebuilds each changeset this peer published, byte for byte, so that
-- `context sync repair` can put back one that was damaged or lost in the remote: the rows it
-- holds (change-log positions after `after_seq` up to `last_seq`, leaving out those pulled
-- from `excluded_remote`), the header's time and host, and the checksum it must come out with.
CREATE TABLE published (
    remote_id        INTEGER NOT NULL REFERENCES remotes (remote_id),
    generation       INTEGER NOT NULL,
    seq              INTEGER NOT NULL,
    after_seq        INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL,
    excluded_remote  INTEGER,
    created_at       INTEGER NOT NULL,
    host             TEXT    NOT NULL,
    checksum         BLOB    NOT NULL,
    -- The smallest body it tried as a delta against the rows of this stream it names (NULL:
    -- no deltas, e.g. in an encrypted remote).
    delta_min        INTEGER,
    PRIMARY KEY (remote_id, generation, seq)
) WITHOUT ROWID;
