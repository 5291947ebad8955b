//! `context search QUERY`: full-text search over the documents of a project, as grep is over
//! files (exit 1 when nothing matches).

use std::io::Write;

use clap::Args;
use serde::Serialize;

use context::clock::rfc3339;
use context::outcome::Outcome;
use context::store::{Store, Version};

use super::documents::ProjectFlag;
use super::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Every word must appear (any order, any case, accents ignored); `word*` matches words that begin so.\n\nExamples:\n  context search litestream wal\n  context search 'sync*' --project work\n  context search encrypted --all-versions --json"
)]
pub struct Search {
    /// The words to look for.
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// Every version, not only the current one of each key.
    #[arg(long)]
    all_versions: bool,
    /// Print a JSON array (`[]` when nothing matches).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    project: ProjectFlag,
}

/// One match in `search --json`.
#[derive(Serialize)]
struct HitJson {
    key: String,
    project: String,
    version: String,
    created_at: String,
    /// Whether it is the key's current version (always, without `--all-versions`).
    current: bool,
    /// The first line holding a word of the query (empty if none does as typed).
    line: String,
}

impl Search {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let mut store = env.open_store_to_read()?;
        let project = env.project(self.project.project);
        let query = self.query.join(" ");
        let hits = store.search(&project, &query, self.all_versions)?;
        let words = context::store::query_words(&query);
        let mut list = Vec::with_capacity(hits.len());
        for v in &hits {
            list.push(hit_json(&store, v, &words, self.all_versions)?);
        }
        if self.json {
            serde_json::to_writer_pretty(&mut *out, &list).map_err(std::io::Error::from)?;
            writeln!(out)?;
        } else {
            let ids: Vec<_> = hits.iter().map(|v| v.id).collect();
            let len = context::ids::short_len(&ids);
            for (h, v) in list.iter().zip(&hits) {
                if self.all_versions {
                    writeln!(out, "{}@{}: {}", h.key, v.id.short(len), h.line)?;
                } else {
                    writeln!(out, "{}: {}", h.key, h.line)?;
                }
            }
        }
        Ok(if list.is_empty() {
            Outcome::Error
        } else {
            Outcome::Ok
        })
    }
}

fn hit_json(
    store: &Store,
    v: &Version,
    words: &[String],
    all_versions: bool,
) -> Result<HitJson, CliError> {
    let line = context::store::matching_line(&store.body_of(v)?, words);
    // Without --all-versions every hit is a current version: no need to look.
    let current = !all_versions
        || store
            .current(&v.project, &v.key)?
            .is_some_and(|c| c.id == v.id);
    Ok(HitJson {
        key: v.key.clone(),
        project: v.project.clone(),
        version: v.id.to_string(),
        created_at: rfc3339(v.hlc.wall_ms()),
        current,
        line,
    })
}
