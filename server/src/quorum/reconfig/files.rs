//! The dynamic config files, written as Apache's QuorumPeer/QuorumPeerConfig write them:
//!
//! - when a config is activated: `<zoo.cfg>.dynamic.<hex version>` (server lines only,
//!   sorted as strings, joined by "\n", no version line), then zoo.cfg is rewritten without
//!   its `server.*`/`group*`/`weight*`/`peerType`/old `dynamicConfigFile` keys (and without
//!   `clientPort`/`clientPortAddress` once this server's line carries its client address),
//!   ending in `dynamicConfigFile=<canonical path>`; the first reconfig of an old-style
//!   zoo.cfg thereby moves its server lines out;
//! - while a reconfig is proposed but not committed: `<zoo.cfg>.dynamic.next`, with the
//!   version line, deleted once that version is activated.
//!
//! Every write goes to a temporary file in the same directory, is fsynced, renamed over
//! the target, and the directory is fsynced (Apache's AtomicFileWritingIdiom).

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{
    decode_latin1, ConfigError, Properties, QuorumConfig, ServerSpec, NEXT_DYNAMIC_SUFFIX,
};

/// Why reading or writing a config file failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Config { path: PathBuf, source: ConfigError },
    #[error("{0}: dynamic file shouldn't have version inside")]
    VersionInside(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ConfigFileError + '_ {
    move |source| ConfigFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `<zoo.cfg>.dynamic.<hex version>`, next to the static file.
pub fn dynamic_config_path(static_path: &Path, version: u64) -> PathBuf {
    with_suffix(static_path, &format!(".dynamic.{version:x}"))
}

/// `<zoo.cfg>.dynamic.next`: the proposed, not yet committed config.
pub fn next_config_path(static_path: &Path) -> PathBuf {
    with_suffix(static_path, NEXT_DYNAMIC_SUFFIX)
}

/// A dynamic file's content (`QuorumPeerConfig.writeDynamicConfig`): `key=value` lines
/// sorted as strings (so server.10 sorts before server.2), joined by "\n" without a final
/// newline; the version line only when `keep_version` (the `.next` file).
pub fn render_dynamic_file(config: &QuorumConfig, keep_version: bool) -> String {
    let mut lines: Vec<String> = config
        .servers
        .iter()
        .map(|(id, spec)| format!("server.{id}={}", spec.render_value()))
        .collect();
    if keep_version {
        lines.push(format!("version={:x}", config.version));
    }
    lines.sort();
    lines.join("\n")
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ConfigFileError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = with_suffix(path, &format!(".tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io_err(path))?;
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&dir))
    })();
    if result.is_err() {
        // Best effort: a leftover temp file is harmless but untidy.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes the proposed config to `<zoo.cfg>.dynamic.next` (with its version), as a
/// server does when it sees a reconfig proposal.
pub fn write_next_config(
    static_path: &Path,
    config: &QuorumConfig,
) -> Result<PathBuf, ConfigFileError> {
    let path = next_config_path(static_path);
    write_atomic(&path, render_dynamic_file(config, true).as_bytes())?;
    Ok(path)
}

/// Deletes `<zoo.cfg>.dynamic.next` if it exists.
pub fn remove_next_config(static_path: &Path) -> Result<(), ConfigFileError> {
    let path = next_config_path(static_path);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(&path)(e)),
    }
}

/// Activates a config on disk (`QuorumPeer.setQuorumVerifier` with writeToDisk): writes
/// its dynamic file, points zoo.cfg at it, and deletes `.dynamic.next` when it held this
/// very version (`last_seen_version` is the newest version the server has seen). Returns
/// the dynamic file's path.
pub fn write_activated_config(
    static_path: &Path,
    config: &QuorumConfig,
    my_id: u64,
    last_seen_version: u64,
) -> Result<PathBuf, ConfigFileError> {
    let dynamic = dynamic_config_path(static_path, config.version);
    write_atomic(&dynamic, render_dynamic_file(config, false).as_bytes())?;
    let erase_client = config
        .servers
        .get(&my_id)
        .is_some_and(|s: &ServerSpec| s.client_addr.is_some());
    edit_static_config(static_path, &dynamic, erase_client)?;
    if config.version == last_seen_version {
        remove_next_config(static_path)?;
    }
    Ok(dynamic)
}

/// Rewrites zoo.cfg (`QuorumPeerConfig.editStaticConfig`): every key but the membership
/// ones, as `key=value` lines in file order, then `dynamicConfigFile=<canonical path>`.
/// Comments are dropped, as Apache's rewrite drops them.
pub fn edit_static_config(
    static_path: &Path,
    dynamic_path: &Path,
    erase_client_port: bool,
) -> Result<(), ConfigFileError> {
    let props = read_props(static_path)?;
    let dynamic = fs::canonicalize(dynamic_path).map_err(io_err(dynamic_path))?;
    let mut out = String::new();
    for (key, value) in props.iter() {
        let key = key.trim();
        let membership = [
            "server.",
            "group",
            "weight",
            "dynamicConfigFile",
            "peerType",
        ]
        .iter()
        .any(|p| key.starts_with(p));
        if membership || (erase_client_port && key.starts_with("clientPort")) {
            continue;
        }
        out.push_str(&format!("{key}={}\n", value.trim()));
    }
    out.push_str(&format!("dynamicConfigFile={}\n", dynamic.display()));
    write_atomic(static_path, out.as_bytes())
}

/// Copies zoo.cfg to `zoo.cfg.bak`, as Apache does at start-up when reconfig is enabled
/// and the membership still lives in the static file (before any rewrite can happen).
pub fn backup_static_config(static_path: &Path) -> Result<PathBuf, ConfigFileError> {
    let bytes = fs::read(static_path).map_err(io_err(static_path))?;
    let bak = with_suffix(static_path, ".bak");
    write_atomic(&bak, &bytes)?;
    Ok(bak)
}

fn read_props(path: &Path) -> Result<Properties, ConfigFileError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    Properties::parse(&decode_latin1(&bytes)).map_err(|source| ConfigFileError::Config {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a dynamic config file: server lines only, the version taken from the file name
/// (hex after the last dot; 0 without one).
pub fn read_dynamic_config(
    path: &Path,
    multi_address_enabled: bool,
) -> Result<QuorumConfig, ConfigFileError> {
    let props = read_props(path)?;
    if props.contains_key("version") {
        return Err(ConfigFileError::VersionInside(path.to_path_buf()));
    }
    let mut config =
        QuorumConfig::from_properties(&props, true, multi_address_enabled).map_err(|source| {
            ConfigFileError::Config {
                path: path.to_path_buf(),
                source,
            }
        })?;
    config.version = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.rsplit_once('.'))
        .and_then(|(_, v)| u64::from_str_radix(v, 16).ok())
        .unwrap_or(0);
    Ok(config)
}

/// Reads `<zoo.cfg>.dynamic.next` if there is one (its version is inside).
pub fn read_next_config(
    static_path: &Path,
    multi_address_enabled: bool,
) -> Result<Option<QuorumConfig>, ConfigFileError> {
    let path = next_config_path(static_path);
    if !path.is_file() {
        return Ok(None);
    }
    let props = read_props(&path)?;
    QuorumConfig::from_properties(&props, true, multi_address_enabled)
        .map(Some)
        .map_err(|source| ConfigFileError::Config { path, source })
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
