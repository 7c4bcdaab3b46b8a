//! The floor: the least work a client can do for a balance check. It writes
//! the library's own request bytes on a kept-alive connection and reads the
//! known number of response bytes, with no HTTP or XML parsing. Over HTTPS
//! it uses a bare rustls stream with the same client certificate, provider
//! and TLS versions as the library.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::args::Args;
use crate::drive::{self, NewClientTiming, Worker};

/// Files of the client side of mutual TLS.
struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// Settings shared by every floor connection, built once per process.
struct Target {
    address: SocketAddr,
    tls_files: Option<TlsFiles>,
    /// Built on first use, as the library caches its configuration.
    tls_config: OnceLock<Arc<ClientConfig>>,
    request: Arc<[u8]>,
    response_bytes: usize,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.read(buffer),
            Stream::Tls(stream) => stream.read(buffer),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.write(bytes),
            Stream::Tls(stream) => stream.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(stream) => stream.flush(),
            Stream::Tls(stream) => stream.flush(),
        }
    }
}

/// A kept-alive connection and its reusable response buffer.
struct Connection {
    stream: Stream,
    request: Arc<[u8]>,
    response: Vec<u8>,
}

impl Connection {
    fn call(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.request)?;
        self.stream.read_exact(&mut self.response)
    }
}

impl Target {
    fn from_args(args: &Args) -> Result<Target, String> {
        let url = args.text("url")?;
        let (tls, address) = parse_url(url)?;
        let tls_files = if tls {
            Some(TlsFiles {
                ca: args.path("ca")?,
                cert: args.path("cert")?,
                key: args.path("key")?,
            })
        } else {
            None
        };
        let request_file = args.path("request")?;
        let request = std::fs::read(&request_file)
            .map_err(|error| format!("cannot read {}: {error}", request_file.display()))?;
        Ok(Target {
            address,
            tls_files,
            tls_config: OnceLock::new(),
            request: request.into(),
            response_bytes: args.number("response_bytes", 0usize)?,
        })
    }

    fn tls_config(&self, files: &TlsFiles) -> Result<Arc<ClientConfig>, String> {
        if let Some(config) = self.tls_config.get() {
            return Ok(config.clone());
        }
        let config = build_tls_config(files).map_err(|error| format!("floor TLS: {error}"))?;
        Ok(self.tls_config.get_or_init(|| config).clone())
    }

    fn connect(&self) -> Result<Connection, String> {
        let socket = TcpStream::connect(self.address)
            .map_err(|error| format!("connect {}: {error}", self.address))?;
        socket
            .set_nodelay(true)
            .map_err(|error| error.to_string())?;
        let stream = match &self.tls_files {
            None => Stream::Plain(socket),
            Some(files) => {
                let config = self.tls_config(files)?;
                let name = ServerName::IpAddress(self.address.ip().into());
                let connection =
                    ClientConnection::new(config, name).map_err(|error| error.to_string())?;
                // The handshake runs during the first write.
                Stream::Tls(Box::new(StreamOwned::new(connection, socket)))
            }
        };
        Ok(Connection {
            stream,
            request: self.request.clone(),
            response: vec![0; self.response_bytes],
        })
    }

    fn worker(&self) -> Result<Worker, String> {
        let mut connection = self.connect()?;
        Ok(Box::new(move || {
            connection
                .call()
                .map_err(|error| format!("floor call: {error}"))
        }))
    }
}

fn build_tls_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, Box<dyn std::error::Error>> {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(&files.ca)? {
        roots.add(certificate?)?;
    }
    let chain = CertificateDer::pem_file_iter(&files.cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&files.key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// Splits `http://127.0.0.1:PORT/` or `https://...` into the scheme's TLS
/// flag and the socket address. The benchmark only uses loopback addresses.
fn parse_url(url: &str) -> Result<(bool, SocketAddr), String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(format!("url {url:?} is not http:// or https://"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let address = authority
        .parse()
        .map_err(|_| format!("url {url:?} does not start with an IP address and port"))?;
    Ok((tls, address))
}

/// Runs one measurement mode and returns its result fields.
pub fn run(args: &Args) -> Result<String, String> {
    let target = Target::from_args(args)?;
    match args.text("mode")? {
        "sequential" => {
            let mut worker = target.worker()?;
            let ns = drive::sequential(
                &mut worker,
                args.number("warmup", 100)?,
                args.number("iterations", 1000)?,
            )?;
            Ok(format!("ns_per_call={ns:.0}"))
        }
        "threads" => {
            let per_second = drive::throughput(
                args.number("threads", 1)?,
                Duration::from_secs_f64(args.number("seconds", 1.0)?),
                args.number("warmup", 20)?,
                &|| target.worker(),
            )?;
            Ok(format!("calls_per_second={per_second:.0}"))
        }
        "new-clients" => {
            let mut timings = Vec::new();
            for _ in 0..args.number("clients", 5usize)? {
                let started = Instant::now();
                if let Some(files) = &target.tls_files {
                    target.tls_config(files)?;
                }
                let create = started.elapsed();
                let mut connection = target.connect()?;
                connection
                    .call()
                    .map_err(|error| format!("floor call: {error}"))?;
                timings.push(NewClientTiming {
                    create,
                    total: started.elapsed(),
                });
            }
            Ok(drive::format_new_clients(&timings))
        }
        other => Err(format!("mode {other:?} is not supported by the floor")),
    }
}
