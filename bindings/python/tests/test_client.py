"""Tests of esbyt.Client and esbyt.Config against the emulator."""

from __future__ import annotations

import ctypes
import gc
import hashlib
import re
import threading
import time
from pathlib import Path

import pytest

import esbyt
from conftest import (
    CLOSE_AFTER_EXECUTE_CARD,
    SUPPLIER,
    TEST_ACCOUNT,
    TEST_CARD,
    THOUSAND_CARD,
    UNKNOWN_CARD,
    journal_client,
)

UNKNOWN_CARD_MESSAGE = f"Участник с идентификатором {UNKNOWN_CARD} не найден"


def test_check_bonus_returns_balance(client):
    balance = client.check_bonus(TEST_CARD)

    assert balance == esbyt.Balance(account=TEST_ACCOUNT, bonus_id=TEST_CARD, amount=500)


def test_check_bonus_keeps_leading_zeros(client):
    balance = client.check_bonus(THOUSAND_CARD)

    assert balance.account == "0012345678"
    assert balance.amount == 1000


def test_check_bonus_trims_scanner_line_end(client):
    assert client.check_bonus(f"{TEST_CARD}\r\n").amount == 500


def test_spend_bonus_lowers_balance(client, emulator):
    assert client.check_bonus(TEST_CARD).amount == 500

    write_off = client.spend_bonus(TEST_CARD, 10)

    assert write_off == esbyt.WriteOff(spend_id="000000001", attempt_id=None)
    assert client.check_bonus(TEST_CARD).amount == 490
    assert emulator.spends() == [("000000001", TEST_CARD, SUPPLIER, 10)]
    assert emulator.balance(TEST_CARD) == 490


def test_unknown_card_raises_server_error(client):
    with pytest.raises(esbyt.EsbytError) as raised:
        client.check_bonus(UNKNOWN_CARD)

    error = raised.value
    assert type(error) is esbyt.EsbytError
    assert error.status is esbyt.Status.SERVER
    assert error.server_code == 4
    assert error.http_status == 200
    assert error.cause is None
    assert error.detail is esbyt.Detail.NONE
    assert error.attempt_id is None
    assert error.message == UNKNOWN_CARD_MESSAGE
    assert str(error) == f"ESBYT_SERVER: {UNKNOWN_CARD_MESSAGE}"


def test_spend_on_unknown_card_raises_server_error(client, emulator):
    with pytest.raises(esbyt.EsbytError) as raised:
        client.spend_bonus(UNKNOWN_CARD, 10)

    assert type(raised.value) is esbyt.EsbytError
    assert raised.value.status is esbyt.Status.SERVER
    assert raised.value.server_code == 4
    assert raised.value.message == UNKNOWN_CARD_MESSAGE
    assert emulator.spends() == []


def test_unknown_supplier_raises_server_error(emulator):
    with esbyt.Client(url=emulator.url, supplier=2222, allow_http=True) as client:
        with pytest.raises(esbyt.EsbytError) as raised:
            client.spend_bonus(TEST_CARD, 10)

    assert raised.value.server_code == 5
    assert raised.value.message == "Неизвестный код партнёра 2222"


@pytest.mark.parametrize(
    ("bonus_id", "message"),
    [
        ("27000O9601205", 'bonus_id "27000O9601205" is invalid'),
        ("", 'bonus_id "" is invalid'),
        ("27000096012050", 'bonus_id "27000096012050" is invalid'),
        (f"{TEST_CARD}\x0099", "bonus_id contains a NUL character"),
    ],
)
def test_invalid_card_raises_invalid_argument(client, emulator, bonus_id, message):
    with pytest.raises(esbyt.EsbytError) as check_raised:
        client.check_bonus(bonus_id)
    with pytest.raises(esbyt.EsbytError) as spend_raised:
        client.spend_bonus(bonus_id, 10)

    for error in (check_raised.value, spend_raised.value):
        assert error.status is esbyt.Status.INVALID_ARGUMENT
        assert message in error.message
    assert emulator.spends() == []


@pytest.mark.parametrize("amount", [0, -10, 2**31, 2**63, 2**64 + 10])
def test_invalid_amount_raises_invalid_argument(client, emulator, amount):
    with pytest.raises(esbyt.EsbytError) as raised:
        client.spend_bonus(TEST_CARD, amount)

    assert raised.value.status is esbyt.Status.INVALID_ARGUMENT
    assert f"amount {amount} is invalid" in raised.value.message
    assert emulator.spends() == []
    assert emulator.balance(TEST_CARD) == 500


@pytest.mark.parametrize("amount", ["10", 10.0, True, None])
def test_amount_of_wrong_type_raises_type_error(client, emulator, amount):
    with pytest.raises(TypeError, match="amount must be an int"):
        client.spend_bonus(TEST_CARD, amount)
    assert emulator.spends() == []


def test_card_of_wrong_type_raises_type_error(client):
    with pytest.raises(TypeError, match="bonus_id must be a str"):
        client.check_bonus(int(TEST_CARD))


def test_unknown_setting_raises_invalid_argument():
    with pytest.raises(esbyt.EsbytError) as raised:
        esbyt.Config(time_out_ms=1000)

    assert raised.value.status is esbyt.Status.INVALID_ARGUMENT
    assert raised.value.message.startswith('unknown setting "time_out_ms"')


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("timeout_ms", 0, 'timeout_ms "0" is invalid'),
        ("supplier", 0, "supplier 0 is invalid"),
        ("max_body_bytes", 10, 'max_body_bytes "10" is invalid'),
        ("url", "http://a\0b", "url contains a NUL character"),
    ],
)
def test_setting_out_of_range_raises_invalid_argument(name, value, message):
    config = esbyt.Config()
    with pytest.raises(esbyt.EsbytError) as raised:
        config.set(name, value)

    assert raised.value.status is esbyt.Status.INVALID_ARGUMENT
    assert message in raised.value.message
    config.close()


def test_setting_of_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="setting timeout_ms must be"):
        esbyt.Config(timeout_ms=1.5)


def test_every_setting_keyword_is_accepted(emulator, tmp_path):
    settings = {
        "url": emulator.url,
        "supplier": SUPPLIER,
        "connect_timeout_ms": 2000,
        "timeout_ms": 5000,
        "idle_timeout_ms": 0,
        "max_body_bytes": 4096,
        "extra_ca_file": None,
        "system_roots": True,
        "server_cert_sha256": "",
        "pkcs12_file": None,
        "pkcs12_password": None,
        "client_cert_file": None,
        "client_key_file": None,
        "client_key_password": None,
        "allow_http": True,
        "proxy": None,
        "journal_file": tmp_path / "spend.journal",
        "log_file": tmp_path / "esbyt.log",
        "log_level": esbyt.LogLevel.DEBUG,
        "log_max_bytes": 1 << 20,
        "log_max_files": 2,
    }

    with esbyt.Client(**settings) as client:
        assert client.check_bonus(TEST_CARD).amount == 500
        assert client.spend_bonus(TEST_CARD, 10).attempt_id

    log = (tmp_path / "esbyt.log").read_text(encoding="utf-8")
    assert log
    assert TEST_CARD not in log
    assert (tmp_path / "spend.journal").is_file()


def test_missing_file_raises_config(emulator, tmp_path):
    missing = tmp_path / "missing-ca.pem"
    with pytest.raises(esbyt.EsbytError) as raised:
        esbyt.Client(url=emulator.url, allow_http=True, extra_ca_file=missing)

    assert raised.value.status is esbyt.Status.CONFIG
    assert str(missing) in raised.value.message


def test_missing_url_raises_config():
    with pytest.raises(esbyt.EsbytError) as raised:
        esbyt.Client()

    assert raised.value.status is esbyt.Status.CONFIG
    assert "url is not set" in raised.value.message


def test_plain_http_needs_allow_http(emulator):
    with pytest.raises(esbyt.EsbytError) as raised:
        esbyt.Client(url=emulator.url)

    assert raised.value.status is esbyt.Status.CONFIG
    assert "allow_http" in raised.value.message


def test_spend_without_supplier_raises_config(emulator):
    with esbyt.Client(url=emulator.url, allow_http=True) as client:
        assert client.check_bonus(TEST_CARD).amount == 500
        with pytest.raises(esbyt.EsbytError) as raised:
            client.spend_bonus(TEST_CARD, 10)

    assert raised.value.status is esbyt.Status.CONFIG
    assert emulator.spends() == []


def test_client_from_config_outlives_it(emulator):
    config = esbyt.Config().set("url", emulator.url).set("allow_http", True).set("supplier", SUPPLIER)
    client = esbyt.Client(config=config)
    config.close()

    assert client.check_bonus(TEST_CARD).amount == 500
    client.close()


def test_client_rejects_config_and_settings_together(emulator):
    with esbyt.Config(url=emulator.url, allow_http=True) as config:
        with pytest.raises(TypeError, match="either a Config or settings"):
            esbyt.Client(config=config, supplier=SUPPLIER)


def test_config_file_loads_settings(emulator, tmp_path):
    config_file = tmp_path / "esbyt.toml"
    config_file.write_text(
        f'url = "{emulator.url}"\nsupplier = 1111\nallow_http = true\njournal_file = "from-file.journal"\n',
        encoding="utf-8",
    )

    with esbyt.Config().load_file(config_file) as config, esbyt.Client(config=config) as client:
        write_off = client.spend_bonus(TEST_CARD, 10)

    assert write_off.spend_id == "000000001"
    assert write_off.attempt_id
    assert (tmp_path / "from-file.journal").is_file()


def test_config_file_with_unknown_key_raises_config(tmp_path):
    config_file = tmp_path / "bad.toml"
    config_file.write_text('url = "http://127.0.0.1:1/"\ntime_out_ms = 1000\n', encoding="utf-8")

    with esbyt.Config() as config, pytest.raises(esbyt.EsbytError) as raised:
        config.load_file(config_file)

    assert raised.value.status is esbyt.Status.CONFIG
    assert "bad.toml" in raised.value.message
    assert 'line 2: unknown setting "time_out_ms"' in raised.value.message


def test_outcome_unknown_is_journalled(emulator, tmp_path):
    journal = tmp_path / "spend.journal"
    started_ms = int(time.time() * 1000)
    with journal_client(emulator, journal) as client:
        with pytest.raises(esbyt.OutcomeUnknownError) as raised:
            client.spend_bonus(CLOSE_AFTER_EXECUTE_CARD, 10)
        error = raised.value
        assert isinstance(error, esbyt.EsbytError)
        assert error.status is esbyt.Status.OUTCOME_UNKNOWN
        assert error.cause is esbyt.Status.CONNECTION
        assert error.server_code == 0
        assert "may or may not have been executed" in error.message
        assert error.attempt_id

        written_off = client.spend_bonus(TEST_CARD, 10)
        assert written_off.attempt_id
        assert written_off.attempt_id != error.attempt_id

        pending = client.pending_spends()
    finished_ms = int(time.time() * 1000)

    assert len(pending) == 1
    spend = pending[0]
    assert spend.attempt_id == error.attempt_id
    assert spend.bonus_id == CLOSE_AFTER_EXECUTE_CARD
    assert spend.supplier == SUPPLIER
    assert spend.amount == 10
    assert spend.state is esbyt.PendingState.OUTCOME_UNKNOWN
    assert spend.cause is esbyt.Status.CONNECTION
    assert started_ms <= spend.time_ms <= finished_ms
    assert spend.recorded_at.timestamp() == pytest.approx(spend.time_ms / 1000)
    # The fault card executes the write-off before it drops the connection.
    assert [(spend.bonus_id, spend.amount) for spend in emulator.spends()] == [
        (CLOSE_AFTER_EXECUTE_CARD, 10),
        (TEST_CARD, 10),
    ]

    # A new client on the same journal, as after a restart of the host.
    with journal_client(emulator, journal) as restarted:
        assert [spend.attempt_id for spend in restarted.pending_spends()] == [error.attempt_id]
        restarted.resolve_spend(error.attempt_id, "balance checked: written off")
        restarted.resolve_spend(error.attempt_id, "resolving again is not an error")
        assert restarted.pending_spends() == []


def test_pending_spends_grow_past_capacity(emulator, tmp_path):
    attempts = 20
    with journal_client(emulator, tmp_path / "spend.journal") as client:
        attempt_ids = []
        for _ in range(attempts):
            with pytest.raises(esbyt.OutcomeUnknownError) as raised:
                client.spend_bonus(CLOSE_AFTER_EXECUTE_CARD, 10)
            attempt_ids.append(raised.value.attempt_id)

        pending = client.pending_spends()

        assert [spend.attempt_id for spend in pending] == attempt_ids
        assert len(set(attempt_ids)) == attempts
        assert all(earlier.time_ms <= later.time_ms for earlier, later in zip(pending, pending[1:]))
        for attempt_id in attempt_ids:
            client.resolve_spend(attempt_id)
        assert client.pending_spends() == []
    assert emulator.balance(CLOSE_AFTER_EXECUTE_CARD) == 1000 - 10 * attempts


def _journal_line(*fields: str) -> str:
    """Return a journal record: the fields, a tab and the first 8 hex digits of the
    SHA-256 of the fields joined by tabs, as README.md describes the file format."""
    content = "\t".join(fields)
    return f"{content}\t{hashlib.sha256(content.encode('utf-8')).hexdigest()[:8]}\n"


def test_attempt_without_outcome_is_pending(emulator, tmp_path):
    journal = tmp_path / "spend.journal"
    journal.write_text(_journal_line("A", "1700000000000-1-1", "1700000000000", TEST_CARD, "1111", "25"), encoding="utf-8")

    with journal_client(emulator, journal) as client:
        pending = client.pending_spends()

    assert pending == [
        esbyt.PendingSpend(
            attempt_id="1700000000000-1-1",
            time_ms=1700000000000,
            bonus_id=TEST_CARD,
            supplier=1111,
            amount=25,
            state=esbyt.PendingState.NO_OUTCOME,
            cause=None,
        )
    ]


def test_pending_without_journal_raises_config(client):
    with pytest.raises(esbyt.EsbytError) as raised:
        client.pending_spends()

    assert raised.value.status is esbyt.Status.CONFIG


def test_resolve_unknown_attempt_raises_invalid_argument(emulator, tmp_path):
    with journal_client(emulator, tmp_path / "spend.journal") as client:
        with pytest.raises(esbyt.EsbytError) as raised:
            client.resolve_spend("1-2-3", "no such attempt")

    assert raised.value.status is esbyt.Status.INVALID_ARGUMENT
    assert '"1-2-3"' in raised.value.message


def test_threads_share_one_client(client, emulator):
    thread_count, rounds = 8, 5
    spend_ids = []
    failures = []
    lock = threading.Lock()

    def write_off_repeatedly():
        try:
            for _ in range(rounds):
                assert client.check_bonus(THOUSAND_CARD).amount > 0
                spend_id = client.spend_bonus(THOUSAND_CARD, 1).spend_id
                with lock:
                    spend_ids.append(spend_id)
        except BaseException as error:  # reported by the main thread below
            with lock:
                failures.append(error)

    threads = [threading.Thread(target=write_off_repeatedly) for _ in range(thread_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(spend_ids) == thread_count * rounds
    assert len(set(spend_ids)) == thread_count * rounds
    assert client.check_bonus(THOUSAND_CARD).amount == 1000 - thread_count * rounds
    assert sorted(spend.spend_id for spend in emulator.spends()) == sorted(spend_ids)


def _handle_is_freed(library: esbyt.Library, handle: int) -> bool:
    """Return whether the library no longer knows the client handle: it returns
    ESBYT_INVALID_ARGUMENT for a freed handle."""
    record = esbyt._BalanceRecord()
    status = library.esbyt_check_bonus(handle, TEST_CARD.encode(), ctypes.byref(record), None)
    return status == esbyt.Status.INVALID_ARGUMENT


def test_close_frees_handle_once(emulator):
    client = esbyt.Client(url=emulator.url, allow_http=True)
    handle = client._native_handle()
    library = client._library
    assert not _handle_is_freed(library, handle)

    client.close()
    client.close()

    assert client.closed
    assert _handle_is_freed(library, handle)
    with pytest.raises(esbyt.EsbytError) as raised:
        client.check_bonus(TEST_CARD)
    assert raised.value.status is esbyt.Status.INVALID_ARGUMENT
    assert "closed" in raised.value.message


def test_with_block_closes_client(emulator):
    with esbyt.Client(url=emulator.url, allow_http=True) as client:
        handle = client._native_handle()

    assert client.closed
    assert _handle_is_freed(client._library, handle)


def test_garbage_collection_frees_handles(emulator):
    client = esbyt.Client(url=emulator.url, allow_http=True)
    handle = client._native_handle()
    library = client._library
    config = esbyt.Config(url=emulator.url)
    config_handle = config._native_handle()

    del client, config
    gc.collect()

    assert _handle_is_freed(library, handle)
    # esbyt_config_free returns ESBYT_INVALID_ARGUMENT for a freed handle.
    assert library.esbyt_config_free(config_handle) == esbyt.Status.INVALID_ARGUMENT


def test_log_callback_receives_masked_records(client):
    records = []
    lock = threading.Lock()

    def collect(level, message):
        with lock:
            records.append((level, message))

    try:
        esbyt.set_log_callback(collect, esbyt.LogLevel.DEBUG)
        client.check_bonus(TEST_CARD)
        with lock:
            received = list(records)

        assert received
        assert all(esbyt.LogLevel.ERROR <= level <= esbyt.LogLevel.DEBUG for level, _ in received)
        assert all(isinstance(level, esbyt.LogLevel) for level, _ in received)
        assert all(TEST_CARD not in message for _, message in received)
        assert any("2700******205" in message for _, message in received)
    finally:
        esbyt.set_log_callback(None)

    client.check_bonus(TEST_CARD)
    assert len(records) == len(received)


def test_version_matches_library():
    library = esbyt.load_library()

    assert esbyt.version() == library.esbyt_version().decode()
    assert esbyt.version().count(".") == 2
    assert esbyt.abi_version() == esbyt.ABI_VERSION


def test_status_helpers():
    assert esbyt.status_name(esbyt.Status.OUTCOME_UNKNOWN) == "ESBYT_OUTCOME_UNKNOWN"
    assert esbyt.status_name(12345) == "ESBYT_UNKNOWN_STATUS"
    assert esbyt.status_description(esbyt.Status.SERVER) == "the bonus server refused the operation"
    with pytest.raises(esbyt.EsbytError):
        esbyt.status_name(2**32 + 8)


def test_every_status_name_matches_enum():
    for status in esbyt.Status:
        assert esbyt.status_name(status) == f"ESBYT_{status.name}"


def test_record_sizes_match_header():
    # Sizes from the layouts in include/esbyt.h: 8-byte integers first, no padding.
    assert ctypes.sizeof(esbyt._ErrorRecord) == 8 + 6 * 4 + 1024
    assert ctypes.sizeof(esbyt._BalanceRecord) == 8 + 2 * 64
    assert ctypes.sizeof(esbyt._WriteOffRecord) == 2 * 64
    assert ctypes.sizeof(esbyt._PendingSpendRecord) == 3 * 8 + 2 * 4 + 2 * 64


def test_binding_declares_every_header_function():
    header = (Path(__file__).resolve().parents[3] / "include" / "esbyt.h").read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", header, flags=re.DOTALL)
    declared = set(re.findall(r"\b(esbyt_\w+)\(", code))

    assert declared
    assert set(esbyt._PROTOTYPES) == declared
