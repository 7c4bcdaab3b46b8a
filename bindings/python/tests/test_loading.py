"""Tests of how esbyt.py finds and checks the C library.

Each test imports esbyt in a new Python process, because the module loads its default
library once per process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import esbyt
from conftest import BINDING_DIR, LIBRARY_PATH

# Prints the path of the library that esbyt loads by default.
PRINT_LOADED_PATH = "import esbyt; print(esbyt._library().path)"


def run_python(code: str, directory: Path, environment: dict) -> subprocess.CompletedProcess:
    """Run code in a new Python process with directory first on its module path."""
    environment = {**environment, "PYTHONPATH": str(directory)}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def environment_without_library() -> dict:
    """Return this process's environment without the variables that locate the library."""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in ("ESBYT_LIBRARY", "LD_LIBRARY_PATH", "PYTHONPATH")
    }


@pytest.fixture
def module_copy(tmp_path) -> Path:
    """A folder holding only a copy of esbyt.py."""
    shutil.copy(BINDING_DIR / "esbyt.py", tmp_path / "esbyt.py")
    return tmp_path


def test_explicit_path_is_loaded():
    library = esbyt.load_library(LIBRARY_PATH)

    assert library.path == str(LIBRARY_PATH)
    assert library.esbyt_abi_version() == esbyt.ABI_VERSION


def test_explicit_path_that_fails_raises_library_error(tmp_path):
    missing = tmp_path / "libesbyt.so"
    with pytest.raises(esbyt.LibraryError, match="failed to load the esbyt library") as raised:
        esbyt.load_library(missing)
    assert str(missing) in str(raised.value)


def test_library_without_exports_raises_library_error():
    # The Python interpreter's own C library is loadable but is not libesbyt.
    libc = "libc.so.6"
    with pytest.raises(esbyt.LibraryError, match="does not export esbyt_client_new"):
        esbyt.load_library(libc)


def test_environment_variable_is_loaded(module_copy):
    environment = {**environment_without_library(), "ESBYT_LIBRARY": str(LIBRARY_PATH)}
    result = run_python(PRINT_LOADED_PATH, module_copy, environment)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(LIBRARY_PATH)


def test_environment_variable_takes_precedence_over_module_folder(module_copy):
    shutil.copy(LIBRARY_PATH, module_copy / "libesbyt.so")
    environment = {**environment_without_library(), "ESBYT_LIBRARY": str(LIBRARY_PATH)}
    result = run_python(PRINT_LOADED_PATH, module_copy, environment)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(LIBRARY_PATH)


def test_library_next_to_module_is_loaded(module_copy):
    shutil.copy(LIBRARY_PATH, module_copy / "libesbyt.so")
    result = run_python(PRINT_LOADED_PATH, module_copy, environment_without_library())

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(module_copy / "libesbyt.so")


def test_system_loader_is_used_last(module_copy):
    environment = {**environment_without_library(), "LD_LIBRARY_PATH": str(LIBRARY_PATH.parent)}
    result = run_python(
        "import esbyt; library = esbyt._library(); print(library.path, library.esbyt_abi_version())",
        module_copy,
        environment,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["libesbyt.so", str(esbyt.ABI_VERSION)]


def test_missing_library_raises_library_error(module_copy):
    code = (
        "import esbyt\n"
        "try:\n"
        "    esbyt.version()\n"
        "except esbyt.LibraryError as error:\n"
        "    print(error)\n"
    )
    result = run_python(code, module_copy, environment_without_library())

    assert result.returncode == 0, result.stderr
    assert "the esbyt library was not found" in result.stdout
    assert "Set ESBYT_LIBRARY" in result.stdout


def test_client_accepts_library_path(emulator):
    with esbyt.Client(url=emulator.url, allow_http=True, library=LIBRARY_PATH) as client:
        assert client.check_bonus("2700009601205").amount == 500
