//! How one attempt to reach a target ended, as every client reports it.

use crate::message::BoxError;

/// How one attempt to get an answer from a target ended.
pub enum Attempt<T> {
    Answered(T),
    /// No connection could be made: the request never left.
    Refused(BoxError),
    /// The connection closed (or was reset) before any byte of an answer.
    Unanswered(BoxError),
    Failed(BoxError),
}

impl<T> Attempt<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Answered(t) => Attempt::Answered(f(t)),
            Attempt::Refused(e) => Attempt::Refused(e),
            Attempt::Unanswered(e) => Attempt::Unanswered(e),
            Attempt::Failed(e) => Attempt::Failed(e),
        }
    }
}
