//! A SQL session's transaction, as PostgreSQL keeps it: the rule (what each of BEGIN, COMMIT,
//! ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK TO and an error does in each state) as a pure state
//! machine; the SQL handler does the I/O (checking writes, the one change-log commit).
//!
//! Writes inside a block are checked when they are made and kept here; COMMIT writes them all
//! in one change-log transaction (checked once more against the model then), ROLLBACK forgets
//! them. Nobody else sees them before the commit; this session's own queries do.

use serde_json::{Map, Value};

/// Where the session is: outside a block, inside one, or inside one that an error aborted
/// (everything but ROLLBACK is then refused with SQLSTATE 25P02).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Block {
    #[default]
    Idle,
    Open,
    Failed,
}

/// One cell write made inside a block, as the client wrote it (checked again at COMMIT).
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub model: String,
    pub cube: String,
    pub cell: Map<String, Value>,
}

/// The transaction control statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Begin { read_only: bool },
    Commit,
    Rollback,
    Savepoint(String),
    Release(String),
    RollbackTo(String),
}

/// What the handler does after a control statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Answer with this command tag; `notice` is PostgreSQL's warning, if it gives one.
    Reply { tag: &'static str, notice: Option<&'static str> },
    /// Write these in one change-log transaction, then answer COMMIT (on failure: the error,
    /// and the block is over: nothing was written).
    Commit(Vec<Pending>),
}

/// A refusal: SQLSTATE and message.
pub type Refusal = (&'static str, String);

#[derive(Debug, Default)]
pub struct Txn {
    pub block: Block,
    /// The statements of one simple-query message outside a block: one implicit transaction.
    pub implicit: bool,
    pub read_only: bool,
    pending: Vec<Pending>,
    savepoints: Vec<(String, usize)>,
}

const ABORTED: &str = "current transaction is aborted, commands ignored until end of transaction block";

impl Txn {
    /// Whether a statement may run now: in an aborted block only ROLLBACK (also TO a
    /// savepoint) and COMMIT are accepted.
    pub fn admit(&self, control: Option<&Control>) -> Result<(), Refusal> {
        match (self.block, control) {
            (Block::Failed, Some(Control::Rollback | Control::RollbackTo(_) | Control::Commit)) => Ok(()),
            (Block::Failed, _) => Err(("25P02", ABORTED.into())),
            _ => Ok(()),
        }
    }

    /// A statement failed: an open block is aborted; an implicit one is discarded.
    pub fn fail(&mut self) {
        if self.implicit {
            self.reset();
        } else if self.block == Block::Open {
            self.block = Block::Failed;
        }
    }

    /// Whether writes are kept for a commit (inside a block, explicit or implicit) rather
    /// than written at once.
    pub fn buffering(&self) -> bool {
        self.block == Block::Open || self.implicit
    }

    /// Keeps writes for the commit; refused in a READ ONLY block.
    pub fn buffer(&mut self, writes: Vec<Pending>) -> Result<(), Refusal> {
        if self.read_only {
            return Err(("25006", "cannot execute INSERT or UPDATE in a read-only transaction".into()));
        }
        self.pending.extend(writes);
        Ok(())
    }

    /// This session's uncommitted writes (its own queries see them).
    pub fn pending(&self) -> &[Pending] {
        &self.pending
    }

    /// The end of a simple-query message: an implicit transaction commits its writes.
    pub fn end_of_message(&mut self) -> Option<Vec<Pending>> {
        if !self.implicit {
            return None;
        }
        let writes = std::mem::take(&mut self.pending);
        self.reset();
        Some(writes)
    }

    fn reset(&mut self) {
        *self = Txn::default();
    }

    pub fn control(&mut self, c: Control) -> Result<Step, Refusal> {
        self.admit(Some(&c))?;
        let outside = |what: &str| Err(("25P01", format!("{what} can only be used in transaction blocks")));
        let in_block = self.block != Block::Idle || self.implicit;
        let reply = |tag, notice| Ok(Step::Reply { tag, notice });
        match c {
            Control::Begin { read_only } => {
                if self.block == Block::Open {
                    return reply("BEGIN", Some("there is already a transaction in progress"));
                }
                // BEGIN inside an implicit transaction makes it explicit, keeping its writes.
                self.implicit = false;
                self.block = Block::Open;
                self.read_only = read_only;
                reply("BEGIN", None)
            }
            Control::Commit => match (self.block, self.implicit) {
                (Block::Idle, false) => reply("COMMIT", Some("there is no transaction in progress")),
                (Block::Failed, _) => {
                    self.reset();
                    reply("ROLLBACK", None)
                }
                _ => {
                    let writes = std::mem::take(&mut self.pending);
                    self.reset();
                    Ok(Step::Commit(writes))
                }
            },
            Control::Rollback => {
                let notice = (!in_block).then_some("there is no transaction in progress");
                self.reset();
                reply("ROLLBACK", notice)
            }
            Control::Savepoint(name) => {
                if !in_block {
                    return outside("SAVEPOINT");
                }
                self.savepoints.push((name, self.pending.len()));
                reply("SAVEPOINT", None)
            }
            Control::Release(name) => {
                if !in_block {
                    return outside("RELEASE SAVEPOINT");
                }
                let at = self.find(&name)?;
                self.savepoints.truncate(at);
                reply("RELEASE", None)
            }
            Control::RollbackTo(name) => {
                if !in_block {
                    return outside("ROLLBACK TO SAVEPOINT");
                }
                let at = self.find(&name)?;
                self.pending.truncate(self.savepoints[at].1);
                self.savepoints.truncate(at + 1);
                self.block = Block::Open;
                reply("ROLLBACK", None)
            }
        }
    }

    /// The newest savepoint of that name; an unknown name aborts the block, as in PostgreSQL.
    fn find(&mut self, name: &str) -> Result<usize, Refusal> {
        match self.savepoints.iter().rposition(|(n, _)| n == name) {
            Some(i) => Ok(i),
            None => {
                self.fail();
                Err(("3B001", format!("savepoint \"{name}\" does not exist")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(n: i64) -> Pending {
        Pending { model: "m".into(), cube: "c".into(), cell: [("v".to_string(), Value::from(n))].into_iter().collect() }
    }

    fn values(p: &[Pending]) -> Vec<i64> {
        p.iter().map(|p| p.cell["v"].as_i64().unwrap()).collect()
    }

    fn tag(s: Result<Step, Refusal>) -> &'static str {
        match s {
            Ok(Step::Reply { tag, .. }) => tag,
            Ok(Step::Commit(_)) => "COMMIT(writes)",
            Err((code, _)) => code,
        }
    }

    #[test]
    fn each_control_statement_in_each_state() {
        use Control::*;
        // (state before, statement, answer, state after)
        fn open(t: &mut Txn) {
            t.control(Begin { read_only: false }).unwrap();
        }
        fn failed(t: &mut Txn) {
            open(t);
            t.fail();
        }
        type Setup = fn(&mut Txn);
        let table: Vec<(&str, Setup, Control, &str, Block)> = vec![
            ("idle", |_| {}, Begin { read_only: false }, "BEGIN", Block::Open),
            ("idle", |_| {}, Commit, "COMMIT", Block::Idle),
            ("idle", |_| {}, Rollback, "ROLLBACK", Block::Idle),
            ("idle", |_| {}, Savepoint("a".into()), "25P01", Block::Idle),
            ("idle", |_| {}, Release("a".into()), "25P01", Block::Idle),
            ("idle", |_| {}, RollbackTo("a".into()), "25P01", Block::Idle),
            ("open", open, Begin { read_only: false }, "BEGIN", Block::Open),
            ("open", open, Commit, "COMMIT(writes)", Block::Idle),
            ("open", open, Rollback, "ROLLBACK", Block::Idle),
            ("open", open, Savepoint("a".into()), "SAVEPOINT", Block::Open),
            ("open", open, Release("nope".into()), "3B001", Block::Failed),
            ("open", open, RollbackTo("nope".into()), "3B001", Block::Failed),
            ("failed", failed, Begin { read_only: false }, "25P02", Block::Failed),
            ("failed", failed, Savepoint("a".into()), "25P02", Block::Failed),
            ("failed", failed, Commit, "ROLLBACK", Block::Idle),
            ("failed", failed, Rollback, "ROLLBACK", Block::Idle),
        ];
        for (name, setup, c, want, after) in table {
            let mut t = Txn::default();
            setup(&mut t);
            let what = format!("{name}: {c:?}");
            assert_eq!(tag(t.control(c)), want, "{what}");
            assert_eq!(t.block, after, "{what}");
        }
    }

    #[test]
    fn an_aborted_block_refuses_statements_and_commits_nothing() {
        let mut t = Txn::default();
        t.control(Control::Begin { read_only: false }).unwrap();
        t.buffer(vec![w(1)]).unwrap();
        t.fail();
        assert_eq!(t.admit(None).unwrap_err().0, "25P02");
        assert_eq!(t.control(Control::Commit), Ok(Step::Reply { tag: "ROLLBACK", notice: None }));
        assert!(t.pending().is_empty() && t.block == Block::Idle);
    }

    #[test]
    fn commit_hands_over_every_write_rollback_none() {
        let mut t = Txn::default();
        t.control(Control::Begin { read_only: false }).unwrap();
        t.buffer(vec![w(1), w(2)]).unwrap();
        assert_eq!(t.control(Control::Commit).map(|s| matches!(s, Step::Commit(ref p) if values(p) == [1, 2])), Ok(true));
        t.control(Control::Begin { read_only: false }).unwrap();
        t.buffer(vec![w(3)]).unwrap();
        t.control(Control::Rollback).unwrap();
        assert!(t.pending().is_empty());
    }

    #[test]
    fn savepoints_undo_what_came_after_them() {
        let mut t = Txn::default();
        t.control(Control::Begin { read_only: false }).unwrap();
        t.buffer(vec![w(1)]).unwrap();
        t.control(Control::Savepoint("a".into())).unwrap();
        t.buffer(vec![w(2)]).unwrap();
        t.control(Control::Savepoint("b".into())).unwrap();
        t.buffer(vec![w(3)]).unwrap();
        t.fail();
        // ROLLBACK TO repairs an aborted block and keeps the savepoint.
        assert_eq!(tag(t.control(Control::RollbackTo("b".into()))), "ROLLBACK");
        assert_eq!((t.block, values(t.pending())), (Block::Open, vec![1, 2]));
        t.control(Control::RollbackTo("a".into())).unwrap();
        assert_eq!(values(t.pending()), [1]);
        t.control(Control::Release("a".into())).unwrap();
        assert_eq!(tag(t.control(Control::RollbackTo("a".into()))), "3B001");
        assert_eq!(t.block, Block::Failed);
    }

    #[test]
    fn an_implicit_transaction_is_all_or_nothing() {
        let mut t = Txn { implicit: true, ..Default::default() };
        t.buffer(vec![w(1)]).unwrap();
        t.fail();
        assert_eq!((t.block, t.implicit, t.pending().len()), (Block::Idle, false, 0), "an error discards it");
        assert_eq!(t.end_of_message(), None);
        let mut t = Txn { implicit: true, ..Default::default() };
        t.buffer(vec![w(1)]).unwrap();
        assert_eq!(t.end_of_message().map(|p| values(&p)), Some(vec![1]));
        // BEGIN inside makes it explicit: the message's end commits nothing.
        let mut t = Txn { implicit: true, ..Default::default() };
        t.buffer(vec![w(1)]).unwrap();
        t.control(Control::Begin { read_only: false }).unwrap();
        assert_eq!(t.end_of_message(), None);
        assert_eq!(values(t.pending()), [1]);
    }

    #[test]
    fn a_read_only_block_refuses_writes() {
        let mut t = Txn::default();
        t.control(Control::Begin { read_only: true }).unwrap();
        assert_eq!(t.buffer(vec![w(1)]).unwrap_err().0, "25006");
    }
}
