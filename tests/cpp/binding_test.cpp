// Tests of the C++ binding bindings/cpp/esbyt.hpp against a running emulator.
// tests/cpp.rs builds this program and runs each case against a new emulator:
//
//   binding_test CASE BASE_URL SCRATCH_DIR
//
// A case prints its results as "key value" lines on stdout, which tests/cpp.rs compares
// with the emulator's state, and exits 0. A failed check prints its line and expression
// on stderr and exits 1. SCRATCH_DIR is an existing empty directory for journal files.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <iterator>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "esbyt.hpp"

static_assert(!std::is_copy_constructible<esbyt::Client>::value, "Client is move-only");
static_assert(!std::is_copy_assignable<esbyt::Client>::value, "Client is move-only");
static_assert(std::is_nothrow_move_constructible<esbyt::Client>::value, "Client moves without throwing");
static_assert(std::is_nothrow_move_assignable<esbyt::Client>::value, "Client moves without throwing");
static_assert(!std::is_copy_constructible<esbyt::Config>::value, "Config is move-only");
static_assert(std::is_nothrow_move_constructible<esbyt::Config>::value, "Config moves without throwing");
static_assert(std::is_base_of<esbyt::Error, esbyt::OutcomeUnknown>::value, "OutcomeUnknown is an Error");
static_assert(std::is_base_of<std::exception, esbyt::Error>::value, "Error is a std::exception");
static_assert(std::is_nothrow_copy_constructible<esbyt::Error>::value, "copying an Error never throws");

namespace {

const char* const TEST_CARD = "2700009601205";
const char* const THOUSAND_CARD = "2700009601212";
const char* const UNKNOWN_CARD = "2700009601999";
const char* const CLOSE_AFTER_EXECUTE_CARD = "2700009609027";
const std::int64_t SUPPLIER = 1111;

int failed_checks = 0;

void check(bool condition, const char* expression, int line)
{
    if (!condition) {
        std::cerr << "binding_test.cpp:" << line << ": check failed: " << expression << "\n";
        ++failed_checks;
    }
}

#define CHECK(condition) check((condition), #condition, __LINE__)

[[noreturn]] void fail_case(int line, const char* description, const std::string& problem)
{
    std::cerr << "binding_test.cpp:" << line << ": " << description << " " << problem << "\n";
    std::exit(1);
}

// Runs `call`, which must throw esbyt::Error but not esbyt::OutcomeUnknown, and returns
// the exception. Any other outcome fails the case at once.
esbyt::Error expect_error(const std::function<void()>& call, const char* description, int line)
{
    try {
        call();
    } catch (const esbyt::OutcomeUnknown& unknown) {
        fail_case(line, description, std::string("threw OutcomeUnknown: ") + unknown.what());
    } catch (const esbyt::Error& error) {
        return error;
    } catch (const std::exception& other) {
        fail_case(line, description, std::string("threw another exception: ") + other.what());
    }
    fail_case(line, description, "did not throw");
}

// Runs `call`, which must throw esbyt::OutcomeUnknown, and returns the exception.
esbyt::OutcomeUnknown expect_outcome_unknown(const std::function<void()>& call, const char* description,
                                             int line)
{
    try {
        call();
    } catch (const esbyt::OutcomeUnknown& unknown) {
        return unknown;
    } catch (const std::exception& other) {
        fail_case(line, description, std::string("threw another exception: ") + other.what());
    }
    fail_case(line, description, "did not throw");
}

#define EXPECT_ERROR(statement) expect_error([&] { statement; }, #statement, __LINE__)
#define EXPECT_OUTCOME_UNKNOWN(statement) expect_outcome_unknown([&] { statement; }, #statement, __LINE__)

void print(const std::string& key, const std::string& value)
{
    std::cout << key << " " << value << "\n";
}

void print(const std::string& key, std::int64_t value)
{
    print(key, std::to_string(value));
}

// Prints the fields of an error under keys that start with `prefix`.
void print_error(const std::string& prefix, const esbyt::Error& error)
{
    print(prefix + ".status", error.status());
    print(prefix + ".status_name", error.status_name());
    print(prefix + ".server_code", error.server_code());
    print(prefix + ".http_status", error.http_status());
    print(prefix + ".cause", error.cause());
    print(prefix + ".detail", error.detail());
    print(prefix + ".message", error.message());
    print(prefix + ".what", error.what());
}

esbyt::Config emulator_config(const std::string& url)
{
    esbyt::Config config;
    config.url(url).supplier(SUPPLIER).allow_http(true);
    return config;
}

void test_version()
{
    CHECK(esbyt::version() == ESBYT_VERSION);
    CHECK(esbyt::abi_version() == ESBYT_ABI_VERSION);
    esbyt::check_abi_version();
    CHECK(esbyt::status_name(ESBYT_OUTCOME_UNKNOWN) == "ESBYT_OUTCOME_UNKNOWN");
    CHECK(esbyt::status_name(12345) == "ESBYT_UNKNOWN_STATUS");
    CHECK(!esbyt::status_description(ESBYT_SERVER).empty());
    print("version", esbyt::version());
    print("abi_version", esbyt::abi_version());
    print("status_description", esbyt::status_description(ESBYT_SERVER));
}

void test_balance(const std::string& url)
{
    esbyt::Client client(emulator_config(url));
    esbyt::Balance balance = client.check_bonus(TEST_CARD);
    print("account", balance.account);
    print("bonus_id", balance.bonus_id);
    print("amount", balance.amount);

    // A barcode scanner appends CR/LF, which the library trims.
    esbyt::Balance scanned = client.check_bonus(std::string(TEST_CARD) + "\r\n");
    CHECK(scanned.amount == balance.amount);
    CHECK(scanned.account == balance.account);

    esbyt::Balance padded = client.check_bonus(THOUSAND_CARD);
    print("padded_account", padded.account);
    print("padded_amount", padded.amount);
}

void test_write_off(const std::string& url)
{
    esbyt::Client client(emulator_config(url));
    print("balance_before", client.check_bonus(TEST_CARD).amount);
    esbyt::WriteOff write_off = client.spend_bonus(TEST_CARD, 10);
    print("spend_id", write_off.spend_id);
    CHECK(write_off.attempt_id.empty());
    print("balance_after", client.check_bonus(TEST_CARD).amount);
}

void test_unknown_card(const std::string& url)
{
    esbyt::Client client(emulator_config(url));
    esbyt::Error check_error = EXPECT_ERROR(client.check_bonus(UNKNOWN_CARD));
    print_error("check", check_error);

    esbyt::Error spend_error = EXPECT_ERROR(client.spend_bonus(UNKNOWN_CARD, 10));
    CHECK(spend_error.attempt_id().empty());
    print_error("spend", spend_error);

    // The partner code 2222 is not accepted by the emulator.
    esbyt::Client stranger(emulator_config(url).supplier(2222));
    esbyt::Error supplier_error = EXPECT_ERROR(stranger.spend_bonus(TEST_CARD, 10));
    print_error("supplier", supplier_error);
}

void test_invalid_input(const std::string& url)
{
    esbyt::Client client(emulator_config(url));
    std::vector<std::pair<std::string, esbyt::Error>> errors;
    errors.emplace_back("letter_in_card", EXPECT_ERROR(client.check_bonus("27000O9601205")));
    errors.emplace_back("empty_card", EXPECT_ERROR(client.check_bonus("")));
    errors.emplace_back("long_card", EXPECT_ERROR(client.check_bonus("27000096012050")));
    errors.emplace_back("nul_in_card", EXPECT_ERROR(client.check_bonus(std::string("2700009601205\0" "99", 15))));
    errors.emplace_back("nul_in_spend_card", EXPECT_ERROR(client.spend_bonus(std::string("2700009601205\0", 14), 10)));
    errors.emplace_back("zero_amount", EXPECT_ERROR(client.spend_bonus(TEST_CARD, 0)));
    errors.emplace_back("negative_amount", EXPECT_ERROR(client.spend_bonus(TEST_CARD, -10)));
    errors.emplace_back("amount_above_int32", EXPECT_ERROR(client.spend_bonus(TEST_CARD, 2147483648)));
    errors.emplace_back("unknown_setting", EXPECT_ERROR(esbyt::Config().set("time_out_ms", "1000")));
    errors.emplace_back("timeout_zero", EXPECT_ERROR(esbyt::Config().timeout_ms(0)));
    errors.emplace_back("supplier_zero", EXPECT_ERROR(esbyt::Config().supplier(0)));
    errors.emplace_back("body_limit_small", EXPECT_ERROR(esbyt::Config().max_body_bytes(10)));
    errors.emplace_back("nul_in_setting", EXPECT_ERROR(esbyt::Config().set("url", std::string("http://a\0b", 10))));
    for (const auto& [name, error] : errors) {
        print(name + ".status", error.status());
        print(name + ".message", error.message());
    }
    // The failed calls above left the configuration and the client usable.
    CHECK(client.check_bonus(TEST_CARD).amount == 500);
}

void write_file(const std::string& path, const std::string& text)
{
    std::ofstream file(path, std::ios::binary);
    file << text;
    if (!file.good()) {
        std::cerr << "failed to write " << path << "\n";
        std::exit(1);
    }
}

void test_config(const std::string& url, const std::string& scratch_dir)
{
    // Every setter names a setting that esbyt_config_set accepts.
    esbyt::Config every_setting;
    every_setting.url(url)
        .supplier(SUPPLIER)
        .connect_timeout_ms(2000)
        .timeout_ms(5000)
        .idle_timeout_ms(0)
        .max_body_bytes(4096)
        .extra_ca_file(scratch_dir + "/missing-ca.pem")
        .system_roots(false)
        .server_cert_sha256(std::string(64, 'a'))
        .pkcs12_file(scratch_dir + "/missing.p12")
        .pkcs12_password(" secret ")
        .client_cert_file(scratch_dir + "/missing.pem")
        .client_key_file(scratch_dir + "/missing.key")
        .client_key_password("secret")
        .allow_http(true)
        .proxy("")
        .journal_file(scratch_dir + "/journal")
        .log_file(scratch_dir + "/esbyt.log")
        .log_level(ESBYT_LOG_DEBUG)
        .log_max_bytes(1 << 20)
        .log_max_files(2);
    esbyt::Error conflict = EXPECT_ERROR(esbyt::Client{every_setting});
    print_error("conflicting_identity", conflict);

    // An empty value restores the default, and the first missing file fails the client.
    every_setting.pkcs12_file("").pkcs12_password("").client_cert_file("").client_key_file("")
        .client_key_password("").server_cert_sha256("").system_roots(true);
    esbyt::Error missing_file = EXPECT_ERROR(esbyt::Client{every_setting});
    print_error("missing_file", missing_file);

    every_setting.extra_ca_file("");
    esbyt::Client configured(every_setting);
    CHECK(configured.check_bonus(TEST_CARD).amount == 500);
    std::ifstream log(scratch_dir + "/esbyt.log");
    std::string log_text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    print("log_file_bytes", static_cast<std::int64_t>(log_text.size()));
    CHECK(log_text.find(TEST_CARD) == std::string::npos);

    esbyt::Error no_url = EXPECT_ERROR(esbyt::Client{esbyt::Config()});
    print_error("no_url", no_url);

    esbyt::Config plain_http;
    plain_http.url(url);
    esbyt::Error http_not_allowed = EXPECT_ERROR(esbyt::Client{plain_http});
    print_error("http_not_allowed", http_not_allowed);

    esbyt::Config no_supplier;
    no_supplier.url(url).allow_http(true);
    esbyt::Client checker(no_supplier);
    CHECK(checker.check_bonus(TEST_CARD).amount == 500);
    esbyt::Error spend_without_supplier = EXPECT_ERROR(checker.spend_bonus(TEST_CARD, 10));
    print_error("spend_without_supplier", spend_without_supplier);

    // The client keeps a copy of the settings, so the Config may go first.
    std::unique_ptr<esbyt::Client> survivor;
    {
        esbyt::Config temporary = emulator_config(url);
        survivor = std::make_unique<esbyt::Client>(temporary);
    }
    CHECK(survivor->check_bonus(TEST_CARD).amount == 500);

    esbyt::Config moved_from = emulator_config(url);
    esbyt::Config moved_to(std::move(moved_from));
    CHECK(moved_from.native_handle() == nullptr);
    esbyt::Client from_moved(moved_to);
    CHECK(from_moved.check_bonus(TEST_CARD).amount == 500);
    esbyt::Error moved_from_set = EXPECT_ERROR(moved_from.url(url));
    print("moved_from_set.status", moved_from_set.status());

    // A configuration file, with a journal path relative to the file's folder.
    const std::string config_file = scratch_dir + "/esbyt.toml";
    write_file(config_file, "url = \"" + url + "\"\nsupplier = 1111\nallow_http = true\n"
                            "journal_file = \"from-file.journal\"\n");
    esbyt::Config from_file;
    from_file.load_file(config_file);
    esbyt::Client file_client(from_file);
    esbyt::WriteOff write_off = file_client.spend_bonus(TEST_CARD, 10);
    print("file_spend_id", write_off.spend_id);
    CHECK(!write_off.attempt_id.empty());
    CHECK(std::ifstream(scratch_dir + "/from-file.journal").good());

    const std::string bad_file = scratch_dir + "/bad.toml";
    write_file(bad_file, "url = \"" + url + "\"\ntime_out_ms = 1000\n");
    esbyt::Error bad_key = EXPECT_ERROR(esbyt::Config().load_file(bad_file));
    print_error("bad_key", bad_key);
    esbyt::Error missing_config = EXPECT_ERROR(esbyt::Config().load_file(scratch_dir + "/missing.toml"));
    print_error("missing_config", missing_config);
}

void test_logging(const std::string& url)
{
    std::mutex mutex;
    std::vector<std::pair<std::int32_t, std::string>> records;
    esbyt::set_log_callback(
        [&](std::int32_t level, const std::string& message) {
            std::lock_guard<std::mutex> lock(mutex);
            records.emplace_back(level, message);
        },
        ESBYT_LOG_DEBUG);

    esbyt::Client client(emulator_config(url));
    client.check_bonus(TEST_CARD);
    std::size_t after_check;
    {
        std::lock_guard<std::mutex> lock(mutex);
        after_check = records.size();
        for (const auto& [level, message] : records) {
            CHECK(level >= ESBYT_LOG_ERROR);
            CHECK(level <= ESBYT_LOG_DEBUG);
            CHECK(message.find(TEST_CARD) == std::string::npos);
        }
        bool masked = false;
        for (const auto& record : records)
            masked = masked || record.second.find("2700******205") != std::string::npos;
        CHECK(masked);
    }
    print("records_after_check", static_cast<std::int64_t>(after_check));

    // A function that throws must not take the library down.
    esbyt::set_log_callback([](std::int32_t, const std::string&) { throw std::runtime_error("from the log function"); },
                            ESBYT_LOG_TRACE);
    CHECK(client.check_bonus(TEST_CARD).amount == 500);

    // A function that calls the library back.
    std::int64_t nested_calls = 0;
    esbyt::set_log_callback(
        [&](std::int32_t level, const std::string&) {
            std::lock_guard<std::mutex> lock(mutex);
            nested_calls += esbyt::status_name(level).empty() ? 0 : 1;
        },
        ESBYT_LOG_INFO);
    CHECK(client.check_bonus(TEST_CARD).amount == 500);
    CHECK(nested_calls > 0);

    esbyt::set_log_callback(nullptr);
    CHECK(client.check_bonus(TEST_CARD).amount == 500);
    std::lock_guard<std::mutex> lock(mutex);
    print("records_after_removal", static_cast<std::int64_t>(records.size() - after_check));
}

void test_outcome_unknown(const std::string& url, const std::string& scratch_dir)
{
    const std::string journal = scratch_dir + "/spend.journal";
    esbyt::Client client(emulator_config(url).journal_file(journal));

    esbyt::OutcomeUnknown unknown =
        EXPECT_OUTCOME_UNKNOWN(client.spend_bonus(CLOSE_AFTER_EXECUTE_CARD, 10));
    print_error("unknown", unknown);
    print("unknown.attempt_id", unknown.attempt_id());
    CHECK(!unknown.attempt_id().empty());

    // A host that catches only esbyt::Error catches it too.
    std::string second_attempt_id;
    try {
        client.spend_bonus(CLOSE_AFTER_EXECUTE_CARD, 20);
        CHECK(!"spend_bonus on the close-after-execute card returned");
    } catch (const esbyt::Error& error) {
        CHECK(error.status() == ESBYT_OUTCOME_UNKNOWN);
        CHECK(error.cause() == ESBYT_CONNECTION);
        CHECK(dynamic_cast<const esbyt::OutcomeUnknown*>(&error) != nullptr);
        second_attempt_id = error.attempt_id();
    }

    std::vector<esbyt::PendingSpend> pending = client.pending_spends();
    print("pending_count", static_cast<std::int64_t>(pending.size()));
    CHECK(pending.size() == 2);
    if (pending.size() == 2) {
        const esbyt::PendingSpend& first = pending[0];
        print("pending.attempt_id", first.attempt_id);
        print("pending.bonus_id", first.bonus_id);
        print("pending.supplier", first.supplier);
        print("pending.amount", first.amount);
        print("pending.state", first.state);
        print("pending.cause", first.cause);
        print("pending.time_ms", first.time_ms);
        CHECK(first.attempt_id == unknown.attempt_id());
        CHECK(pending[1].attempt_id == second_attempt_id);
        CHECK(pending[1].amount == 20);
    }

    // A successful write-off is journalled too, and is not pending.
    esbyt::WriteOff written_off = client.spend_bonus(TEST_CARD, 10);
    CHECK(!written_off.attempt_id.empty());
    CHECK(written_off.attempt_id != unknown.attempt_id());
    print("written_off.attempt_id", written_off.attempt_id);

    client.resolve_spend(unknown.attempt_id(), "balance checked: written off");
    client.resolve_spend(unknown.attempt_id(), "resolving again is not an error");
    client.resolve_spend(second_attempt_id);
    print("pending_after_resolve", static_cast<std::int64_t>(client.pending_spends().size()));

    esbyt::Error unknown_attempt = EXPECT_ERROR(client.resolve_spend("1-2-3", "no such attempt"));
    print("unknown_attempt.status", unknown_attempt.status());

    esbyt::Client without_journal(emulator_config(url));
    esbyt::Error no_journal = EXPECT_ERROR(without_journal.pending_spends());
    print("no_journal.status", no_journal.status());
}

void test_pending_growth(const std::string& url, const std::string& scratch_dir)
{
    // More attempts than the binding's first array holds, so pending_spends must grow it.
    const int attempts = 20;
    const std::string journal = scratch_dir + "/growth.journal";
    std::set<std::string> attempt_ids;
    {
        esbyt::Client client(emulator_config(url).journal_file(journal));
        for (int index = 0; index < attempts; ++index) {
            esbyt::OutcomeUnknown unknown =
                EXPECT_OUTCOME_UNKNOWN(client.spend_bonus(CLOSE_AFTER_EXECUTE_CARD, 10));
            attempt_ids.insert(unknown.attempt_id());
        }
    }
    CHECK(attempt_ids.size() == static_cast<std::size_t>(attempts));

    // A new client on the same journal, as after a restart of the host, lists them all.
    esbyt::Client restarted(emulator_config(url).journal_file(journal));
    std::vector<esbyt::PendingSpend> pending = restarted.pending_spends();
    print("pending_count", static_cast<std::int64_t>(pending.size()));
    std::set<std::string> listed;
    for (std::size_t index = 0; index < pending.size(); ++index) {
        listed.insert(pending[index].attempt_id);
        CHECK(pending[index].state == ESBYT_PENDING_OUTCOME_UNKNOWN);
        CHECK(pending[index].cause == ESBYT_CONNECTION);
        CHECK(pending[index].bonus_id == CLOSE_AFTER_EXECUTE_CARD);
        if (index > 0)
            CHECK(pending[index - 1].time_ms <= pending[index].time_ms);
    }
    CHECK(listed == attempt_ids);

    for (const std::string& attempt_id : attempt_ids)
        restarted.resolve_spend(attempt_id, "reconciled");
    print("pending_after_resolve", static_cast<std::int64_t>(restarted.pending_spends().size()));
}

void test_threads(const std::string& url)
{
    const int thread_count = 8;
    const int rounds = 5;
    esbyt::Client client(emulator_config(url));
    std::mutex mutex;
    std::vector<std::string> spend_ids;
    std::exception_ptr failure;

    std::vector<std::thread> threads;
    for (int thread_index = 0; thread_index < thread_count; ++thread_index) {
        threads.emplace_back([&] {
            try {
                for (int round = 0; round < rounds; ++round) {
                    std::int64_t before = client.check_bonus(THOUSAND_CARD).amount;
                    esbyt::WriteOff write_off = client.spend_bonus(THOUSAND_CARD, 1);
                    std::lock_guard<std::mutex> lock(mutex);
                    CHECK(before > 0);
                    spend_ids.push_back(write_off.spend_id);
                }
            } catch (...) {
                std::lock_guard<std::mutex> lock(mutex);
                failure = std::current_exception();
            }
        });
    }
    for (std::thread& thread : threads)
        thread.join();
    if (failure)
        std::rethrow_exception(failure);

    std::set<std::string> unique(spend_ids.begin(), spend_ids.end());
    print("spend_count", static_cast<std::int64_t>(spend_ids.size()));
    print("unique_spend_ids", static_cast<std::int64_t>(unique.size()));
    print("balance_after", client.check_bonus(THOUSAND_CARD).amount);
}

void test_move(const std::string& url)
{
    esbyt::Client first(emulator_config(url));
    esbyt_client* first_handle = first.native_handle();
    CHECK(first_handle != nullptr);

    esbyt::Client second(std::move(first));
    CHECK(first.native_handle() == nullptr);
    CHECK(second.native_handle() == first_handle);
    CHECK(second.check_bonus(TEST_CARD).amount == 500);

    // A moved-from client has no handle, and the library rejects the NULL.
    esbyt::Error moved_from = EXPECT_ERROR(first.check_bonus(TEST_CARD));
    print("moved_from.status", moved_from.status());

    // Move assignment frees the target's own handle first.
    esbyt::Client third(emulator_config(url));
    esbyt_client* third_handle = third.native_handle();
    third = std::move(second);
    CHECK(third.native_handle() == first_handle);
    CHECK(second.native_handle() == nullptr);
    esbyt_balance record{};
    esbyt_error error{};
    print("replaced_handle_check", esbyt_check_bonus(third_handle, TEST_CARD, &record, &error));

    esbyt::Client& alias = third;
    third = std::move(alias);
    CHECK(third.native_handle() == first_handle);
    CHECK(third.check_bonus(TEST_CARD).amount == 500);

    // Clients in a vector survive its reallocations.
    std::vector<esbyt::Client> clients;
    for (int index = 0; index < 5; ++index)
        clients.emplace_back(emulator_config(url));
    for (const esbyt::Client& client : clients)
        CHECK(client.check_bonus(TEST_CARD).amount == 500);

    {
        esbyt::Client last(std::move(third));
        CHECK(last.check_bonus(TEST_CARD).amount == 500);
    }
    // The destructor freed the handle, so the library rejects it. No other owner freed
    // it earlier, because every check_bonus above succeeded.
    print("freed_handle_check", esbyt_check_bonus(first_handle, TEST_CARD, &record, &error));
    print("freed_handle_free", esbyt_client_free(first_handle));
}

}  // namespace

int main(int argc, char** argv)
{
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " CASE BASE_URL SCRATCH_DIR\n";
        return 2;
    }
    const std::string name = argv[1];
    const std::string url = argv[2];
    const std::string scratch_dir = argv[3];

    const std::map<std::string, std::function<void()>> cases = {
        {"version", [] { test_version(); }},
        {"balance", [&] { test_balance(url); }},
        {"write-off", [&] { test_write_off(url); }},
        {"unknown-card", [&] { test_unknown_card(url); }},
        {"invalid-input", [&] { test_invalid_input(url); }},
        {"config", [&] { test_config(url, scratch_dir); }},
        {"outcome-unknown", [&] { test_outcome_unknown(url, scratch_dir); }},
        {"pending-growth", [&] { test_pending_growth(url, scratch_dir); }},
        {"logging", [&] { test_logging(url); }},
        {"threads", [&] { test_threads(url); }},
        {"move", [&] { test_move(url); }},
    };
    auto found = cases.find(name);
    if (found == cases.end()) {
        std::cerr << "unknown case " << name << "; expected one of:";
        for (const auto& entry : cases)
            std::cerr << " " << entry.first;
        std::cerr << "\n";
        return 2;
    }

    try {
        found->second();
    } catch (const std::exception& error) {
        std::cerr << "case " << name << " threw: " << error.what() << "\n";
        return 1;
    }
    return failed_checks == 0 ? 0 : 1;
}
