-- Schema 13: a home's named remotes, as git names them (`context sync remote add NAME URL`).
--
-- A named remote is what bare `context sync` covers; `url` is the location as the user gave
-- it (credentials are never part of one), `projects` the JSON array of the projects that
-- travel through it (NULL: all). What sync keeps of each remote (`remotes`, `pushed`,
-- `applied`) stays keyed by the canonical location: naming, renaming or forgetting a remote
-- re-pushes nothing. The default remote of earlier versions becomes the one named `default`.
CREATE TABLE named_remotes (
    name      TEXT PRIMARY KEY,
    url       TEXT NOT NULL,
    projects  TEXT,
    added_at  INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO named_remotes (name, url, projects, added_at)
    SELECT 'default', value, NULL, 0 FROM settings WHERE name = 'sync.remote';
DELETE FROM settings WHERE name = 'sync.remote';
