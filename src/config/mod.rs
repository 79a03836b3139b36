//! Configuration: the three YAML files, their types, loading and validation.
//!
//! The default files in `config/` are embedded in the binary. `--config DIR` reads any of
//! the three from `DIR` instead (a missing file falls back to the embedded default).
//! Every error names the file, the key path and the line.

mod alarms;
pub mod bounds;
mod dashboards;
mod generation;
mod incidents;
pub mod locate;
mod services;
mod values;

pub use alarms::*;
pub use dashboards::*;
pub use generation::*;
pub use incidents::*;
pub use services::*;
pub use values::*;

use bounds::Checker;
pub use bounds::{BOUNDS, Bound, BoundKind, RunEstimate, check_compression};
use locate::Locations;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Named presets, as (name, file contents): each is a `schedule:` section that replaces
/// incident_patterns.yaml's (`generate --preset NAME`).
pub const PRESETS: [(&str, &str); 1] = [(
    "low-prevalence",
    include_str!("../../config/presets/low-prevalence.yaml"),
)];

/// Largest configuration file read (the defaults are about 20 KB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

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
    /// A file that cannot be a configuration file (a FIFO, a device, too large, not UTF-8).
    #[error("{file}: {message}")]
    File { file: PathBuf, message: String },
    /// A `--config` directory that holds none of the three files.
    #[error(
        "{dir} holds none of the configuration files ({SERVICES_FILE}, {INCIDENTS_FILE}, {GENERATION_FILE}){}; `obsgen config init DIR` writes them",
        if found.is_empty() { String::new() } else { format!(" (it has {})", found.join(", ")) }
    )]
    NoConfigFiles { dir: PathBuf, found: Vec<String> },
    /// A run (scale, range) beyond the limits.
    #[error("{message}")]
    Run { message: String },
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

/// Where a configuration file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Read from the `--config` directory.
    Read,
    /// Not in the `--config` directory: the embedded default was used.
    Defaulted,
    /// No `--config` directory: the embedded default.
    Embedded,
}

/// One of the three files of a configuration.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub name: &'static str,
    /// The path messages name (`DIR/name`, or `<embedded>/name`).
    pub path: PathBuf,
    pub origin: Origin,
    /// Where `--config` looked for it (`DIR/name`).
    pub looked_for: Option<PathBuf>,
    locations: Arc<Locations>,
}

/// The whole configuration of a run.
#[derive(Debug, Clone)]
pub struct Config {
    pub services: ServicesConfig,
    pub incidents: IncidentPatterns,
    pub generation: GenerationConfig,
    /// SHA-256 over the three files' contents, in a fixed order.
    pub digest: String,
    /// The three files (services, incidents, generation) and where each came from.
    pub files: Vec<ConfigFile>,
    /// Other YAML files in the `--config` directory, which obsgen does not read.
    pub ignored: Vec<PathBuf>,
    /// The preset applied on top of the files ([`Config::apply_preset`]), if any.
    pub preset: Option<&'static str>,
    /// `scenario --isolate`: the one incident the run keeps ([`Config::isolate`]).
    pub isolate: Option<Isolation>,
}

/// A run around one incident with no other ([`Config::isolate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// The incident kept.
    pub incident_id: String,
    /// Every other incident active at or after `from` (and before `until`) is left out.
    pub from: crate::time::Micros,
    pub until: crate::time::Micros,
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
    /// A path that is not a regular file (a FIFO, a device, a directory) is refused
    /// without being opened, so nothing blocks; so is a file over [`MAX_FILE_BYTES`].
    pub fn load(dir: &Path) -> Result<Config, ConfigError> {
        if !dir.is_dir() {
            return Err(ConfigError::NotADirectory {
                dir: dir.to_path_buf(),
            });
        }
        let mut files = Vec::with_capacity(3);
        let mut origins = Vec::with_capacity(3);
        for (name, default) in DEFAULT_FILES {
            let path = dir.join(name);
            match read_config_file(&path)? {
                Some(text) => {
                    files.push((path, text));
                    origins.push(Origin::Read);
                }
                None => {
                    files.push((
                        PathBuf::from(format!("<embedded>/{name}")),
                        default.to_string(),
                    ));
                    origins.push(Origin::Defaulted);
                }
            }
        }
        let ignored = other_yaml_files(dir);
        if origins.iter().all(|o| *o == Origin::Defaulted) {
            return Err(ConfigError::NoConfigFiles {
                dir: dir.to_path_buf(),
                found: ignored
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect(),
            });
        }
        let [s, i, g]: [(PathBuf, String); 3] =
            files.try_into().map_err(|_| ConfigError::NotADirectory {
                dir: dir.to_path_buf(),
            })?;
        let mut cfg = Self::from_sources([s, i, g])?;
        for (f, o) in cfg.files.iter_mut().zip(origins) {
            f.origin = o;
            f.looked_for = Some(dir.join(f.name));
        }
        cfg.ignored = ignored;
        Ok(cfg)
    }

    /// Parses and validates the three files given as (path for messages, contents),
    /// including the limits of a 24-hour run at the configuration's own scale.
    pub fn from_sources(files: [(PathBuf, String); 3]) -> Result<Config, ConfigError> {
        let [(sp, st), (ip, it), (gp, gt)] = files;
        let sl = Arc::new(Locations::index(&st));
        let il = Arc::new(Locations::index(&it));
        let gl = Arc::new(Locations::index(&gt));
        let services: ServicesConfig = parse_yaml(&sp, &st)?;
        services.validate(&sp).map_err(|e| located(e, &sl))?;
        bounds::check_services(
            &Checker {
                file: &sp,
                loc: &sl,
            },
            &services,
        )?;
        let incidents: IncidentPatterns = parse_yaml(&ip, &it)?;
        incidents
            .validate(&ip, &services)
            .map_err(|e| located(e, &il))?;
        bounds::check_incidents(
            &Checker {
                file: &ip,
                loc: &il,
            },
            &incidents,
            &services,
        )?;
        let generation: GenerationConfig = parse_yaml(&gp, &gt)?;
        generation.validate(&gp).map_err(|e| located(e, &gl))?;
        bounds::check_generation(
            &Checker {
                file: &gp,
                loc: &gl,
            },
            &generation,
        )?;
        let digest = digest_of(&[&st, &it, &gt]);
        let file = |name, path: PathBuf, locations| ConfigFile {
            name,
            origin: if path.starts_with("<embedded>") {
                Origin::Embedded
            } else {
                Origin::Read
            },
            path,
            looked_for: None,
            locations,
        };
        let cfg = Config {
            services,
            incidents,
            generation,
            digest,
            files: vec![
                file(SERVICES_FILE, sp, sl),
                file(INCIDENTS_FILE, ip, il),
                file(GENERATION_FILE, gp, gl),
            ],
            ignored: Vec::new(),
            preset: None,
            isolate: None,
        };
        // The run `config check` vouches for: a day from default_start at the file's scale.
        if let Some(start) = crate::time::parse_instant(&cfg.generation.default_start) {
            cfg.check_run(
                cfg.generation.scale.0,
                start,
                start.saturating_add(24 * crate::time::HOUR),
                false,
                false,
            )?;
        }
        Ok(cfg)
    }

    /// Applies the preset `name` (one of [`PRESETS`]): its schedule replaces the
    /// incident schedule, and the digest covers it.
    pub fn apply_preset(&mut self, name: &str) -> Result<(), ConfigError> {
        let Some(&(name, text)) = PRESETS.iter().find(|p| p.0 == name) else {
            return Err(ConfigError::Run {
                message: format!(
                    "unknown preset `{name}` (presets: {})",
                    PRESETS.map(|p| p.0).join(", ")
                ),
            });
        };
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct PresetFile {
            schedule: IncidentSchedule,
        }
        let path = PathBuf::from(format!("<embedded>/presets/{name}.yaml"));
        let preset: PresetFile = parse_yaml(&path, text)?;
        let loc = Locations::index(text);
        bounds::check_schedule(
            &Checker {
                file: &path,
                loc: &loc,
            },
            &preset.schedule,
        )?;
        self.incidents.schedule = preset.schedule;
        self.digest = digest_of(&[&self.digest, name, text]);
        self.preset = Some(name);
        Ok(())
    }

    /// Keeps incident `incident_id` and leaves out every other incident active in
    /// `[from, until)` (near misses stay: the normal world has them); the digest covers it,
    /// so a resumed or merged run must be isolated the same way.
    pub fn isolate(
        &mut self,
        incident_id: &str,
        from: crate::time::Micros,
        until: crate::time::Micros,
    ) {
        let text = format!("{incident_id} {from} {until}");
        self.digest = digest_of(&[&self.digest, "isolate", &text]);
        self.isolate = Some(Isolation {
            incident_id: incident_id.to_string(),
            from,
            until,
        });
    }

    /// A checker pointing into file `i` (0 services, 1 incidents, 2 generation).
    fn checker(&self, i: usize) -> Checker<'_> {
        let f = &self.files[i];
        Checker {
            file: &f.path,
            loc: &f.locations,
        }
    }

    /// Lines saying which files were read and which defaulted (and which were ignored).
    pub fn origin_report(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for f in &self.files {
            lines.push(match f.origin {
                Origin::Read => format!("read {}", f.path.display()),
                Origin::Defaulted => format!(
                    "default {} (no {}: the embedded file)",
                    f.name,
                    f.looked_for.as_deref().unwrap_or(&f.path).display()
                ),
                Origin::Embedded => format!("default {} (embedded)", f.name),
            });
        }
        for p in &self.ignored {
            lines.push(format!(
                "ignored {} (not one of {SERVICES_FILE}, {INCIDENTS_FILE}, {GENERATION_FILE})",
                p.display()
            ));
        }
        if let Some(p) = self.preset {
            lines.push(format!(
                "preset {p}: the schedule of <embedded>/presets/{p}.yaml replaces {INCIDENTS_FILE}'s"
            ));
        }
        lines
    }
}

/// SHA-256 (hex) over `texts` in order, each prefixed by its length.
fn digest_of(texts: &[&str]) -> String {
    let mut h = Sha256::new();
    for t in texts {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a configuration file: `None` if there is none at `path`. Refuses what is not a
/// regular file (checked before opening: opening a FIFO would block), a broken symbolic
/// link, a file over [`MAX_FILE_BYTES`], and text that is not UTF-8.
fn read_config_file(path: &Path) -> Result<Option<String>, ConfigError> {
    let bad = |message: String| ConfigError::File {
        file: path.to_path_buf(),
        message,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if std::fs::symlink_metadata(path).is_ok() {
                return Err(bad("is a broken symbolic link".into()));
            }
            return Ok(None);
        }
        Err(source) => {
            return Err(ConfigError::Read {
                file: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.is_file() {
        return Err(bad(format!(
            "is not a regular file (it is {}); a configuration file must be one",
            file_kind(&meta.file_type())
        )));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(bad(format!(
            "is {} bytes; a configuration file has at most {MAX_FILE_BYTES}",
            meta.len()
        )));
    }
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(bad(format!(
            "is over {MAX_FILE_BYTES} bytes; a configuration file has at most that"
        )));
    }
    String::from_utf8(bytes).map(Some).map_err(|e| {
        bad(format!(
            "is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// YAML files in `dir` other than the three configuration files (sorted, at most 20).
fn other_yaml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            (name.ends_with(".yaml") || name.ends_with(".yml"))
                && !DEFAULT_FILES.iter().any(|(n, _)| *n == name)
        })
        .collect();
    out.sort();
    out.truncate(20);
    out
}

/// Gives an error raised without a position the position of its key path.
fn located(e: ConfigError, loc: &Locations) -> ConfigError {
    match e {
        ConfigError::Invalid {
            file,
            path,
            line: None,
            column: None,
            message,
        } => {
            let at = loc.get(&path);
            ConfigError::Invalid {
                file,
                path,
                line: at.map(|p| p.0),
                column: at.map(|p| p.1),
                message,
            }
        }
        e => e,
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
        let mut path = if path == "." { String::new() } else { path };
        let blank = text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
        if blank {
            message = "the file holds no settings (only blank lines or comments); delete it to use the default".into();
        }
        let mut line = loc.map(|l| l.line());
        let mut column = loc.map(|l| l.column());
        // A duplicate key: serde_path_to_error cannot name it (`services[0].?`); the
        // parser's message does.
        if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
            let key = rest.split(", set DuplicateKeyPolicy").next().unwrap_or(rest).trim();
            let parent = path.strip_suffix('?').unwrap_or(&path).trim_end_matches('.');
            let full = if parent.is_empty() {
                key.to_string()
            } else {
                format!("{parent}.{key}")
            };
            let first = Locations::index(text).exact(&full);
            message = match first {
                Some((l, _)) if Some(l) != line => {
                    format!("duplicate key `{key}` (first given at line {l}); a key appears once per mapping")
                }
                _ => format!("duplicate key `{key}`; a key appears once per mapping"),
            };
            path = full;
        }
        // A tab: the scanner reports where the token before it started (often the line
        // before); point at the tab itself.
        if message.contains("found a tab") || message.contains("tabs") {
            if let Some((l, c)) = first_tab(text, line.unwrap_or(1)) {
                line = Some(l);
                column = Some(c);
            }
            message = format!("{message} (YAML indents with spaces, not tabs)");
        }
        ConfigError::Invalid {
            file: file.to_path_buf(),
            path,
            line,
            column,
            message,
        }
    })
}

/// The first tab at or after line `from` (within 3 lines): (line, column), from 1.
fn first_tab(text: &str, from: u64) -> Option<(u64, u64)> {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1) as usize)
        .take(3)
        .find_map(|(i, l)| {
            l.chars()
                .position(|c| c == '\t')
                .map(|c| (i as u64 + 1, c as u64 + 1))
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
