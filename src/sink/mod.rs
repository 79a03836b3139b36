//! Sinks: where rendered batches go. Parquet files and gzip JSON Lines files (each
//! written under a temporary name and renamed when complete), and the run manifest.

pub mod json;
pub mod jsonl;
pub mod manifest;
pub mod parquet;

pub use jsonl::JsonLines;
pub use manifest::{FileEntry, Manifest};
pub use parquet::{Compression, write_parquet, write_parquet_files};

/// Which output formats a run writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// `OUT/<source>/<table>/date=/hour=/part-00000.parquet`
    pub parquet: bool,
    /// `OUT/jsonl/<source>/<table>/date=/hour=HH.jsonl.gz`, the systems' native JSON.
    pub jsonl: bool,
}

impl Formats {
    pub const PARQUET: Formats = Formats {
        parquet: true,
        jsonl: false,
    };

    /// Parses names such as `["parquet", "jsonl"]`; at least one, no unknown names.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Formats, String> {
        let mut f = Formats {
            parquet: false,
            jsonl: false,
        };
        for n in names {
            match n.as_ref().trim().to_ascii_lowercase().as_str() {
                "parquet" => f.parquet = true,
                "jsonl" | "json" => f.jsonl = true,
                other => return Err(format!("unknown format `{other}` (parquet, jsonl)")),
            }
        }
        if !(f.parquet || f.jsonl) {
            return Err("needs at least one format (parquet, jsonl)".into());
        }
        Ok(f)
    }

    /// `parquet,jsonl`
    pub fn names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.parquet {
            v.push("parquet".to_string());
        }
        if self.jsonl {
            v.push("jsonl".to_string());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse() {
        assert_eq!(Formats::parse(&["parquet"]), Ok(Formats::PARQUET));
        let both = Formats::parse(&["jsonl", " Parquet"]).unwrap();
        assert!(both.parquet && both.jsonl);
        assert_eq!(both.names(), vec!["parquet", "jsonl"]);
        assert!(Formats::parse(&["csv"]).unwrap_err().contains("csv"));
        assert!(Formats::parse::<&str>(&[]).is_err());
    }
}
