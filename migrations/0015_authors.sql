-- Schema 15: who wrote each version and tombstone.
--
-- `author` is a short label (`--author NAME`, else `$CONTEXT_AUTHOR`, else the login name; an
-- MCP client's name), `session` the session an agent wrote it in (an MCP session, or
-- `$CONTEXT_SESSION`). NULL for rows written before, and for rows a peer that did not record
-- them sent. They travel with the row (changeset format 1.4), so every machine shows the same.
ALTER TABLE document_versions ADD COLUMN author TEXT;
ALTER TABLE document_versions ADD COLUMN session TEXT;
ALTER TABLE held_versions ADD COLUMN author TEXT;
ALTER TABLE held_versions ADD COLUMN session TEXT;
CREATE INDEX document_versions_by_session ON document_versions (session) WHERE session IS NOT NULL;
