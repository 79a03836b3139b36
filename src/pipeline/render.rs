//! Rendering the partitions: each from its day's world, on the worker pool, day by day.
//!
//! The days do not overlap: a day's partitions render in parallel (a parallel iterator:
//! the workers split the day into runs of neighbouring hours and rarely wait on each
//! other for an hour's shared values) while one worker plans the next day's world, and
//! the next day starts when both are done. Tried and rejected (issue 14): the next day's
//! partitions queued while this day's last ones render, which keeps two worlds' caches
//! and twins alive at once: a week's peak RSS went from 97 to 102–169 MiB, its time
//! unchanged on 2 cores (`benches/scaling.py` models what the barrier costs with more).

use super::done::{Done, table_key};
use super::trace::Trace;
use super::{
    GenerateOptions, Progress, day_world, jsonl_path, partition_path, range_days,
    release_free_memory,
};
use crate::error::Error;
use crate::sink::journal::Journal;
use crate::sink::{FileSum, JsonLines, write_parquet_files};
use crate::sources::Table;
use crate::time::{DAY, Micros};
use crate::world::World;
use rayon::prelude::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// Partitions, rows and bytes written so far (the progress bar's figures).
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) done: AtomicU64,
    pub(super) rows: AtomicU64,
    pub(super) bytes: AtomicU64,
}

/// What every partition's rendering shares.
pub(super) struct Renderer<'a> {
    pub(super) tables: &'a [Box<dyn Table>],
    pub(super) opts: &'a GenerateOptions,
    pub(super) journal: &'a Journal,
    pub(super) progress: &'a (dyn Fn(Progress) + Sync),
    pub(super) counters: &'a Counters,
    /// Partitions of the whole run (kept ones included), for the progress bar.
    pub(super) total: u64,
    pub(super) trace: Option<&'a Trace>,
}

/// A stop request seen by a worker; the caller completes it (how many partitions are
/// done, the journal).
fn interrupted(signal: crate::interrupt::Signal) -> Error {
    Error::Interrupted {
        signal,
        complete: 0,
        total: 0,
        journal: PathBuf::new(),
    }
}

impl Renderer<'_> {
    /// Renders partition `(ti, hour)` from its day's `world` and writes its files (the
    /// partition, its labels twin, its JSON Lines), then journals it.
    fn partition(&self, world: &World, ti: usize, hour: Micros) -> Result<Done, Error> {
        let name = match self.trace {
            Some(_) => table_key(self.tables[ti].as_ref()),
            None => String::new(),
        };
        Trace::span(self.trace, "partition", &name, hour, || {
            self.write_partition(world, ti, hour)
        })?
    }

    fn write_partition(&self, world: &World, ti: usize, hour: Micros) -> Result<Done, Error> {
        let opts = self.opts;
        let dir = opts.output_dir.as_path();
        // `--incidents off`: each day is its own twin (see `World::twin_at`).
        let world = if opts.config.incidents.schedule.enabled {
            world
        } else {
            world.twin_at(hour)
        };
        if let Some(signal) = crate::interrupt::pending() {
            return Err(interrupted(signal));
        }
        let table = &self.tables[ti];
        let batch = table.render(world, hour)?;
        if let Some(signal) = crate::interrupt::pending() {
            return Err(interrupted(signal));
        }
        let rel = partition_path(table.source(), table.name(), hour);
        // The labels table: the same records, their keys and labels only; the columns it
        // shares with the partition are encoded once for both files.
        let (labels, incidents) =
            crate::labels::records_batch(&batch, table.source().as_str(), table.name())?;
        let path = dir.join(&rel);
        let labels_path = dir.join(format!("labels/records/{rel}"));
        let mut files = Vec::with_capacity(2);
        if opts.formats.parquet {
            files.push((path.as_path(), &batch));
        }
        files.push((labels_path.as_path(), &labels));
        let row_group_rows = opts.config.generation.output.row_group_rows;
        let sums = write_parquet_files(&files, opts.compression, row_group_rows)?;
        let mut jsonl = None;
        if opts.formats.jsonl {
            let jrel = jsonl_path(table.source(), table.name(), hour);
            let mut out = JsonLines::create(&dir.join(&jrel), opts.jsonl_level)?;
            table.write_native(world, hour, &batch, &mut out)?;
            let w = out.finish()?;
            jsonl = Some(FileSum {
                bytes: w.bytes,
                xxh64: w.xxh64,
            });
        }
        let d = Done {
            table: ti,
            hour,
            rows: batch.num_rows() as u64,
            parquet: opts.formats.parquet.then(|| sums[0]),
            jsonl,
            labels: sums[sums.len() - 1],
            incidents,
        };
        self.journal.append(&d.entry(self.tables))?;
        let c = self.counters;
        (self.progress)(Progress {
            done: c.done.fetch_add(1, Ordering::Relaxed) + 1,
            total: self.total,
            rows: c.rows.fetch_add(d.rows, Ordering::Relaxed) + d.rows,
            bytes: c.bytes.fetch_add(d.bytes(), Ordering::Relaxed) + d.bytes(),
        });
        Ok(d)
    }

    fn plan(&self, day: Micros) -> Result<World, Error> {
        Trace::span(self.trace, "world", "", day, || day_world(self.opts, day))
    }

    /// Renders `render` (partitions, hour-major) on `pool`, day by day: each day's
    /// partitions in parallel while one worker plans the next day's world. Once a day's
    /// partitions are written, `day_done(world, midnight, partitions)` gets them in
    /// `render`'s order, before the day's world is dropped. Returns the last day's world.
    pub(super) fn render_days(
        &self,
        pool: &rayon::ThreadPool,
        render: &[(usize, Micros)],
        mut day_done: impl FnMut(&World, Micros, Vec<Done>) -> Result<(), Error>,
    ) -> Result<World, Error> {
        let days: Vec<Micros> = range_days(self.opts.range).collect();
        let first_day = days
            .first()
            .ok_or_else(|| Error::Other("a run without a day".into()))?;
        let mut world = self.plan(*first_day)?;
        let mut next = 0;
        for (i, &day) in days.iter().enumerate() {
            let first = next;
            while next < render.len() && render[next].1 < day + DAY {
                next += 1;
            }
            let tasks = &render[first..next];
            let (written, following) = pool.install(|| {
                rayon::join(
                    || {
                        tasks
                            .par_iter()
                            .map(|&(ti, hour)| self.partition(&world, ti, hour))
                            .collect::<Result<Vec<Done>, Error>>()
                    },
                    || days.get(i + 1).map(|&d| self.plan(d)),
                )
            });
            day_done(&world, day, written?)?;
            if let Some(w) = following.transpose()? {
                world = w;
            }
            release_free_memory();
        }
        Ok(world)
    }
}
