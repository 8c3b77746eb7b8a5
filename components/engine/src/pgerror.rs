//! Errors as PostgreSQL reports them to a client: severity ERROR, a SQLSTATE, the message and
//! where in the statement (1-based character position) the problem is. Every part of the SQL
//! front door builds its errors here, so none of them needs the statement handler (`sql`).

use pgwire::error::{ErrorInfo, PgWireError};

/// An ERROR with SQLSTATE `code`, at `position` of the statement when known.
pub(crate) fn user_error(code: &str, message: impl Into<String>, position: Option<usize>) -> PgWireError {
    let mut info = ErrorInfo::new("ERROR".into(), code.into(), message.into());
    info.position = position.map(|p| p.to_string());
    PgWireError::UserError(Box::new(info))
}
