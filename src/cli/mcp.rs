//! `context mcp`: a Model Context Protocol server on stdio, which an MCP client (an agent)
//! launches from its configuration. Its tools read, write, delete, list, search, diff and
//! restore documents, show history and conflicts, settle one, and say how sync is doing; documents are
//! also resources (`context://PROJECT/KEY`).
//!
//! Every write is recorded as written by the client (its name from `initialize`) in this
//! server's session (a fresh id per connection): `context revert --session ID` takes back what
//! an agent did, on any machine. The server holds no transaction between calls (each call opens
//! the store, as a command would), so a sync, a `put` from a terminal and the server run side by
//! side; a write starts a background sync as a command's would. Bad input is a tool error (the
//! model reads why), never a crashed server.

use std::io::Write;

use clap::Args;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Json, RoleServer, ServerHandler, ServiceExt, schemars, tool, tool_router};
use serde::{Deserialize, Serialize};

use context::outcome::Outcome;
use context::record::Author;
use context::resolve;
use context::store::{Store, Version};

use super::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context mcp                       # what an MCP client runs (stdio)\n  # in the client's configuration: {\"mcpServers\": {\"context\": {\"command\": \"context\", \"args\": [\"mcp\"]}}}"
)]
pub struct Mcp {}

impl Mcp {
    pub fn run(self, _env: &Env, _out: &mut dyn Write) -> Result<Outcome, CliError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(CliError::Output)?;
        let session = uuid::Uuid::new_v4().to_string();
        tracing::info!(%session, "MCP server on stdio");
        runtime.block_on(async move {
            let server = Server::new(session);
            let running = server
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|e| CliError::Output(std::io::Error::other(e.to_string())))?;
            running
                .waiting()
                .await
                .map_err(|e| CliError::Output(std::io::Error::other(e.to_string())))?;
            Ok::<(), CliError>(())
        })?;
        Ok(Outcome::Ok)
    }
}

/// The server: this connection's session and the client's name (once it said it).
#[derive(Clone)]
struct Server {
    session: String,
    tool_router: ToolRouter<Server>,
}

/// What a tool says went wrong: the model reads it.
type ToolResult<T> = Result<Json<T>, String>;

fn project_or_default(project: Option<String>) -> String {
    project
        .or_else(|| {
            std::env::var("CONTEXT_PROJECT")
                .ok()
                .filter(|p| !p.is_empty())
        })
        .unwrap_or_else(|| "default".to_string())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct KeyArgs {
    /// The document's key, e.g. `plan/q1`.
    key: String,
    /// The project (default: `default`).
    project: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ReadArgs {
    /// The document's key, e.g. `plan/q1`.
    key: String,
    /// The project (default: `default`).
    project: Option<String>,
    /// A version id (or its short form from `history`) to read instead of the current one.
    version: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct WriteArgs {
    /// The document's key, e.g. `plan/q1` (created if new).
    key: String,
    /// The whole new body (UTF-8 text).
    body: String,
    /// The project (default: `default`).
    project: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ListArgs {
    /// Only keys that begin with this prefix.
    prefix: Option<String>,
    /// The project (default: `default`).
    project: Option<String>,
    /// Also list deleted and expired keys.
    deleted: Option<bool>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct SearchArgs {
    /// Words that must all appear, in any case and order (`word*` for a prefix).
    query: String,
    /// The project (default: `default`).
    project: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct SearchOut {
    /// The current versions that hold every word, by key.
    matches: Vec<MatchOut>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct MatchOut {
    key: String,
    version: String,
    /// The first line that holds one of the words.
    line: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct DiffArgs {
    /// The document's key.
    key: String,
    /// The project (default: `default`).
    project: Option<String>,
    /// The older version (default: the current version's parent).
    from: Option<String>,
    /// The newer version (default: the current version).
    to: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct RestoreArgs {
    /// The document's key.
    key: String,
    /// The version whose body to bring back (an id or its short form from `history`).
    version: String,
    /// The project (default: `default`).
    project: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ResolveArgs {
    /// The key in conflict (as `list_conflicts` names it).
    key: String,
    /// The project (default: `default`).
    project: Option<String>,
    /// `mine` (this machine's side), `theirs` (the other side), `merge` (a three-way text
    /// merge; refused where both sides changed the same lines), or a version id to keep.
    keep: String,
}

/// A version as the tools show it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct VersionOut {
    id: String,
    project: String,
    key: String,
    /// `version` or `tombstone` (a deletion).
    kind: String,
    created_at: String,
    size: Option<u64>,
    parent: Option<String>,
    /// Who wrote it and in which session, where recorded.
    author: Option<String>,
    session: Option<String>,
    /// The machine that wrote it, where known.
    host: Option<String>,
}

fn version_out(store: &Store, v: &Version) -> VersionOut {
    VersionOut {
        id: v.id.to_string(),
        project: v.project.clone(),
        key: v.key.clone(),
        kind: v.kind.as_str().to_string(),
        created_at: context::clock::rfc3339(v.hlc.wall_ms()),
        size: v.size,
        parent: v.parent.map(|p| p.to_string()),
        author: v.author.as_ref().map(|a| a.name.clone()),
        session: v.author.as_ref().and_then(|a| a.session.clone()),
        host: store.host_of(v.peer).ok().flatten(),
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct DocumentOut {
    version: VersionOut,
    /// The body, as UTF-8 text (invalid bytes replaced).
    body: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct WrittenOut {
    /// The new version (or tombstone) written.
    version: VersionOut,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct ListedOut {
    key: String,
    /// `live`, `deleted` or `expired`.
    state: String,
    version: String,
    author: Option<String>,
    updated_at: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct ListOut {
    project: String,
    documents: Vec<ListedOut>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct HistoryOut {
    /// Newest first.
    versions: Vec<VersionOut>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct DiffOut {
    from: Option<String>,
    to: String,
    /// A unified diff (empty when the bodies are the same).
    diff: String,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct ConflictOut {
    project: String,
    key: String,
    mine: VersionOut,
    theirs: VersionOut,
    /// Whether `theirs` came with a refused pull and is not applied yet.
    incoming: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct ConflictsOut {
    conflicts: Vec<ConflictOut>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct RemoteHealth {
    name: String,
    url: String,
    /// Whether sync with it works (the same judgement as `context sync status --check`).
    healthy: bool,
    reason: String,
    last_sync_at: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct SyncStatusOut {
    remotes: Vec<RemoteHealth>,
    /// Keys with a conflict waiting for someone to settle it.
    conflicts: u64,
}

impl Server {
    fn new(session: String) -> Server {
        Server {
            session,
            tool_router: Self::tool_router(),
        }
    }

    /// The store, opened for this call only, writing as `client` in this session.
    fn store(&self, client: Option<String>) -> Result<Store, String> {
        let env = Env::from_process();
        let mut rt = env.runtime().map_err(|e| e.to_string())?;
        // The session is this connection's; the author the client, else whoever runs it.
        let name = client
            .filter(|c| Author::invalid(c).is_none())
            .or_else(|| rt.author.as_ref().map(|a| a.name.clone()))
            .unwrap_or_else(|| "mcp".to_string());
        rt.author = Some(Author {
            name,
            session: Some(self.session.clone()),
        });
        let path = context::home::database_path(&env.home().map_err(|e| e.to_string())?);
        Store::open(&path, rt).map_err(|e| e.to_string())
    }

    /// After a write: a background sync, as after a command's.
    fn synced(&self, store: &Store) {
        Env::from_process().sync_after_write(store);
    }
}

/// The client's name, as it gave it in `initialize`.
fn client_of(ctx: &RequestContext<RoleServer>) -> Option<String> {
    ctx.peer
        .peer_info()
        .map(|info| info.client_info.name.clone())
}

#[tool_router]
impl Server {
    #[tool(
        description = "Read a document: its current body (or that of one version), with who wrote it and when. Fails if the key does not exist, is deleted or expired."
    )]
    async fn read_document(&self, Parameters(a): Parameters<ReadArgs>) -> ToolResult<DocumentOut> {
        let store = self.store(None)?;
        let project = project_or_default(a.project);
        let doc = match &a.version {
            Some(v) => store.get_version(&project, &a.key, v),
            None => store.get(&project, &a.key),
        }
        .map_err(|e| e.to_string())?;
        Ok(Json(DocumentOut {
            version: version_out(&store, &doc.version),
            body: String::from_utf8_lossy(&doc.body).into_owned(),
        }))
    }

    #[tool(
        description = "Write a document: its whole new body becomes a new version (the history keeps every earlier one; your writes can be taken back with `context revert --session`). Creates the key if new."
    )]
    async fn write_document(
        &self,
        Parameters(a): Parameters<WriteArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult<WrittenOut> {
        let mut store = self.store(client_of(&ctx))?;
        let project = project_or_default(a.project);
        let v = store
            .put(&project, &a.key, a.body.as_bytes(), None)
            .map_err(|e| e.to_string())?;
        self.synced(&store);
        Ok(Json(WrittenOut {
            version: version_out(&store, &v),
        }))
    }

    #[tool(
        description = "Delete a document (a tombstone: its history stays, and `restore_version` brings it back)."
    )]
    async fn delete_document(
        &self,
        Parameters(a): Parameters<KeyArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult<WrittenOut> {
        let mut store = self.store(client_of(&ctx))?;
        let project = project_or_default(a.project);
        let v = store.rm(&project, &a.key).map_err(|e| e.to_string())?;
        self.synced(&store);
        Ok(Json(WrittenOut {
            version: version_out(&store, &v),
        }))
    }

    #[tool(
        description = "List the documents of a project, optionally those whose key begins with a prefix: key, state, current version, who wrote it, when."
    )]
    async fn list_documents(&self, Parameters(a): Parameters<ListArgs>) -> ToolResult<ListOut> {
        let store = self.store(None)?;
        let project = project_or_default(a.project);
        let listed = store
            .ls(
                &project,
                a.prefix.as_deref().unwrap_or(""),
                a.deleted.unwrap_or(false),
            )
            .map_err(|e| e.to_string())?;
        Ok(Json(ListOut {
            project,
            documents: listed
                .into_iter()
                .map(|l| ListedOut {
                    key: l.current.key.clone(),
                    state: l.state.as_str().to_string(),
                    version: l.current.id.to_string(),
                    author: l.current.author.as_ref().map(|a| a.name.clone()),
                    updated_at: context::clock::rfc3339(l.current.hlc.wall_ms()),
                })
                .collect(),
        }))
    }

    #[tool(
        description = "Full-text search over the current documents of a project: every word must appear (any case, any order, accents ignored; `word*` matches a prefix). Returns each matching key with its first matching line."
    )]
    async fn search_documents(
        &self,
        Parameters(a): Parameters<SearchArgs>,
    ) -> ToolResult<SearchOut> {
        let mut store = self.store(None)?;
        let project = project_or_default(a.project);
        let hits = store
            .search(&project, &a.query, false)
            .map_err(|e| e.to_string())?;
        let words = context::store::query_words(&a.query);
        let mut matches = Vec::new();
        for v in hits {
            let body = store.body_of(&v).map_err(|e| e.to_string())?;
            let line = context::store::matching_line(&body, &words);
            matches.push(MatchOut {
                key: v.key.clone(),
                version: v.id.to_string(),
                line,
            });
        }
        Ok(Json(SearchOut { matches }))
    }

    #[tool(
        description = "Every version and deletion of a document, newest first, with who wrote each (author, session) and on which machine."
    )]
    async fn history(&self, Parameters(a): Parameters<KeyArgs>) -> ToolResult<HistoryOut> {
        let store = self.store(None)?;
        let project = project_or_default(a.project);
        let versions = store.history(&project, &a.key).map_err(|e| e.to_string())?;
        Ok(Json(HistoryOut {
            versions: versions.iter().map(|v| version_out(&store, v)).collect(),
        }))
    }

    #[tool(
        description = "A unified diff between two versions of a document (default: the current version against its parent)."
    )]
    async fn diff(&self, Parameters(a): Parameters<DiffArgs>) -> ToolResult<DiffOut> {
        let store = self.store(None)?;
        let project = project_or_default(a.project);
        let to = match &a.to {
            Some(v) => store.get_version(&project, &a.key, v),
            None => store.get(&project, &a.key),
        }
        .map_err(|e| e.to_string())?;
        let from = match (&a.from, to.version.parent) {
            (Some(v), _) => Some(store.get_version(&project, &a.key, v)),
            (None, Some(p)) => Some(store.get_version(&project, &a.key, &p.to_string())),
            (None, None) => None,
        }
        .transpose()
        .map_err(|e| e.to_string())?;
        let old = from
            .as_ref()
            .map(|d| String::from_utf8_lossy(&d.body).into_owned())
            .unwrap_or_default();
        let new = String::from_utf8_lossy(&to.body).into_owned();
        let diff = if old == new {
            String::new()
        } else {
            diffy::create_patch(&old, &new).to_string()
        };
        Ok(Json(DiffOut {
            from: from.map(|d| d.version.id.to_string()),
            to: to.version.id.to_string(),
            diff,
        }))
    }

    #[tool(
        description = "Write an earlier version's body as the new current version of a document (undoes an overwrite or a deletion)."
    )]
    async fn restore_version(
        &self,
        Parameters(a): Parameters<RestoreArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult<WrittenOut> {
        let mut store = self.store(client_of(&ctx))?;
        let project = project_or_default(a.project);
        let v = store
            .restore(&project, &a.key, &a.version)
            .map_err(|e| e.to_string())?;
        self.synced(&store);
        Ok(Json(WrittenOut {
            version: version_out(&store, &v),
        }))
    }

    #[tool(
        description = "Documents where two machines (or a person and an agent) wrote at the same time and one side lost: both sides, for a person or you to settle with `resolve_conflict`."
    )]
    async fn list_conflicts(&self) -> ToolResult<ConflictsOut> {
        let store = self.store(None)?;
        let conflicts = store.conflicts().map_err(|e| e.to_string())?;
        Ok(Json(ConflictsOut {
            conflicts: conflicts
                .iter()
                .map(|c| ConflictOut {
                    project: c.project.clone(),
                    key: c.key.clone(),
                    mine: version_out(&store, &c.mine),
                    theirs: version_out(&store, &c.theirs),
                    incoming: c.incoming,
                })
                .collect(),
        }))
    }

    #[tool(
        description = "Settle a document's conflict: keep `mine`, `theirs`, a version id, or `merge` the two sides (a three-way text merge, refused where both changed the same lines). Written as a new version that settles the conflict on every machine."
    )]
    async fn resolve_conflict(
        &self,
        Parameters(a): Parameters<ResolveArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> ToolResult<WrittenOut> {
        let mut store = self.store(client_of(&ctx))?;
        let project = project_or_default(a.project);
        let how = match a.keep.as_str() {
            "mine" => resolve::How::Keep(resolve::Keep::Mine),
            "theirs" => resolve::How::Keep(resolve::Keep::Theirs),
            "merge" => resolve::How::Merge,
            version => resolve::How::Keep(resolve::Keep::Version(version.to_string())),
        };
        let r = resolve::resolve(&mut store, &project, &a.key, &how).map_err(|e| e.to_string())?;
        self.synced(&store);
        Ok(Json(WrittenOut {
            version: version_out(&store, &r.version),
        }))
    }

    #[tool(
        description = "How sync is doing with each of this home's remotes (from its own records: no network request), and how many conflicts wait."
    )]
    async fn sync_status(&self) -> ToolResult<SyncStatusOut> {
        let store = self.store(None)?;
        let mut remotes = Vec::new();
        for r in store.named_remotes().map_err(|e| e.to_string())? {
            let canonical = context::remote::Location::parse(&r.url)
                .map(|l| l.canonical())
                .unwrap_or_else(|_| r.url.clone());
            let h = context::sync::health(
                &store,
                &canonical,
                context::sync::health::DEFAULT_MAX_AGE_MS,
            )
            .map_err(|e| e.to_string())?;
            remotes.push(RemoteHealth {
                name: r.name,
                url: context::remote::redact(&r.url),
                healthy: h.healthy,
                reason: h.reason,
                last_sync_at: h.last_good_sync_at,
            });
        }
        Ok(Json(SyncStatusOut {
            remotes,
            conflicts: store.count_conflicted_keys().map_err(|e| e.to_string())?,
        }))
    }
}

/// `context://PROJECT/KEY`: a document as a resource.
fn uri_of(project: &str, key: &str) -> String {
    format!("context://{project}/{key}")
}

#[rmcp::tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("context", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "A versioned document store (notes, plans, research) synced across the user's \
             machines. Every write keeps the earlier versions; what you write is recorded as \
             yours, in this session, and the user can take it back. Read before you write; \
             write whole bodies.",
        )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let store = self
            .store(None)
            .map_err(|e| ErrorData::internal_error(e, None))?;
        let mut items = Vec::new();
        for project in store
            .projects()
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?
        {
            for l in store
                .ls(&project, "", false)
                .map_err(|e| ErrorData::internal_error(e.to_string(), None))?
            {
                let mut r = Resource::new(uri_of(&project, &l.current.key), l.current.key.clone());
                r.mime_type = Some("text/plain".into());
                r.size = l.current.size;
                items.push(r);
            }
        }
        Ok(ListResourcesResult::with_all_items(items))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let not_found = |why: String| ErrorData::resource_not_found(why, None);
        let rest = request
            .uri
            .strip_prefix("context://")
            .ok_or_else(|| not_found(format!("{}: not a context:// URI", request.uri)))?;
        let (project, key) = rest
            .split_once('/')
            .ok_or_else(|| not_found(format!("{}: context://PROJECT/KEY", request.uri)))?;
        let store = self
            .store(None)
            .map_err(|e| ErrorData::internal_error(e, None))?;
        let doc = store
            .get(project, key)
            .map_err(|e| not_found(e.to_string()))?;
        Ok(ReadResourceResult::new(vec![ResourceContents::text(
            String::from_utf8_lossy(&doc.body).into_owned(),
            request.uri.clone(),
        )])
        .into())
    }
}
