//! A configuration file loaded through the C ABI, as a host written in C,
//! C# or Python loads it.

use std::ffi::CString;
use std::ptr;

use esbyt::ffi::{
    esbyt_client, esbyt_client_free, esbyt_client_new, esbyt_config_free, esbyt_config_load_file,
    esbyt_config_new,
};
use esbyt_emulator::{Emulator, EmulatorConfig};

#[test]
fn loaded_file_configures_client() {
    let emulator = Emulator::start("127.0.0.1:0", EmulatorConfig::with_default_cards()).unwrap();
    let folder = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("config-file-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("esbyt.toml");
    std::fs::write(
        &path,
        format!(
            "url = \"{}\"\nsupplier = 1111\nallow_http = true\n",
            emulator.base_url()
        ),
    )
    .unwrap();
    let path = CString::new(path.to_str().unwrap()).unwrap();

    let config = esbyt_config_new();
    // SAFETY: valid handles and a NUL-terminated path; the error record may be NULL.
    let loaded = unsafe { esbyt_config_load_file(config, path.as_ptr(), ptr::null_mut()) };
    let mut client: *mut esbyt_client = ptr::null_mut();
    // SAFETY: as above, with a writable out pointer.
    let created = unsafe { esbyt_client_new(config, &mut client, ptr::null_mut()) };
    esbyt_config_free(config);

    assert_eq!(loaded, 0);
    assert_eq!(created, 0);
    assert_eq!(esbyt_client_free(client), 0);
}

#[test]
fn bad_file_names_line() {
    let folder = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("config-file-bad-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("esbyt.toml");
    std::fs::write(&path, "url = \"https://h/\"\ntimeout_ms = \"soon\"\n").unwrap();
    let path = CString::new(path.to_str().unwrap()).unwrap();
    let mut error = std::mem::MaybeUninit::<esbyt::ffi::esbyt_error>::zeroed();

    let config = esbyt_config_new();
    // SAFETY: valid handle, NUL-terminated path and a writable error record.
    let status = unsafe { esbyt_config_load_file(config, path.as_ptr(), error.as_mut_ptr()) };
    esbyt_config_free(config);

    assert_eq!(status, esbyt::ffi::ESBYT_CONFIG);
    // SAFETY: the call wrote the whole record.
    let error = unsafe { error.assume_init() };
    let message: Vec<u8> = error
        .message
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let message = String::from_utf8(message).unwrap();
    assert!(
        message.contains("line 2: timeout_ms \"soon\" is invalid"),
        "{message}"
    );
}
