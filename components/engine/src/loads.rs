//! CSV loads through the engine's HTTP API, with progress. A load is checked whole first (every
//! rejected line reported, nothing written: see `csvload`), then written as one change-log
//! commit, so it is applied everywhere or nowhere. Progress is kept in memory on the engine that
//! took the load (lost if it restarts; the log says whether the commit happened).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::csvload::{self, Rejected};
use crate::engine::Engine;

/// Loads remembered per engine (the oldest are forgotten first).
const KEEP: usize = 100;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Parsing and checking rows against the cube.
    Checking,
    /// Every row passed; committing to the change log and applying here.
    Writing,
    /// Committed and applied: every engine applies it from the log.
    Done,
    /// Rows were rejected; nothing was written.
    Rejected,
    /// Unknown cube, or the commit failed (nothing was written unless `log_position` is set).
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Load {
    pub id: u64,
    pub cube: String,
    pub state: State,
    pub rows_checked: usize,
    pub rows: Option<usize>,
    pub rejected: Vec<Rejected>,
    pub log_position: Option<i64>,
    pub error: Option<String>,
}

#[derive(Default)]
pub struct Loads {
    next: Mutex<u64>,
    all: Mutex<BTreeMap<u64, Load>>,
}

impl Loads {
    pub fn get(&self, id: u64) -> Option<Load> {
        self.all.lock().unwrap().get(&id).cloned()
    }

    pub fn list(&self) -> Vec<Load> {
        self.all.lock().unwrap().values().rev().cloned().collect()
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut Load)) {
        if let Some(l) = self.all.lock().unwrap().get_mut(&id) {
            f(l);
        }
    }

    fn start(&self, cube: String) -> u64 {
        let id = {
            let mut n = self.next.lock().unwrap();
            *n += 1;
            *n
        };
        let mut all = self.all.lock().unwrap();
        all.insert(id, Load { id, cube, state: State::Checking, rows_checked: 0, rows: None, rejected: vec![], log_position: None, error: None });
        while all.len() > KEEP {
            all.pop_first();
        }
        id
    }
}

/// Starts loading `text` into `model.cube`; returns the load's id at once.
pub fn start(engine: Arc<Engine>, loads: Arc<Loads>, model: String, cube: String, text: String) -> (u64, tokio::task::JoinHandle<()>) {
    let id = loads.start(format!("{model}.{cube}"));
    let task = tokio::spawn(async move {
        let fail = |loads: &Loads, e: String| loads.update(id, |l| (l.state, l.error) = (State::Failed, Some(e)));
        let Some(definition) = engine.view().cube(&model, &cube).map(|s| s.cube.clone()) else {
            return fail(&loads, format!("relation \"{model}.{cube}\" does not exist"));
        };
        // Parsing millions of rows is CPU work: off the async threads.
        let progress = loads.clone();
        let checked = tokio::task::spawn_blocking(move || csvload::check_with_progress(&definition, &text, &mut |n| progress.update(id, |l| l.rows_checked = n))).await;
        let (cells, report) = match checked {
            Ok(r) => r,
            Err(e) => return fail(&loads, format!("checking the rows: {e}")),
        };
        if !report.rejected.is_empty() {
            return loads.update(id, |l| (l.state, l.rows_checked, l.rows, l.rejected) = (State::Rejected, report.rows, Some(report.rows), report.rejected));
        }
        loads.update(id, |l| (l.state, l.rows_checked, l.rows) = (State::Writing, report.rows, Some(report.rows)));
        // Checked again against the image as it is now: a model published while the file was
        // being checked must not let rows through that it no longer accepts.
        let written = match engine.check_cells(&model, &cube, &cells) {
            Ok(entries) => engine.write(entries).await,
            Err(e) => Err(e),
        };
        match written {
            Ok(pos) => loads.update(id, |l| (l.state, l.log_position) = (State::Done, Some(pos))),
            Err(e) => fail(&loads, format!("{e:#}")),
        }
    });
    (id, task)
}
