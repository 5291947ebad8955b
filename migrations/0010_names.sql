-- Schema 10: a machine's name, fixed when its home is first used.
--
-- `peer.host` stays the host the home was created on (a home copied to another machine is told
-- by it); `peer.name` is what this machine is called everywhere (changeset headers, manifests,
-- snapshots, `history`): the creation host at first, changed only by `context sync name NAME`.
-- A run's environment (`CONTEXT_HOST`, the host name) never renames it.
ALTER TABLE peer ADD COLUMN name TEXT;
UPDATE peer SET name = host;
