-- Schema 8: how far up a version's ancestry a push looked for a delta base (the parent is 1).
-- Before it, only the parent was tried (NULL: 1), so `context sync repair` rebuilds a
-- changeset with the rule it was written with, byte for byte.
ALTER TABLE published ADD COLUMN delta_reach INTEGER;
