//! `target/bench/results.json`: the figures of a `make bench` run. The sync bench writes it
//! anew; each bench after it adds its own figures with [`add`].

use std::path::{Path, PathBuf};

/// Adds the fields of `figures` (an object) to the results file, keeping the others.
pub fn add(figures: serde_json::Value) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("results.json");
    let mut json: serde_json::Value = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    if let (Some(obj), Some(new)) = (json.as_object_mut(), figures.as_object()) {
        obj.extend(new.clone());
    }
    std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
    Ok(path)
}
