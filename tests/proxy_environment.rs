//! Proxy environment variables are never read. The only test in this file,
//! because it changes the environment of its process.

use std::net::TcpListener;

use esbyt::{Client, Config};
use esbyt_emulator::{Emulator, EmulatorConfig, TEST_BONUS_ID};

#[test]
fn proxy_variables_are_ignored() {
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let trap_url = format!("http://{}", trap.local_addr().unwrap());
    for name in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        // SAFETY: this test binary runs no other thread that reads the environment.
        unsafe { std::env::set_var(name, &trap_url) };
    }
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let client = Client::new(Config {
        allow_http: true,
        ..Config::new(emulator.base_url())
    })
    .unwrap();

    let balance = client.check_bonus(TEST_BONUS_ID).unwrap();

    assert_eq!(balance.amount, 500);
    assert!(
        trap.accept().is_err(),
        "the client connected to the proxy from the environment"
    );
}
