//! Client of the bonus programme of AO "Chitaenergosbyt": balance checks and
//! write-offs over the partner protocol, for cash-register software.

pub mod error;
pub mod protocol;

pub use error::{Error, Status};
pub use protocol::{Balance, WriteOff};
