-- Schema 11: full-text search (`context search`), SQLite's FTS5.
--
-- One index entry per version whose body is text (no NUL byte), its rowid the version's `seq`:
-- the current versions are those `current_versions` names, every version for
-- `--all-versions`. Contentless (the bodies stay in `document_versions` only, not twice), with
-- no positions or sizes (`detail = none`, `columnsize = 0`: a search finds documents holding
-- every word, and the index costs a local write about 1.2x, not 1.5x).
--
-- A version written here is indexed by the trigger below, in the write's own transaction.
-- A version a pull brought (`received_from` set) is indexed by the next search before it
-- looks (`search.indexed-through`: every imported row up to that `seq` is in): tokenizing
-- costs about 20 us a version, which a new machine's first pull of everything should not pay
-- three times over; the first search after it does, once. Either way no search ever misses a
-- version the database holds. This migration indexes what a home already has.
CREATE VIRTUAL TABLE search_index USING fts5(
    body,
    content = '',
    columnsize = 0,
    detail = none,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Merge segments less often than the default (4): each durable put writes one, and merging
-- them is most of what the index adds to a put.
INSERT INTO search_index (search_index, rank) VALUES ('automerge', 16);

CREATE TRIGGER search_index_insert AFTER INSERT ON document_versions
WHEN new.kind = 0 AND new.received_from IS NULL AND instr(new.body, x'00') = 0
BEGIN
    INSERT INTO search_index (rowid, body) VALUES (new.seq, CAST(new.body AS TEXT));
END;

INSERT INTO search_index (rowid, body)
    SELECT seq, CAST(body AS TEXT) FROM document_versions
    WHERE kind = 0 AND instr(body, x'00') = 0;

INSERT OR REPLACE INTO settings (name, value)
    SELECT 'search.indexed-through', CAST(coalesce(max(seq), 0) AS TEXT) FROM document_versions;
