//! Configuration: the three YAML files, their types, loading and validation.
//!
//! The default files in `config/` are embedded in the binary. `--config DIR` reads any of
//! the three from `DIR` instead (a missing file falls back to the embedded default).
//! Every error names the file, the key path and the line.

mod alarms;
mod dashboards;
mod generation;
mod incidents;
mod services;
mod values;

pub use alarms::*;
pub use dashboards::*;
pub use generation::*;
pub use incidents::*;
pub use services::*;
pub use values::*;

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const SERVICES_FILE: &str = "services_config.yaml";
pub const INCIDENTS_FILE: &str = "incident_patterns.yaml";
pub const GENERATION_FILE: &str = "generation_config.yaml";

/// The embedded default files, as (file name, contents).
pub const DEFAULT_FILES: [(&str, &str); 3] = [
    (
        SERVICES_FILE,
        include_str!("../../config/services_config.yaml"),
    ),
    (
        INCIDENTS_FILE,
        include_str!("../../config/incident_patterns.yaml"),
    ),
    (
        GENERATION_FILE,
        include_str!("../../config/generation_config.yaml"),
    ),
];

/// A configuration error, with the file, key path and position it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", format_invalid(file, path, *line, *column, message))]
    Invalid {
        file: PathBuf,
        /// Key path inside the file, e.g. `services[3].dependencies[1]`.
        path: String,
        line: Option<u64>,
        column: Option<u64>,
        message: String,
    },
    #[error("{dir}: not a directory")]
    NotADirectory { dir: PathBuf },
}

fn format_invalid(
    file: &Path,
    path: &str,
    line: Option<u64>,
    column: Option<u64>,
    message: &str,
) -> String {
    let mut s = file.display().to_string();
    if let Some(l) = line {
        s.push_str(&format!(":{l}"));
        if let Some(c) = column {
            s.push_str(&format!(":{c}"));
        }
    }
    if path.is_empty() {
        format!("{s}: {message}")
    } else {
        format!("{s}: at `{path}`: {message}")
    }
}

/// The whole configuration of a run.
#[derive(Debug, Clone)]
pub struct Config {
    pub services: ServicesConfig,
    pub incidents: IncidentPatterns,
    pub generation: GenerationConfig,
    /// SHA-256 over the three files' contents, in a fixed order.
    pub digest: String,
}

impl Config {
    /// The embedded defaults.
    pub fn defaults() -> Result<Config, ConfigError> {
        Self::from_sources(DEFAULT_FILES.map(|(name, text)| {
            (
                PathBuf::from(format!("<embedded>/{name}")),
                text.to_string(),
            )
        }))
    }

    /// Reads the files in `dir` (each missing one is taken from the embedded defaults).
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        if !dir.is_dir() {
            return Err(ConfigError::NotADirectory {
                dir: dir.to_path_buf(),
            });
        }
        let mut files = Vec::with_capacity(3);
        for (name, default) in DEFAULT_FILES {
            let path = dir.join(name);
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => (path, t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
                    PathBuf::from(format!("<embedded>/{name}")),
                    default.to_string(),
                ),
                Err(source) => return Err(ConfigError::Read { file: path, source }),
            };
            files.push(text);
        }
        let [s, i, g]: [(PathBuf, String); 3] =
            files.try_into().map_err(|_| ConfigError::NotADirectory {
                dir: dir.to_path_buf(),
            })?;
        Self::from_sources([s, i, g])
    }

    /// Parses and validates the three files given as (path for messages, contents).
    pub fn from_sources(files: [(PathBuf, String); 3]) -> Result<Config, ConfigError> {
        let [(sp, st), (ip, it), (gp, gt)] = files;
        let services: ServicesConfig = parse_yaml(&sp, &st)?;
        services.validate(&sp)?;
        let incidents: IncidentPatterns = parse_yaml(&ip, &it)?;
        incidents.validate(&ip, &services)?;
        let generation: GenerationConfig = parse_yaml(&gp, &gt)?;
        generation.validate(&gp)?;
        let mut h = Sha256::new();
        for t in [&st, &it, &gt] {
            h.update((t.len() as u64).to_le_bytes());
            h.update(t.as_bytes());
        }
        let digest = h
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        Ok(Config {
            services,
            incidents,
            generation,
            digest,
        })
    }
}

/// Writes the default files into `dir` (created if needed). Refuses to overwrite.
pub fn write_defaults(dir: &Path, overwrite: bool) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, text) in DEFAULT_FILES {
        let path = dir.join(name);
        if path.exists() && !overwrite {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} already exists (use --overwrite)", path.display()),
            ));
        }
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

/// Parses YAML into `T`, turning errors into [`ConfigError::Invalid`] with the key path
/// (from `serde_path_to_error`) and the line and column (from the YAML parser).
fn parse_yaml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let mut path = String::new();
    let options = serde_saphyr::options! { with_snippet: false };
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|e| {
        let loc = e.location();
        let raw = e.to_string();
        // Strip the parser's own "error: line L column C: " prefix; we print our own.
        let mut message = match raw.find(": ") {
            Some(i) if raw[..i].contains("column") => raw[i + 2..].trim().to_string(),
            _ => raw.trim_start_matches("error: ").trim().to_string(),
        };
        // ... and its " at line L, column C" suffix.
        if let Some(l) = loc {
            let suffix = format!(" at line {}, column {}", l.line(), l.column());
            if let Some(stripped) = message.strip_suffix(&suffix) {
                message = stripped.to_string();
            }
        }
        ConfigError::Invalid {
            file: file.to_path_buf(),
            path: if path == "." { String::new() } else { path },
            line: loc.map(|l| l.line()),
            column: loc.map(|l| l.column()),
            message,
        }
    })
}

/// Builds a semantic-validation error at a spanned value.
pub(crate) fn invalid_at(
    file: &Path,
    path: impl Into<String>,
    at: Option<&serde_saphyr::Location>,
    message: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_path_buf(),
        path: path.into(),
        line: at.map(|l| l.line()),
        column: at.map(|l| l.column()),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_services(text: &str) -> Result<Config, ConfigError> {
        Config::from_sources([
            (PathBuf::from("services_config.yaml"), text.to_string()),
            (
                PathBuf::from(INCIDENTS_FILE),
                DEFAULT_FILES[1].1.to_string(),
            ),
            (
                PathBuf::from(GENERATION_FILE),
                DEFAULT_FILES[2].1.to_string(),
            ),
        ])
    }

    #[test]
    fn defaults_load() {
        let c = Config::defaults().expect("embedded defaults are valid");
        assert!(c.services.services.len() >= 12);
        assert_eq!(c.digest.len(), 64);
    }

    #[test]
    fn unknown_key_names_path_and_line() {
        let text = DEFAULT_FILES[0]
            .1
            .replacen("    replicas: 3\n", "    replicaz: 3\n", 1);
        let e = with_services(&text).expect_err("unknown key").to_string();
        assert!(e.contains("services_config.yaml:"), "{e}");
        assert!(e.contains("replicaz"), "{e}");
        assert!(e.contains("services[1]"), "{e}");
    }

    #[test]
    fn wrong_type_and_negative_values_are_refused() {
        let text = DEFAULT_FILES[0]
            .1
            .replacen("    replicas: 4\n", "    replicas: four\n", 1);
        let e = with_services(&text).expect_err("wrong type").to_string();
        assert!(e.contains("services[0].replicas"), "{e}");
        let text = DEFAULT_FILES[0]
            .1
            .replacen("deploys_per_day: 1.5", "deploys_per_day: -1.5", 1);
        let e = with_services(&text).expect_err("negative").to_string();
        assert!(e.contains("services[0].deploys_per_day"), "{e}");
        assert!(e.contains("must not be negative"), "{e}");
    }

    #[test]
    fn unknown_dependency_and_cycle_are_refused() {
        let text = DEFAULT_FILES[0].1.replacen(
            "dependencies: [api-gateway]",
            "dependencies: [api-gatewai]",
            1,
        );
        let e = with_services(&text).expect_err("unknown dep").to_string();
        assert!(e.contains("services[0].dependencies[0]"), "{e}");
        assert!(e.contains("api-gatewai"), "{e}");
        let line = DEFAULT_FILES[0]
            .1
            .lines()
            .position(|l| l.contains("dependencies: [api-gateway]"))
            .expect("line")
            + 1;
        assert!(e.contains(&format!(":{line}:")), "{e}");
        let text = DEFAULT_FILES[0]
            .1
            .replacen("    dependencies: []\n    resources: { cpu_request_m: 250, cpu_limit_m: 1000, memory_request_mib: 384", "    dependencies: [frontend]\n    resources: { cpu_request_m: 250, cpu_limit_m: 1000, memory_request_mib: 384", 1);
        let e = with_services(&text).expect_err("cycle").to_string();
        assert!(e.contains("cycle"), "{e}");
    }
}
