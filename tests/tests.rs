//! Integration tests: the real binary, in temporary homes. One test binary, one module per
//! area, helpers in `util`.

mod util;

mod autosync;
mod bad_data;
mod build;
mod cli_store;
mod concurrency;
mod conflicts;
mod convergence;
mod crash;
mod deltas;
mod divergence;
mod encryption;
mod faults;
mod golden;
mod health;
mod hostile;
mod housekeeping;
mod json_docs;
mod mcp;
mod memory;
mod projects;
mod provenance;
mod prune;
mod remote_suite;
mod remotes;
mod repair;
mod s3;
mod schedule;
mod schema;
mod second_day;
mod ssh;
mod store_model;
mod sync_cli;
mod transit;
mod watch;
mod webdav;
