-- Schema 14: remotes that carry only some projects.
--
-- `published.projects`: the projects a published changeset's rows were taken from (a JSON
-- array; NULL: all), so that `sync repair` rebuilds it byte for byte and a push knows which
-- rows a reader of the stream holds (the bases of deltas).
-- `published.late`: 1 for a changeset of such a history, published below the stream's mark.
-- `named_remotes.backfill`: projects added to a remote's list whose history its next push
-- publishes (a JSON array; NULL: none), cleared once that push has published them.
ALTER TABLE published ADD COLUMN projects TEXT;
ALTER TABLE published ADD COLUMN late INTEGER NOT NULL DEFAULT 0;
ALTER TABLE named_remotes ADD COLUMN backfill TEXT;
