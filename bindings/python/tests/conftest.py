"""Fixtures of the binding's tests: the C library and a new emulator for each test.

Run from the repository root:

    cargo build
    python3 -m pytest bindings/python/tests -q

By default the tests use target/debug/libesbyt.so and target/debug/esbyt-emulator, and
build them with cargo when they are missing (but not when they are out of date, so run
cargo build after changing the Rust sources). The environment variables ESBYT_LIBRARY
and ESBYT_EMULATOR select other builds; tests/python.rs sets both.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path
from typing import List, NamedTuple

import pytest

REPOSITORY = Path(__file__).resolve().parents[3]
BINDING_DIR = REPOSITORY / "bindings" / "python"

# Cards of the emulator's default set.
TEST_CARD = "2700009601205"
TEST_ACCOUNT = "1055444444"
THOUSAND_CARD = "2700009601212"
UNKNOWN_CARD = "2700009601999"
CLOSE_AFTER_EXECUTE_CARD = "2700009609027"
SUPPLIER = 1111

# Time for the emulator to print its URL, in seconds. It starts in milliseconds, so
# reaching this limit means it hangs.
EMULATOR_START_TIMEOUT = 30


def _cargo() -> str:
    """Return the cargo command, also where rustup's folder is not on PATH."""
    found = shutil.which("cargo")
    if found:
        return found
    home_cargo = Path.home() / ".cargo" / "bin" / "cargo"
    if home_cargo.is_file():
        return str(home_cargo)
    raise RuntimeError("cargo not found: install Rust from https://rustup.rs, or set ESBYT_LIBRARY and ESBYT_EMULATOR")


def _built_file(environment_variable: str, default: Path, cargo_arguments: List[str]) -> Path:
    """Return the file that environment_variable names, else default, building it with cargo when missing."""
    configured = os.environ.get(environment_variable)
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise RuntimeError(f"{environment_variable} is {configured!r}, which is not a file")
        return path
    if not default.is_file():
        subprocess.run([_cargo(), "build", "--quiet", *cargo_arguments], cwd=REPOSITORY, check=True)
    return default


LIBRARY_PATH = _built_file("ESBYT_LIBRARY", REPOSITORY / "target" / "debug" / "libesbyt.so", ["--lib", "-p", "esbyt"])
EMULATOR_PATH = _built_file(
    "ESBYT_EMULATOR",
    REPOSITORY / "target" / "debug" / "esbyt-emulator",
    ["-p", "esbyt-emulator", "--bin", "esbyt-emulator"],
)

# esbyt.py and the programs that the tests start find the library through this variable.
os.environ["ESBYT_LIBRARY"] = str(LIBRARY_PATH)
if str(BINDING_DIR) not in sys.path:
    sys.path.insert(0, str(BINDING_DIR))


class ExecutedSpend(NamedTuple):
    """A write-off that the emulator executed, from GET /emulator/spends."""

    spend_id: str
    bonus_id: str
    supplier: int
    amount: int


class EmulatorProcess:
    """An esbyt-emulator process on 127.0.0.1 with a port that the system chose."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [str(EMULATOR_PATH), "--listen", "127.0.0.1:0", "--quiet"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first_line: List[str] = []
        reader = threading.Thread(target=lambda: first_line.append(self.process.stdout.readline()))
        reader.start()
        reader.join(EMULATOR_START_TIMEOUT)
        line = first_line[0] if first_line else ""
        prefix = "esbyt-emulator listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(
                f"{EMULATOR_PATH} printed {line!r} instead of its URL within "
                f"{EMULATOR_START_TIMEOUT} s; stderr: {self.process.stderr.read()!r}"
            )
        #: Base URL such as http://127.0.0.1:PORT/; the emulator also serves /bonus/.
        self.url = line[len(prefix) :].strip()
        parsed = urllib.parse.urlsplit(self.url)
        self.host, self.port = parsed.hostname, parsed.port

    def _get(self, path: str) -> str:
        # http.client reads no proxy environment variables, so the request stays on loopback.
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read().decode("utf-8")
            if response.status != 200:
                raise RuntimeError(f"GET {path} returned {response.status}: {body}")
            return body
        finally:
            connection.close()

    def balance(self, bonus_id: str) -> int:
        """Return the balance of a card on the emulator."""
        return int(self._get(f"/emulator/balance?bonus_id={bonus_id}"))

    def spends(self) -> List[ExecutedSpend]:
        """Return the write-offs that the emulator executed, oldest first."""
        spends = []
        for line in self._get("/emulator/spends").splitlines():
            spend_id, bonus_id, supplier, amount = line.split()
            spends.append(ExecutedSpend(spend_id, bonus_id, int(supplier), int(amount)))
        return spends

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()


@pytest.fixture
def emulator():
    """A new emulator with the default cards, so every test starts from balance 500."""
    process = EmulatorProcess()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def client(emulator):
    """A client of the emulator with the partner code 1111."""
    import esbyt

    with esbyt.Client(url=emulator.url, supplier=SUPPLIER, allow_http=True) as client:
        yield client


def journal_client(emulator: EmulatorProcess, journal: Path):
    """Return a client of the emulator that records write-offs in journal."""
    import esbyt

    return esbyt.Client(url=emulator.url, supplier=SUPPLIER, allow_http=True, journal_file=journal)
