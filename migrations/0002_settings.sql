-- Schema 2: settings of this home (the default remote set by `context sync remote PATH`, ...).
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
