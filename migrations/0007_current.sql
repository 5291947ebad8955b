-- Schema 7: the current row of every key, kept by every write and every import, so that
-- `ls` costs what it lists (not every version of the project) and `projects` what there is.
-- It always names the row that wins last-writer-wins among the key's rows (the store model
-- test checks it against history after every step).
CREATE TABLE current_versions (
    project  TEXT    NOT NULL,
    key      TEXT    NOT NULL,
    seq      INTEGER NOT NULL,   -- document_versions.seq of the current row
    PRIMARY KEY (project, key)
) WITHOUT ROWID;

INSERT INTO current_versions (project, key, seq)
    SELECT project, key, seq FROM (
        SELECT project, key, seq, ROW_NUMBER() OVER (
            PARTITION BY project, key ORDER BY hlc DESC, peer_id DESC, version_id DESC
        ) AS rank
        FROM document_versions
    ) WHERE rank = 1;
