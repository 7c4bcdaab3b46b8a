//! Builds `tests/c/tls_call.c` against libesbyt.so in the target directory and
//! runs it. The program is compiled once per test binary with the system C
//! compiler. A missing compiler fails the test rather than skipping it, so a
//! machine without one cannot report the C ABI as tested.

// NOTE: Linux only, because the program finds libesbyt.so through `-Wl,-rpath`.

use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SOURCE: &str = "tests/c/tls_call.c";

/// Flags of every C program of the repository's tests.
const C_FLAGS: [&str; 5] = ["-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror"];

/// Maximum run time of one program. It makes a few calls to a local server,
/// each limited by the library's default 15 s deadline, so reaching this
/// limit means a hang.
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);

/// Output of one run of the program.
pub struct ProgramRun {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ProgramRun {
    /// Returns the exit code and both outputs, for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit code {:?}\nstdout:\n{}\nstderr:\n{}",
            self.exit_code, self.stdout, self.stderr
        )
    }
}

/// Runs the program with arguments and returns its output. The program
/// inherits this process's environment, except `LD_LIBRARY_PATH`, so it
/// loads the libesbyt.so that its rpath names.
pub fn run_tls_call(args: &[String]) -> ProgramRun {
    let program = tls_call_program();
    let mut child = Command::new(program)
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("failed to start {}: {error}", program.display()));
    let stdout = read_in_thread(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_thread(child.stderr.take().expect("stderr is piped"));

    let deadline = Instant::now() + PROGRAM_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("failed to wait for tls_call") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tls_call {args:?} did not finish within {PROGRAM_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    ProgramRun {
        exit_code: status.code(),
        stdout: stdout.join().expect("stdout reader panicked"),
        stderr: stderr.join().expect("stderr reader panicked"),
    }
}

fn read_in_thread(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes)
            .expect("failed to read the output of tls_call");
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Compiles the program once for the test binary and returns its path.
fn tls_call_program() -> &'static Path {
    static PROGRAM: OnceLock<PathBuf> = OnceLock::new();
    PROGRAM.get_or_init(build_program)
}

fn build_program() -> PathBuf {
    let library_dir = super::shared_library::library_dir();
    // The name contains the test binary and the process id, so concurrent
    // test binaries never overwrite each other's program.
    let program = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "tls_call-{}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));

    let mut args: Vec<OsString> = C_FLAGS.iter().map(OsString::from).collect();
    let mut include_flag = OsString::from("-I");
    include_flag.push(Path::new(ROOT).join("include"));
    args.push(include_flag);
    args.push(Path::new(ROOT).join(SOURCE).into());
    args.push("-o".into());
    args.push(program.clone().into());
    let mut library_flag = OsString::from("-L");
    library_flag.push(library_dir);
    args.push(library_flag);
    args.push("-lesbyt".into());
    let mut rpath_flag = OsString::from("-Wl,-rpath,");
    rpath_flag.push(library_dir);
    args.push(rpath_flag);

    let output = match Command::new("cc").args(&args).output() {
        Ok(output) => output,
        Err(error) if error.kind() == io::ErrorKind::NotFound => panic!(
            "`cc` was not found on PATH: install a C compiler (on Debian: apt-get install gcc). \
             The C ABI tests fail rather than skip without it."
        ),
        Err(error) => panic!("failed to start `cc`: {error}"),
    };
    assert!(
        output.status.success(),
        "compiling {SOURCE} failed with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    program
}
