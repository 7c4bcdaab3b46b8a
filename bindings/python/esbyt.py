"""Python binding of esbyt, the client of the bonus programme of AO "Chitaenergosbyt".

Loads the C library (libesbyt.so, esbyt.dll on Windows, libesbyt.dylib on macOS) with
ctypes and wraps its C ABI, which include/esbyt.h documents. Only the standard library
is needed::

    import esbyt

    with esbyt.Client(url="http://127.0.0.1:8808/bonus/", supplier=1111, allow_http=True) as client:
        print(client.check_bonus("2700009601205").amount)
        print(client.spend_bonus("2700009601205", 10).spend_id)

Failed calls raise EsbytError, or its subclass OutcomeUnknownError when a write-off may
have been executed. The library is found at the path given to load_library() or Client,
else at the ESBYT_LIBRARY environment variable, else next to this module, else by the
system's loader.

Thread safety: one Client may be used from any number of threads at once. ctypes
releases the GIL during each call, so calls on different threads run in parallel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import datetime
import enum
import os
import sys
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Union

__all__ = [
    "ABI_VERSION",
    "Balance",
    "Client",
    "Config",
    "Detail",
    "EsbytError",
    "Library",
    "LibraryError",
    "LogLevel",
    "OutcomeUnknownError",
    "PendingSpend",
    "PendingState",
    "Status",
    "WriteOff",
    "abi_version",
    "load_library",
    "set_log_callback",
    "status_description",
    "status_name",
    "version",
]

#: The ABI version of include/esbyt.h that this module was written for.
ABI_VERSION = 1

# Sizes of the text arrays of include/esbyt.h, terminating NUL included.
_MESSAGE_SIZE = 1024
_TEXT_SIZE = 64

# Bounds of the C integer types that ctypes would otherwise truncate silently.
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# Pending write-offs that the first esbyt_journal_pending call has room for.
_INITIAL_PENDING_CAPACITY = 16

PathLike = Union[str, "os.PathLike[str]"]


class Status(enum.IntEnum):
    """Status of a call, the ESBYT_* values of include/esbyt.h."""

    OK = 0
    INVALID_ARGUMENT = 1
    CONFIG = 2
    CONNECTION = 3
    TLS = 4
    TIMEOUT = 5
    HTTP = 6
    PROTOCOL = 7
    SERVER = 8
    OUTCOME_UNKNOWN = 9
    INTERNAL = 10


class Detail(enum.IntEnum):
    """Finer cause of a status, the ESBYT_DETAIL_* values. The TLS_* values go with Status.TLS."""

    NONE = 0
    TLS_UNKNOWN_ISSUER = 1
    TLS_NAME_MISMATCH = 2
    TLS_CERTIFICATE_EXPIRED = 3
    TLS_CERTIFICATE_NOT_YET_VALID = 4
    TLS_CLIENT_CERTIFICATE_REJECTED = 5
    TLS_NO_COMMON_PROTOCOL = 6
    TLS_PIN_MISMATCH = 7
    TLS_NOT_TLS = 8
    TLS_OTHER = 9


class PendingState(enum.IntEnum):
    """Reason a journal attempt is pending, the ESBYT_PENDING_* values."""

    #: The attempt was recorded but has no outcome, because the process stopped during the call.
    NO_OUTCOME = 1
    #: The call raised OutcomeUnknownError.
    OUTCOME_UNKNOWN = 2


class LogLevel(enum.IntEnum):
    """Level of a log record, the ESBYT_LOG_* values, where OFF selects no records."""

    OFF = 0
    ERROR = 1
    WARN = 2
    INFO = 3
    DEBUG = 4
    TRACE = 5


def _enum_or_int(enum_type, value: int):
    """Return the enum member for value, or value itself when a newer library sent a number this module does not know."""
    try:
        return enum_type(value)
    except ValueError:
        return value


class LibraryError(OSError):
    """The C library could not be loaded, or it does not match this module."""


class EsbytError(Exception):
    """A failed call of the library.

    Attributes:
        status: the Status of the call, never Status.OK.
        message: what failed, on which value and what to do. For Status.SERVER it is
            the server's own text, to show to the cashier.
        server_code: the server's non-zero result code for Status.SERVER, otherwise 0.
        http_status: the HTTP status of the response when one arrived, otherwise 0.
        cause: for Status.OUTCOME_UNKNOWN the Status of the underlying failure, otherwise None.
        detail: a finer cause, such as Detail.TLS_UNKNOWN_ISSUER, or Detail.NONE when there is none.
        attempt_id: the spend journal's id of a failed write-off, or None.
    """

    def __init__(
        self,
        status: Status,
        message: str,
        *,
        server_code: int = 0,
        http_status: int = 0,
        cause: Optional[Status] = None,
        detail: Detail = Detail.NONE,
        attempt_id: Optional[str] = None,
    ) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.server_code = server_code
        self.http_status = http_status
        self.cause = cause
        self.detail = detail
        self.attempt_id = attempt_id

    def __str__(self) -> str:
        name = self.status.name if isinstance(self.status, Status) else str(self.status)
        return f"ESBYT_{name}: {self.message}"


class OutcomeUnknownError(EsbytError):
    """A write-off that may or may not have been executed (Status.OUTCOME_UNKNOWN).

    The request may have reached the server, but no valid response came back, and cause
    is the underlying status. Reconcile the write-off, for example by checking the
    balance, before trying again, because a resent write-off can spend the bonuses twice.
    """


@dataclass(frozen=True)
class Balance:
    """The balance of a participant."""

    #: The personal account number, as text because it can have leading zeros.
    account: str
    #: The participant id as the server echoed it.
    bonus_id: str
    #: The bonus balance.
    amount: int


@dataclass(frozen=True)
class WriteOff:
    """An executed write-off."""

    #: The number of the write-off document to print on the receipt, leading zeros included.
    spend_id: str
    #: The spend journal's id of the attempt, or None when no journal_file is set.
    attempt_id: Optional[str]


@dataclass(frozen=True)
class PendingSpend:
    """A write-off attempt of the spend journal that must be reconciled."""

    #: The attempt's id, for Client.resolve_spend.
    attempt_id: str
    #: When the attempt was recorded, in milliseconds since 1970-01-01 UTC.
    time_ms: int
    #: The participant id.
    bonus_id: str
    #: The partner (supplier) code sent.
    supplier: int
    #: The bonuses to write off.
    amount: int
    #: Reason the attempt is pending.
    state: PendingState
    #: For PendingState.OUTCOME_UNKNOWN, the status of the underlying failure, otherwise None.
    cause: Optional[Status]

    @property
    def recorded_at(self) -> datetime.datetime:
        """The time the attempt was recorded, in UTC."""
        return datetime.datetime.fromtimestamp(self.time_ms / 1000, tz=datetime.timezone.utc)


class _ErrorRecord(ctypes.Structure):
    _fields_ = [
        ("server_code", ctypes.c_int64),
        ("status", ctypes.c_int32),
        ("http_status", ctypes.c_int32),
        ("cause", ctypes.c_int32),
        ("detail", ctypes.c_int32),
        ("message_length", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
        ("message", ctypes.c_char * _MESSAGE_SIZE),
    ]


class _BalanceRecord(ctypes.Structure):
    _fields_ = [
        ("amount", ctypes.c_int64),
        ("account", ctypes.c_char * _TEXT_SIZE),
        ("bonus_id", ctypes.c_char * _TEXT_SIZE),
    ]


class _WriteOffRecord(ctypes.Structure):
    _fields_ = [
        ("spend_id", ctypes.c_char * _TEXT_SIZE),
        ("attempt_id", ctypes.c_char * _TEXT_SIZE),
    ]


class _PendingSpendRecord(ctypes.Structure):
    _fields_ = [
        ("time_ms", ctypes.c_int64),
        ("supplier", ctypes.c_int64),
        ("amount", ctypes.c_int64),
        ("state", ctypes.c_int32),
        ("cause", ctypes.c_int32),
        ("attempt_id", ctypes.c_char * _TEXT_SIZE),
        ("bonus_id", ctypes.c_char * _TEXT_SIZE),
    ]


# esbyt_log_callback: void (*)(void *user_data, int32_t level, const char *message).
_LOG_CALLBACK_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p)

_Handle = ctypes.c_void_p
_ERROR = ctypes.POINTER(_ErrorRecord)

# Every export of include/esbyt.h: name, result type and argument types.
_PROTOTYPES = {
    "esbyt_client_new": (ctypes.c_int32, [_Handle, ctypes.POINTER(_Handle), _ERROR]),
    "esbyt_client_free": (ctypes.c_int32, [_Handle]),
    "esbyt_check_bonus": (
        ctypes.c_int32,
        [_Handle, ctypes.c_char_p, ctypes.POINTER(_BalanceRecord), _ERROR],
    ),
    "esbyt_spend_bonus": (
        ctypes.c_int32,
        [_Handle, ctypes.c_char_p, ctypes.c_int64, ctypes.POINTER(_WriteOffRecord), _ERROR],
    ),
    "esbyt_journal_pending": (
        ctypes.c_int32,
        [
            _Handle,
            ctypes.POINTER(_PendingSpendRecord),
            ctypes.c_int32,
            ctypes.POINTER(ctypes.c_int32),
            _ERROR,
        ],
    ),
    "esbyt_journal_resolve": (ctypes.c_int32, [_Handle, ctypes.c_char_p, ctypes.c_char_p, _ERROR]),
    "esbyt_config_new": (_Handle, []),
    "esbyt_config_set": (ctypes.c_int32, [_Handle, ctypes.c_char_p, ctypes.c_char_p, _ERROR]),
    "esbyt_config_free": (ctypes.c_int32, [_Handle]),
    "esbyt_config_load_file": (ctypes.c_int32, [_Handle, ctypes.c_char_p, _ERROR]),
    "esbyt_set_log_callback": (
        ctypes.c_int32,
        [_LOG_CALLBACK_TYPE, ctypes.c_void_p, ctypes.c_int32, _ERROR],
    ),
    "esbyt_status_name": (ctypes.c_char_p, [ctypes.c_int32]),
    "esbyt_status_description": (ctypes.c_char_p, [ctypes.c_int32]),
    "esbyt_abi_version": (ctypes.c_int32, []),
    "esbyt_version": (ctypes.c_char_p, []),
}


def _library_file_name() -> str:
    if sys.platform == "win32":
        return "esbyt.dll"
    if sys.platform == "darwin":
        return "libesbyt.dylib"
    return "libesbyt.so"


class Library:
    """The loaded C library with the prototypes of its exports declared.

    Raises LibraryError when the file cannot be loaded, lacks an export or has another
    ABI version than ABI_VERSION.
    """

    def __init__(self, path: PathLike) -> None:
        self.path = os.fspath(path)
        try:
            self._cdll = ctypes.CDLL(self.path)
        except OSError as error:
            raise LibraryError(f"failed to load the esbyt library {self.path!r}: {error}") from error
        for name, (result_type, argument_types) in _PROTOTYPES.items():
            try:
                function = getattr(self._cdll, name)
            except AttributeError:
                raise LibraryError(
                    f"{self.path!r} does not export {name}: it is not libesbyt, or it is "
                    f"older than this module; install the library that came with esbyt.py"
                ) from None
            function.restype = result_type
            function.argtypes = argument_types
            setattr(self, name, function)
        loaded = self.esbyt_abi_version()
        if loaded != ABI_VERSION:
            raise LibraryError(
                f"{self.path!r} has ABI version {loaded}, but esbyt.py needs {ABI_VERSION}: "
                f"install the library that came with esbyt.py"
            )

    def __repr__(self) -> str:
        return f"Library({self.path!r})"


_default_library: Optional[Library] = None
_default_library_lock = threading.Lock()


def _system_library_path() -> str:
    """Return what to pass to the system's loader: the bare file name, which the loader
    searches for, or on Windows the file found on PATH."""
    file_name = _library_file_name()
    if sys.platform == "win32":
        # NOTE: untested. Python 3.8 and newer no longer search PATH for a bare DLL name,
        # so ctypes.util.find_library, which does, supplies the full path.
        return ctypes.util.find_library("esbyt") or file_name
    return file_name


def load_library(path: Optional[PathLike] = None) -> Library:
    """Load the C library and return it.

    Without a path, the library comes from the first of: the ESBYT_LIBRARY environment
    variable, the file next to this module (libesbyt.so, esbyt.dll or libesbyt.dylib),
    and the system's loader (LD_LIBRARY_PATH and the ldconfig cache on Linux). A path
    or ESBYT_LIBRARY that cannot be loaded raises LibraryError rather than falling back
    to another copy.
    """
    if path is not None:
        return Library(path)
    environment_path = os.environ.get("ESBYT_LIBRARY")
    if environment_path:
        return Library(environment_path)
    beside_module = Path(__file__).resolve().with_name(_library_file_name())
    if beside_module.is_file():
        return Library(beside_module)
    system_path = _system_library_path()
    try:
        return Library(system_path)
    except LibraryError as error:
        raise LibraryError(
            f"the esbyt library was not found: ESBYT_LIBRARY is not set, {str(beside_module)!r} "
            f"does not exist, and the system's loader failed ({error}). Set ESBYT_LIBRARY to "
            f"the path of {_library_file_name()}, or copy it next to esbyt.py"
        ) from error


def _library(library: Union[Library, PathLike, None] = None) -> Library:
    """Return library itself, the library loaded from that path, or the default library."""
    global _default_library
    if isinstance(library, Library):
        return library
    if library is not None:
        return load_library(library)
    with _default_library_lock:
        if _default_library is None:
            _default_library = load_library()
        return _default_library


def version(library: Union[Library, PathLike, None] = None) -> str:
    """Return the version of the C library, such as "0.1.0"."""
    return _library(library).esbyt_version().decode("utf-8")


def abi_version(library: Union[Library, PathLike, None] = None) -> int:
    """Return the ABI version of the C library, which load_library checks against ABI_VERSION."""
    return _library(library).esbyt_abi_version()


def status_name(status: int, library: Union[Library, PathLike, None] = None) -> str:
    """Return the C name of a status, such as "ESBYT_SERVER"."""
    return _library(library).esbyt_status_name(_check_int32(status, "status")).decode("utf-8")


def status_description(status: int, library: Union[Library, PathLike, None] = None) -> str:
    """Return an English one-sentence description of a status."""
    return _library(library).esbyt_status_description(_check_int32(status, "status")).decode("utf-8")


def _invalid_argument(message: str) -> EsbytError:
    return EsbytError(Status.INVALID_ARGUMENT, message)


def _check_int32(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise _invalid_argument(f"{name} {value} is outside the 32-bit range of the C ABI")
    return value


def _encode(text: str, name: str) -> bytes:
    """Return text as UTF-8 for the C ABI.

    Raises EsbytError (Status.INVALID_ARGUMENT) for a NUL character, because the C
    functions would see only the text before it: "2700009601205\\x0099" would be read
    as another card.
    """
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, not {type(text).__name__}")
    if "\0" in text:
        raise _invalid_argument(f"{name} contains a NUL character: pass the text without it")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise _invalid_argument(f"{name} cannot be encoded as UTF-8: {error}") from None


def _setting_text(name: str, value: object) -> str:
    """Return the text form of a setting for esbyt_config_set: None restores the default,
    booleans become "1" or "0", and paths their file system form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    raise TypeError(f"setting {name} must be a str, int, bool, path or None, not {type(value).__name__}")


def _text(field: bytes) -> str:
    return field.decode("utf-8", errors="replace")


def _raise_error(status: int, record: _ErrorRecord, attempt_id: Optional[str] = None):
    """Raise the exception for a failed call from its status and error record."""
    status = _enum_or_int(Status, status)
    error_type = OutcomeUnknownError if status == Status.OUTCOME_UNKNOWN else EsbytError
    raise error_type(
        status,
        _text(record.message),
        server_code=record.server_code,
        http_status=record.http_status,
        cause=_enum_or_int(Status, record.cause) if record.cause else None,
        detail=_enum_or_int(Detail, record.detail),
        attempt_id=attempt_id,
    )


class _HandleOwner:
    """Owner of a handle of the C library that frees it exactly once: at close(), or when
    the object is garbage-collected or the interpreter exits."""

    def __init__(self, handle: int, free: Callable[[int], int]) -> None:
        self._handle: Optional[int] = handle
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, free, handle)

    def _require_handle(self, kind: str) -> int:
        handle = self._handle
        if handle is None:
            raise _invalid_argument(f"the {kind} is closed: create a new one")
        return handle

    def close(self) -> None:
        """Free the C handle. Later calls raise EsbytError, and closing twice does nothing."""
        with self._lock:
            self._handle = None
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._handle is None

    def __enter__(self):
        return self

    def __exit__(self, *exception) -> None:
        self.close()


class Config(_HandleOwner):
    """Settings of a client, owning an esbyt_config handle.

    Keyword arguments and set() call esbyt_config_set at once, so a bad value raises
    EsbytError (Status.INVALID_ARGUMENT) naming the setting. README.md lists the
    settings. Files are read and the URL is checked when a Client is created from it.
    """

    def __init__(self, *, library: Union[Library, PathLike, None] = None, **settings: object) -> None:
        self._library = _library(library)
        handle = self._library.esbyt_config_new()
        if not handle:
            raise EsbytError(Status.INTERNAL, "esbyt_config_new failed inside the library")
        super().__init__(handle, self._library.esbyt_config_free)
        try:
            for name, value in settings.items():
                self.set(name, value)
        except BaseException:
            self.close()
            raise

    @property
    def library(self) -> Library:
        """The C library that owns the handle."""
        return self._library

    def set(self, name: str, value: object) -> "Config":
        """Set one setting by its esbyt_config_set name and return self.

        value is a str, an int, a bool (True is "1"), a path, or None or "" to restore
        the default.
        """
        handle = self._require_handle("configuration")
        error = _ErrorRecord()
        status = self._library.esbyt_config_set(
            handle,
            _encode(name, "setting name"),
            _encode(_setting_text(name, value), name),
            ctypes.byref(error),
        )
        if status != Status.OK:
            _raise_error(status, error)
        return self

    def load_file(self, path: PathLike) -> "Config":
        """Read every setting from a TOML file and return self.

        The keys are the setting names. Then the ESBYT_<SETTING> environment variables,
        such as ESBYT_URL, override single settings, except passwords. Relative paths
        of *_file settings resolve against the file's folder. Raises EsbytError
        (Status.CONFIG) naming the file, line and key of a bad entry; the settings read
        before it stay applied.
        """
        handle = self._require_handle("configuration")
        error = _ErrorRecord()
        status = self._library.esbyt_config_load_file(
            handle, _encode(os.fsdecode(path), "path"), ctypes.byref(error)
        )
        if status != Status.OK:
            _raise_error(status, error)
        return self

    def _native_handle(self) -> int:
        return self._require_handle("configuration")


class Client(_HandleOwner):
    """A client of the bonus server, owning an esbyt_client handle.

    Create it from keyword settings, for example
    ``Client(url=..., supplier=1111, pkcs12_file="partner.pfx", pkcs12_password="...")``,
    or from a Config. The settings are copied, so a Config may be closed afterwards.
    Raises EsbytError (Status.CONFIG) for a missing or unusable URL, file, password or
    proxy. Use one Client per server from every thread, and close it with close() or a
    with block.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        supplier: Optional[int] = None,
        *,
        config: Optional[Config] = None,
        library: Union[Library, PathLike, None] = None,
        **settings: object,
    ) -> None:
        if config is not None:
            if url is not None or supplier is not None or library is not None or settings:
                raise TypeError("pass either a Config or settings and a library, not both")
            self._create(config)
            return
        if url is not None:
            settings["url"] = url
        if supplier is not None:
            settings["supplier"] = supplier
        with Config(library=library, **settings) as temporary:
            self._create(temporary)

    def _create(self, config: Config) -> None:
        self._library = config.library
        handle = _Handle()
        error = _ErrorRecord()
        status = self._library.esbyt_client_new(
            config._native_handle(), ctypes.byref(handle), ctypes.byref(error)
        )
        if status != Status.OK:
            _raise_error(status, error)
        super().__init__(handle.value, self._library.esbyt_client_free)

    def check_bonus(self, bonus_id: str) -> Balance:
        """Return the balance of the card bonus_id.

        bonus_id is 1 to 13 digits. Surrounding whitespace, such as the CR/LF of a barcode
        scanner, is trimmed. Raises EsbytError, with Status.SERVER and the server's code
        and message for an unknown card.
        """
        encoded = _encode(bonus_id, "bonus_id")
        record = _BalanceRecord()
        error = _ErrorRecord()
        status = self._library.esbyt_check_bonus(
            self._require_handle("client"), encoded, ctypes.byref(record), ctypes.byref(error)
        )
        if status != Status.OK:
            _raise_error(status, error)
        return Balance(account=_text(record.account), bonus_id=_text(record.bonus_id), amount=record.amount)

    def spend_bonus(self, bonus_id: str, amount: int) -> WriteOff:
        """Write amount bonuses (1 to 2147483647) off the card with the configured supplier code.

        The request is sent at most once. Raises OutcomeUnknownError when the write-off
        may have been executed, and EsbytError for every failure after which nothing was
        written off. With a journal_file, the result and both errors carry the attempt id.
        """
        encoded = _encode(bonus_id, "bonus_id")
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError(f"amount must be an int, not {type(amount).__name__}")
        if not _INT64_MIN <= amount <= _INT64_MAX:
            raise _invalid_argument(f"amount {amount} is invalid: expected an integer from 1 to 2147483647")
        record = _WriteOffRecord()
        error = _ErrorRecord()
        status = self._library.esbyt_spend_bonus(
            self._require_handle("client"), encoded, amount, ctypes.byref(record), ctypes.byref(error)
        )
        attempt_id = _text(record.attempt_id) or None
        if status != Status.OK:
            _raise_error(status, error, attempt_id)
        return WriteOff(spend_id=_text(record.spend_id), attempt_id=attempt_id)

    def pending_spends(self) -> List[PendingSpend]:
        """Return the spend journal's attempts that must be reconciled, oldest first.

        Raises EsbytError (Status.CONFIG) when no journal_file is set or it cannot be read.
        """
        handle = self._require_handle("client")
        capacity = _INITIAL_PENDING_CAPACITY
        count = ctypes.c_int32(0)
        # Another thread or process may add attempts between two calls, so the array
        # grows until the count fits.
        while True:
            records = (_PendingSpendRecord * capacity)()
            error = _ErrorRecord()
            status = self._library.esbyt_journal_pending(
                handle, records, capacity, ctypes.byref(count), ctypes.byref(error)
            )
            if status != Status.OK:
                _raise_error(status, error)
            if count.value <= capacity:
                break
            capacity = count.value
        return [
            PendingSpend(
                attempt_id=_text(record.attempt_id),
                time_ms=record.time_ms,
                bonus_id=_text(record.bonus_id),
                supplier=record.supplier,
                amount=record.amount,
                state=_enum_or_int(PendingState, record.state),
                cause=_enum_or_int(Status, record.cause) if record.cause else None,
            )
            for record in records[: count.value]
        ]

    def resolve_spend(self, attempt_id: str, note: str = "") -> None:
        """Mark a journal attempt resolved after reconciling it, with a note such as
        "balance checked: written off". Resolving an attempt twice is not an error."""
        encoded_id = _encode(attempt_id, "attempt_id")
        encoded_note = _encode(note, "note")
        error = _ErrorRecord()
        status = self._library.esbyt_journal_resolve(
            self._require_handle("client"), encoded_id, encoded_note, ctypes.byref(error)
        )
        if status != Status.OK:
            _raise_error(status, error)

    def _native_handle(self) -> int:
        return self._require_handle("client")


# The function that receives log records, with its maximum level, or None. The library
# gives no point after which a replaced callback stops running on other threads, so
# _log_trampoline stays installed once set, and this variable is swapped instead.
_log_sink: Optional[tuple] = None


@_LOG_CALLBACK_TYPE
def _log_trampoline(user_data, level, message):
    sink = _log_sink
    if sink is None or sys.is_finalizing():
        return
    function, max_level = sink
    if level > max_level:
        return
    # An exception here is printed by ctypes and does not reach the library.
    function(_enum_or_int(LogLevel, level), _text(message or b""))


def set_log_callback(
    function: Optional[Callable[[LogLevel, str], None]],
    max_level: int = LogLevel.INFO,
    library: Union[Library, PathLike, None] = None,
) -> None:
    """Send the library's log records up to max_level to function(level, message), process-wide.

    None, or a max_level of LogLevel.OFF, stops the records. function runs on the thread
    that called the library, possibly on several threads at once, and a replaced
    function may still be running when this call returns. Card numbers in messages are
    masked; passwords never appear. An exception raised by function is printed and
    otherwise ignored.
    """
    global _log_sink
    max_level = _check_int32(max_level, "max_level")
    _log_sink = (function, max_level) if function is not None and max_level > 0 else None
    error = _ErrorRecord()
    callback = _log_trampoline if _log_sink is not None else _LOG_CALLBACK_TYPE()
    status = _library(library).esbyt_set_log_callback(callback, None, max(max_level, 0), ctypes.byref(error))
    if status != Status.OK:
        _raise_error(status, error)
