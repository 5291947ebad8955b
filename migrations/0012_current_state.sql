-- Schema 12: what `ls` shows of a key, beside its current row: the row's kind and expiry, so
-- that listing the keys of a project (and whether each is live, deleted or expired) reads this
-- table alone, in key order, and not one row of `document_versions` per key, scattered over a
-- table of millions (`ls` of 200,000 keys at 2M versions: 0.25-0.38 s, most of it those
-- lookups). Kept with `seq` by every write and every import.
ALTER TABLE current_versions ADD COLUMN kind INTEGER;
ALTER TABLE current_versions ADD COLUMN expires_at INTEGER;
UPDATE current_versions SET
    kind = (SELECT d.kind FROM document_versions d WHERE d.seq = current_versions.seq),
    expires_at = (SELECT d.expires_at FROM document_versions d WHERE d.seq = current_versions.seq);
