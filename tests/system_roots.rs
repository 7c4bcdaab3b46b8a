//! The `system_roots` setting: the operating system's CA store is trusted
//! unless the setting is 0. On Linux, rustls-native-certs 0.8 reads the
//! store from the file that `SSL_CERT_FILE` names, so the test points it at a
//! generated CA. The only test in this file, because it changes the
//! environment of its process, which the C program inherits.

#![cfg(target_os = "linux")]

mod support;

use esbyt::{Detail, Status};
use esbyt_emulator::TEST_BONUS_ID;
use support::calls::{Api, Operation};
use support::pki::{self, Authority, write_file};
use support::tls_server::{TlsServer, TlsServerConfig};

#[test]
fn ssl_cert_file_is_trusted() {
    let dir = pki::test_dir("ssl_cert_file_is_trusted");
    let ca = Authority::root("esbyt test system CA");
    let ca_file = write_file(&dir, "system-ca.pem", &ca.pem);
    let certificate = ca.server(&["localhost"]);
    // SAFETY: this test binary runs no other thread that reads the environment.
    unsafe {
        std::env::set_var("SSL_CERT_FILE", &ca_file);
        std::env::remove_var("SSL_CERT_DIR");
    }

    for api in Api::ALL {
        // The default, and the setting given explicitly.
        for system_roots in [None, Some("1")] {
            let server = TlsServer::start(TlsServerConfig::new(
                vec![certificate.der.clone()],
                certificate.key(),
            ));
            let mut settings = vec![("url", server.url()), ("supplier", "1111".to_owned())];
            if let Some(value) = system_roots {
                settings.push(("system_roots", value.to_owned()));
            }
            let calls = api.run(&settings, &[Operation::Check, Operation::Spend(10)]);

            calls.assert_ok("client_new");
            let balance = calls.assert_ok("check_bonus");
            assert_eq!(balance.amount, 500, "{api}");
            assert_eq!(balance.bonus_id, TEST_BONUS_ID, "{api}");
            let write_off = calls.assert_ok("spend_bonus");
            assert_eq!(write_off.spend_id, "000000005", "{api}");
            server.wait_until_idle();
            assert_eq!(server.write_offs(), 1, "{api}: write-offs responded to");
        }

        let server = TlsServer::start(TlsServerConfig::new(
            vec![certificate.der.clone()],
            certificate.key(),
        ));
        let settings = vec![
            ("url", server.url()),
            ("supplier", "1111".to_owned()),
            ("system_roots", "0".to_owned()),
        ];
        let calls = api.run(&settings, &[Operation::Check, Operation::Spend(10)]);

        calls.assert_ok("client_new");
        for call in ["check_bonus", "spend_bonus"] {
            calls.assert_failed(
                call,
                Status::Tls,
                Detail::TlsUnknownIssuer,
                &["unknown issuer", "extra_ca_file"],
            );
        }
        server.wait_until_idle();
        assert_eq!(server.write_offs(), 0, "{api}: write-offs responded to");
    }
}
