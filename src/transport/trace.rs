//! Records, per call, whether a connection was opened and whether request
//! bytes were written, so a failed write-off can be classified as "nothing
//! was sent" or "outcome unknown" from facts rather than from error kinds.
//!
//! ureq runs a blocking call entirely on the calling thread, so the record
//! is thread-local: [`start`] clears it before the call and [`finish`] reads
//! it afterwards, on the same thread.

use std::cell::Cell;

use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// Record of the wire events of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallTrace {
    /// A new connection was opened (TCP, and TLS for https).
    pub opened_connection: bool,
    /// Request bytes were handed to the connection: the server may have the request.
    pub wrote_request: bool,
    /// Bytes of a response arrived.
    pub received_response: bool,
}

thread_local! {
    static TRACE: Cell<CallTrace> = const { Cell::new(CallTrace {
        opened_connection: false,
        wrote_request: false,
        received_response: false,
    }) };
}

/// Clears the record before a call.
pub fn start() {
    TRACE.with(|trace| trace.set(CallTrace::default()));
}

/// Returns the record of the call made since [`start`].
pub fn finish() -> CallTrace {
    TRACE.with(Cell::get)
}

fn update(change: impl FnOnce(&mut CallTrace)) {
    TRACE.with(|trace| {
        let mut value = trace.get();
        change(&mut value);
        trace.set(value);
    });
}

/// The last connector of the chain: wraps every connection, new or pooled, in
/// a [`TracedTransport`].
#[derive(Debug, Default)]
pub struct TracingConnector {
    /// Whether the agent connects through a CONNECT proxy.
    proxied: bool,
}

impl TracingConnector {
    pub fn new(proxied: bool) -> TracingConnector {
        TracingConnector { proxied }
    }
}

impl<In: Transport> Connector<In> for TracingConnector {
    type Out = TracedTransport<In>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(inner) = chained else {
            return Ok(None);
        };
        // ureq opens the connection to a CONNECT proxy through the same chain,
        // with a copy of the configuration that has no proxy. The CONNECT
        // request written on it is not the bonus request, so it is not recorded.
        let records = !(self.proxied && details.config.proxy().is_none());
        if records {
            update(|trace| trace.opened_connection = true);
        }
        Ok(Some(TracedTransport { inner, records }))
    }
}

/// A connection that records writes and reads in the thread's [`CallTrace`].
#[derive(Debug)]
pub struct TracedTransport<T> {
    inner: T,
    records: bool,
}

impl<T: Transport> Transport for TracedTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        // Marked before writing: a write that fails half-way may still have
        // delivered the request.
        if self.records && amount > 0 {
            update(|trace| trace.wrote_request = true);
        }
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let received = self.inner.await_input(timeout)?;
        if self.records && received {
            update(|trace| trace.received_response = true);
        }
        Ok(received)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}
