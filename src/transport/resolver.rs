//! Host name resolution for the agents, once per idle timeout instead of
//! once per request.
//!
//! ureq 3.5 resolves the URL's host before it looks for a kept-alive
//! connection, so it resolves on every request, and with a timeout set its
//! `DefaultResolver` starts a new thread for each lookup. On a kept-alive
//! connection to 127.0.0.1 that thread took most of the time of a call
//! (measured with `scripts/bench.sh`, see BENCHMARKS.md). This resolver
//! returns an IP address in the URL as it is, and reuses the addresses of a
//! host name for `idle_timeout`, as long as an idle connection may be reused.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Addresses of one `host:port`, and when they were looked up.
#[derive(Debug)]
struct Resolved {
    host_and_port: String,
    at: Instant,
    addresses: ResolvedSocketAddrs,
}

/// A resolver that skips the lookup of IP addresses and keeps the addresses
/// of host names for a while. Lookups go to `R`, which is ureq's resolver
/// outside the tests.
#[derive(Debug)]
pub struct CachingResolver<R = DefaultResolver> {
    inner: R,
    keep_for: Duration,
    /// An agent reaches one server and at most one proxy, so a short list
    /// is enough.
    cache: Mutex<Vec<Resolved>>,
}

impl CachingResolver {
    /// Creates a resolver that keeps addresses for `keep_for`. Zero keeps none.
    pub fn new(keep_for: Duration) -> CachingResolver {
        CachingResolver::with_inner(DefaultResolver::default(), keep_for)
    }
}

impl<R: Resolver> CachingResolver<R> {
    fn with_inner(inner: R, keep_for: Duration) -> CachingResolver<R> {
        CachingResolver {
            inner,
            keep_for,
            cache: Mutex::new(Vec::new()),
        }
    }

    fn cached(&self, host_and_port: &str) -> Option<ResolvedSocketAddrs> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .iter()
            .find(|entry| entry.host_and_port == host_and_port)
            .filter(|entry| entry.at.elapsed() < self.keep_for)
            .map(|entry| entry.addresses.clone())
    }

    fn store(&self, host_and_port: String, addresses: &ResolvedSocketAddrs) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|entry| {
            entry.host_and_port != host_and_port && entry.at.elapsed() < self.keep_for
        });
        cache.push(Resolved {
            host_and_port,
            at: Instant::now(),
            addresses: addresses.clone(),
        });
    }
}

impl<R: Resolver> Resolver for CachingResolver<R> {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        // A URI without scheme or host goes to ureq's resolver, which rejects it.
        let host_and_port = match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => DefaultResolver::host_and_port(scheme, authority),
            _ => None,
        };
        let Some(host_and_port) = host_and_port else {
            return self.inner.resolve(uri, config, timeout);
        };

        // "127.0.0.1:8808" and "[::1]:8808" parse as socket addresses.
        if let Ok(address) = host_and_port.parse::<SocketAddr>() {
            let mut addresses = self.empty();
            addresses.push(address);
            return Ok(addresses);
        }
        if let Some(addresses) = self.cached(&host_and_port) {
            return Ok(addresses);
        }
        let addresses = self.inner.resolve(uri, config, timeout)?;
        if !self.keep_for.is_zero() {
            self.store(host_and_port, &addresses);
        }
        Ok(addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Resolves every name to 192.0.2.1 (a documentation address) and
    /// counts the lookups.
    #[derive(Debug, Default)]
    struct CountingResolver {
        lookups: AtomicUsize,
    }

    impl Resolver for CountingResolver {
        fn resolve(
            &self,
            uri: &Uri,
            _config: &Config,
            _timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            self.lookups.fetch_add(1, Ordering::Relaxed);
            let port = uri.port_u16().unwrap_or(443);
            let mut addresses = self.empty();
            addresses.push(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                port,
            ));
            Ok(addresses)
        }
    }

    fn resolve(resolver: &CachingResolver<CountingResolver>, url: &str) -> Vec<SocketAddr> {
        let uri: Uri = url.parse().unwrap();
        let config = ureq::Agent::config_builder().build();
        resolver
            .resolve(&uri, &config, NextTimeout::default())
            .unwrap()
            .to_vec()
    }

    fn lookups(resolver: &CachingResolver<CountingResolver>) -> usize {
        resolver.inner.lookups.load(Ordering::Relaxed)
    }

    #[test]
    fn ip_addresses_skip_the_lookup() {
        let resolver =
            CachingResolver::with_inner(CountingResolver::default(), Duration::from_secs(4));
        assert_eq!(
            resolve(&resolver, "http://127.0.0.1:8808/bonus/"),
            ["127.0.0.1:8808".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(
            resolve(&resolver, "https://[::1]/"),
            ["[::1]:443".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(lookups(&resolver), 0);
    }

    #[test]
    fn host_names_are_looked_up_once_while_kept() {
        let resolver =
            CachingResolver::with_inner(CountingResolver::default(), Duration::from_secs(60));
        let first = resolve(&resolver, "https://bonus.example:888/");
        let second = resolve(&resolver, "https://bonus.example:888/?command=check_bonus");
        assert_eq!(first, second);
        assert_eq!(lookups(&resolver), 1);

        resolve(&resolver, "https://bonus.example:889/");
        assert_eq!(lookups(&resolver), 2, "another port is another entry");
    }

    #[test]
    fn expired_addresses_are_looked_up_again() {
        let resolver =
            CachingResolver::with_inner(CountingResolver::default(), Duration::from_millis(20));
        resolve(&resolver, "https://bonus.example/");
        std::thread::sleep(Duration::from_millis(40));
        resolve(&resolver, "https://bonus.example/");
        assert_eq!(lookups(&resolver), 2);
    }

    #[test]
    fn zero_keep_time_looks_up_every_time() {
        let resolver = CachingResolver::with_inner(CountingResolver::default(), Duration::ZERO);
        resolve(&resolver, "https://bonus.example/");
        resolve(&resolver, "https://bonus.example/");
        assert_eq!(lookups(&resolver), 2);
    }
}
