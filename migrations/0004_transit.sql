-- Files this home found missing in a remote (the first changeset of a gap in a stream, or the
-- seal of a snapshot whose parts are not all there), and when it first met each. A file-sync
-- tool delivers files in any order and keeps the writer's times, so only this home's own
-- first sighting tells a file still in transit (younger than the grace) from one that is lost.
CREATE TABLE transit (
    remote_id      INTEGER NOT NULL REFERENCES remotes (remote_id),
    file           TEXT    NOT NULL,   -- relative to the remote
    first_seen_at  INTEGER NOT NULL,   -- ms since the epoch, this home's clock
    PRIMARY KEY (remote_id, file)
) WITHOUT ROWID;
