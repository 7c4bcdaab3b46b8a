//! The client through a configured HTTP CONNECT proxy on loopback.

mod support;

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use esbyt::{Client, Config, Status};
use esbyt_emulator::{Emulator, EmulatorConfig, TEST_BONUS_ID};
use support::read_head;

/// A CONNECT proxy that tunnels to the requested address, or refuses every
/// request with 403 when `refuse` is set. Returns its URL and the CONNECT
/// request lines it received.
fn start_proxy(refuse: bool) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = seen.clone();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let recorded = recorded.clone();
            thread::spawn(move || {
                let Some(head) = read_head(&mut client) else {
                    return;
                };
                let line = head.lines().next().unwrap_or_default().to_owned();
                recorded.lock().unwrap().push(line.clone());
                if refuse {
                    let _ =
                        client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
                    return;
                }
                let target = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let Ok(server) = TcpStream::connect(&target) else {
                    return;
                };
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                tunnel(client, server);
            });
        }
    });
    (url, seen)
}

fn tunnel(client: TcpStream, server: TcpStream) {
    let (mut client_reader, mut server_writer) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upstream = thread::spawn(move || {
        let _ = io::copy(&mut client_reader, &mut server_writer);
        let _ = server_writer.shutdown(std::net::Shutdown::Write);
    });
    let (mut server_reader, mut client_writer) = (server, client);
    let _ = io::copy(&mut server_reader, &mut client_writer);
    let _ = client_writer.shutdown(std::net::Shutdown::Write);
    let _ = upstream.join();
}

fn client_via(proxy: &str, emulator: &Emulator) -> Client {
    Client::new(Config {
        allow_http: true,
        supplier: Some(1111),
        proxy: Some(proxy.to_owned()),
        ..Config::new(emulator.base_url())
    })
    .unwrap()
}

#[test]
fn calls_go_through_configured_proxy() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let (proxy, seen) = start_proxy(false);
    let client = client_via(&proxy, &emulator);

    let balance = client.check_bonus(TEST_BONUS_ID).unwrap();
    let write_off = client.spend_bonus(TEST_BONUS_ID, 10).unwrap();

    assert_eq!(balance.amount, 500);
    assert_eq!(write_off.spend_id, "000000001");
    let expected = format!("CONNECT {} HTTP/1.1", emulator.local_addr());
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|line| *line == expected), "{seen:?}");
}

#[test]
fn refusing_proxy_means_nothing_was_sent() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let (proxy, seen) = start_proxy(true);
    let client = client_via(&proxy, &emulator);

    let error = client.spend_bonus(TEST_BONUS_ID, 10).unwrap_err();

    assert_eq!(error.status(), Status::Connection, "{error}");
    assert!(error.message().contains("proxy"), "{}", error.message());
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(emulator.executed_spends().is_empty());
}

#[test]
fn proxy_must_be_http_url() {
    let error = Client::new(Config {
        proxy: Some("socks5://127.0.0.1:1080".to_owned()),
        ..Config::new("https://bonus.example/")
    })
    .unwrap_err();

    assert_eq!(error.status(), Status::Config);
    assert!(
        error
            .message()
            .starts_with("proxy \"socks5://127.0.0.1:1080\" is invalid"),
        "{}",
        error.message()
    );
}
