//! Integration tests: the real binary, in temporary homes. One test binary, one module per
//! area, helpers in `util`.

mod util;

mod cli_store;
mod bad_data;
mod concurrency;
mod divergence;
mod schema;
mod store_model;
mod sync_cli;
