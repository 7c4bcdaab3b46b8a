// C++17 binding of esbyt, the client of the bonus programme of AO "Chitaenergosbyt".
//
// Header-only: it wraps the C ABI of include/esbyt.h, so a program includes this file,
// adds include/ to its include path and links to libesbyt (-lesbyt). Handles become
// move-only RAII classes, result records become value types, and failed calls throw
// esbyt::Error, or esbyt::OutcomeUnknown when a write-off may have been executed.
//
//   esbyt::Client client(esbyt::Config().url(url).supplier(1111).allow_http(true));
//   esbyt::Balance balance = client.check_bonus("2700009601205");
//   esbyt::WriteOff write_off = client.spend_bonus("2700009601205", 10);
//
// Thread safety: the const member functions of Client may run on one Client from any
// number of threads at once, as the C functions they call allow. Moving, assigning or
// destroying a Client while another thread uses it is a data race, as for any C++ object.
// A Config is meant to be filled by one thread.

#ifndef ESBYT_HPP
#define ESBYT_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "esbyt.h"

namespace esbyt {

// Failure of a call of the library. The fields are those of the C `esbyt_error` record.
class Error : public std::runtime_error {
public:
    // Builds the error of a failed call from the status it returned and the record it
    // filled. `attempt_id` is the spend journal's id of a failed write-off, if any.
    Error(std::int32_t status, const esbyt_error& record, const std::string& attempt_id)
        : std::runtime_error(describe(status, record_message(record))),
          status_(status),
          server_code_(record.server_code),
          http_status_(record.http_status),
          cause_(record.cause),
          detail_(record.detail),
          text_(std::make_shared<const Text>(Text{record_message(record), attempt_id}))
    {
    }

    // Builds an error that the binding detects itself, before calling the library.
    Error(std::int32_t status, const std::string& message)
        : std::runtime_error(describe(status, message)),
          status_(status),
          text_(std::make_shared<const Text>(Text{message, std::string()}))
    {
    }

    // One of the ESBYT_* statuses, never ESBYT_OK.
    std::int32_t status() const noexcept { return status_; }

    // The server's non-zero `result` code for ESBYT_SERVER, otherwise 0.
    std::int64_t server_code() const noexcept { return server_code_; }

    // The HTTP status of the response when one arrived, otherwise 0.
    std::int32_t http_status() const noexcept { return http_status_; }

    // For ESBYT_OUTCOME_UNKNOWN, the status of the underlying failure, otherwise 0.
    std::int32_t cause() const noexcept { return cause_; }

    // One of the ESBYT_DETAIL_* values, such as ESBYT_DETAIL_TLS_UNKNOWN_ISSUER.
    std::int32_t detail() const noexcept { return detail_; }

    // The library's message: what failed, on which value and what to do. For
    // ESBYT_SERVER it is the server's own text, to show to the cashier.
    const std::string& message() const noexcept { return text_->message; }

    // The spend journal's id of the write-off attempt, or empty when the call was not a
    // write-off or no `journal_file` is set.
    const std::string& attempt_id() const noexcept { return text_->attempt_id; }

    // The C name of status(), such as "ESBYT_SERVER".
    const char* status_name() const noexcept { return esbyt_status_name(status_); }

private:
    // The texts live in a shared block, so copying an Error never throws, as the
    // standard library expects of exception types.
    struct Text {
        std::string message;
        std::string attempt_id;
    };

    static std::string record_message(const esbyt_error& record)
    {
        const void* end = std::memchr(record.message, '\0', sizeof record.message);
        std::size_t length = end != nullptr
                                 ? static_cast<std::size_t>(static_cast<const char*>(end) - record.message)
                                 : sizeof record.message;
        return std::string(record.message, length);
    }

    static std::string describe(std::int32_t status, const std::string& message)
    {
        return std::string(esbyt_status_name(status)) + ": " + message;
    }

    std::int32_t status_ = ESBYT_INTERNAL;
    std::int64_t server_code_ = 0;
    std::int32_t http_status_ = 0;
    std::int32_t cause_ = 0;
    std::int32_t detail_ = ESBYT_DETAIL_NONE;
    std::shared_ptr<const Text> text_;
};

// A write-off that may or may not have been executed (ESBYT_OUTCOME_UNKNOWN): the
// request may have reached the server, but no valid response came back. cause() returns
// the underlying status. Reconcile the write-off, for example by checking the balance,
// before trying again, because a resent write-off can spend the bonuses twice.
class OutcomeUnknown : public Error {
public:
    using Error::Error;
};

// The loaded library has another ABI version than the header this program was built with.
class AbiMismatch : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The balance of a participant.
struct Balance {
    // The participant's personal account number, as text because it can have leading zeros.
    std::string account;
    // The participant id as the server echoed it.
    std::string bonus_id;
    // The bonus balance.
    std::int64_t amount = 0;
};

// An executed write-off.
struct WriteOff {
    // The number of the write-off document to print on the receipt, leading zeros included.
    std::string spend_id;
    // The spend journal's id of the attempt, empty when no `journal_file` is set.
    std::string attempt_id;
};

// A write-off attempt of the spend journal that must be reconciled.
struct PendingSpend {
    // The attempt's id, for Client::resolve_spend.
    std::string attempt_id;
    // When the attempt was recorded, in milliseconds since 1970-01-01 UTC.
    std::int64_t time_ms = 0;
    // The participant id.
    std::string bonus_id;
    // The partner (supplier) code sent.
    std::int64_t supplier = 0;
    // The bonuses to write off.
    std::int64_t amount = 0;
    // ESBYT_PENDING_NO_OUTCOME or ESBYT_PENDING_OUTCOME_UNKNOWN.
    std::int32_t state = 0;
    // For ESBYT_PENDING_OUTCOME_UNKNOWN, the status of the underlying failure, otherwise 0.
    std::int32_t cause = 0;
};

// Returns the C name of a status, such as "ESBYT_OUTCOME_UNKNOWN".
inline std::string status_name(std::int32_t status)
{
    return esbyt_status_name(status);
}

// Returns an English one-sentence description of a status.
inline std::string status_description(std::int32_t status)
{
    return esbyt_status_description(status);
}

// Returns the version of the loaded library, such as "0.1.0".
inline std::string version()
{
    return esbyt_version();
}

// Returns the ABI version of the loaded library.
inline std::int32_t abi_version() noexcept
{
    return esbyt_abi_version();
}

// Throws AbiMismatch unless the loaded library has the ABI version of esbyt.h, the
// header this program was compiled with. The Client constructor calls it.
inline void check_abi_version()
{
    std::int32_t loaded = esbyt_abi_version();
    if (loaded != ESBYT_ABI_VERSION) {
        throw AbiMismatch("libesbyt has ABI version " + std::to_string(loaded)
                          + ", but this program was built with esbyt.h of ABI version "
                          + std::to_string(ESBYT_ABI_VERSION)
                          + ": install the library that matches the header");
    }
}

namespace detail {

// Throws the exception type that matches a failed call's status.
[[noreturn]] inline void throw_error(std::int32_t status, const esbyt_error& record,
                                     const std::string& attempt_id = std::string())
{
    if (status == ESBYT_OUTCOME_UNKNOWN)
        throw OutcomeUnknown(status, record, attempt_id);
    throw Error(status, record, attempt_id);
}

// Returns the text of a NUL-terminated field of a result record.
template <std::size_t Size>
std::string field_text(const char (&field)[Size])
{
    const void* end = std::memchr(field, '\0', Size);
    std::size_t length =
        end != nullptr ? static_cast<std::size_t>(static_cast<const char*>(end) - field) : Size;
    return std::string(field, length);
}

// Returns value as a C string, or throws ESBYT_INVALID_ARGUMENT when it contains a NUL
// byte. The C functions would see only the text before that byte, so a card number
// such as "2700009601205\0" "99" would reach the server as another card.
inline const char* c_string(const std::string& value, const char* name)
{
    if (value.find('\0') != std::string::npos) {
        throw Error(ESBYT_INVALID_ARGUMENT,
                    std::string(name) + " contains a NUL byte: pass the text without it");
    }
    return value.c_str();
}

}  // namespace detail

// Function that receives the library's log records: the level, from ESBYT_LOG_ERROR (1)
// to ESBYT_LOG_TRACE (5), and the message, in which card numbers are masked.
using LogFunction = std::function<void(std::int32_t level, const std::string& message)>;

namespace detail {

struct LogSink {
    LogFunction function;
    std::int32_t max_level;
};

struct LogState {
    std::mutex mutex;
    std::shared_ptr<const LogSink> sink;
};

// Returns the process-wide state of set_log_callback. It is never destroyed, because the
// library may call log_trampoline from any thread at any time, also during exit.
inline LogState& log_state()
{
    static LogState* state = new LogState();
    return *state;
}

// The function that the library calls. The library gives no point after which a replaced
// callback is no longer running on another thread, so this one stays installed, and
// the LogFunction it calls is swapped on this side. A running call keeps its function
// alive through the shared_ptr.
inline void log_trampoline(void* /* user_data */, std::int32_t level, const char* message) noexcept
{
    std::shared_ptr<const LogSink> sink;
    {
        std::lock_guard<std::mutex> lock(log_state().mutex);
        sink = log_state().sink;
    }
    if (sink == nullptr || level > sink->max_level)
        return;
    try {
        sink->function(level, message != nullptr ? message : "");
    } catch (...) {
        // An exception must not unwind into the library, and there is nowhere to report it.
    }
}

}  // namespace detail

// Sends the library's log records up to `max_level` (ESBYT_LOG_ERROR to ESBYT_LOG_TRACE)
// to `function`, process-wide, replacing the previous function. An empty function or a
// `max_level` of 0 stops the records. `function` runs on the threads that call the
// library, possibly several at once, and a replaced function may still be running when
// this call returns. Exceptions thrown by `function` are ignored. Stop the records before
// destroying anything that `function` uses.
inline void set_log_callback(LogFunction function, std::int32_t max_level = ESBYT_LOG_INFO)
{
    std::shared_ptr<const detail::LogSink> sink;
    if (function)
        sink = std::make_shared<const detail::LogSink>(detail::LogSink{std::move(function), max_level});
    std::shared_ptr<const detail::LogSink> replaced;
    {
        std::lock_guard<std::mutex> lock(detail::log_state().mutex);
        replaced = std::exchange(detail::log_state().sink, sink);
    }
    esbyt_error error{};
    std::int32_t status = esbyt_set_log_callback(sink != nullptr ? detail::log_trampoline : nullptr,
                                                 nullptr, sink != nullptr ? max_level : 0, &error);
    if (status != ESBYT_OK)
        detail::throw_error(status, error);
}

// Settings of a client, owning an esbyt_config handle. Each setter calls
// esbyt_config_set at once and throws Error (ESBYT_INVALID_ARGUMENT) for a value out of
// range, so a mistake is reported with the setting's name. Files are read and the URL
// is checked when a Client is created. README.md describes every setting.
class Config {
public:
    // Creates a configuration with every setting at its default and no URL.
    Config() : handle_(esbyt_config_new())
    {
        if (handle_ == nullptr)
            throw Error(ESBYT_INTERNAL, "esbyt_config_new failed inside the library");
    }

    ~Config() { esbyt_config_free(handle_); }

    Config(const Config&) = delete;
    Config& operator=(const Config&) = delete;

    Config(Config&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

    Config& operator=(Config&& other) noexcept
    {
        if (this != &other) {
            esbyt_config_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }

    // Sets any setting by its esbyt_config_set name from its text form. An empty value
    // restores the default of an optional setting.
    Config& set(const std::string& name, const std::string& value)
    {
        esbyt_error error{};
        std::int32_t status = esbyt_config_set(handle_, detail::c_string(name, "setting name"),
                                               detail::c_string(value, name.c_str()), &error);
        if (status != ESBYT_OK)
            detail::throw_error(status, error);
        return *this;
    }

    // Base URL of the bonus server. The query string is appended to it as is.
    Config& url(const std::string& value) { return set("url", value); }
    // Partner code from the contract, 1 to 2147483647, which write-offs need.
    Config& supplier(std::int64_t value) { return set("supplier", std::to_string(value)); }
    // Time for DNS, TCP and TLS in milliseconds, 1 to 600000 (default 5000).
    Config& connect_timeout_ms(std::int64_t value) { return set("connect_timeout_ms", std::to_string(value)); }
    // Deadline of a whole call in milliseconds, 1 to 600000 (default 15000).
    Config& timeout_ms(std::int64_t value) { return set("timeout_ms", std::to_string(value)); }
    // How long an idle kept-alive connection may be reused in milliseconds, 0 to 600000
    // (default 4000, and 0 disables reuse).
    Config& idle_timeout_ms(std::int64_t value) { return set("idle_timeout_ms", std::to_string(value)); }
    // Largest response accepted in bytes, 1024 to 16777216 (default 65536).
    Config& max_body_bytes(std::int64_t value) { return set("max_body_bytes", std::to_string(value)); }
    // PEM file of CA certificates trusted besides Mozilla's roots and the system's.
    Config& extra_ca_file(const std::string& path) { return set("extra_ca_file", path); }
    // false stops trusting the operating system's CA store (default true).
    Config& system_roots(bool enabled) { return set("system_roots", enabled ? "1" : "0"); }
    // SHA-256 fingerprints of the accepted server certificates, comma-separated.
    Config& server_cert_sha256(const std::string& fingerprints) { return set("server_cert_sha256", fingerprints); }
    // The partner's client certificate and key as a PKCS#12 file (.pfx, .p12).
    Config& pkcs12_file(const std::string& path) { return set("pkcs12_file", path); }
    // Password of the PKCS#12 file, taken verbatim.
    Config& pkcs12_password(const std::string& password) { return set("pkcs12_password", password); }
    // The client certificate as PEM, leaf first, then intermediates. The file may also contain the key.
    Config& client_cert_file(const std::string& path) { return set("client_cert_file", path); }
    // The client key as PEM (PKCS#8, PKCS#1 or SEC1) when not in client_cert_file.
    Config& client_key_file(const std::string& path) { return set("client_key_file", path); }
    // Password of an encrypted PKCS#8 client key, taken verbatim.
    Config& client_key_password(const std::string& password) { return set("client_key_password", password); }
    // true allows a plain http:// URL, for the partner's test server and the emulator.
    Config& allow_http(bool allowed) { return set("allow_http", allowed ? "1" : "0"); }
    // HTTP proxy URL such as http://proxy:3128. Proxy environment variables are never read.
    Config& proxy(const std::string& url) { return set("proxy", url); }
    // File of the spend journal, which records every write-off attempt before it is sent.
    Config& journal_file(const std::string& path) { return set("journal_file", path); }
    // Log file of the process, rotated by size. The last client created with one decides.
    Config& log_file(const std::string& path) { return set("log_file", path); }
    // Most detailed level written to the log file: ESBYT_LOG_ERROR (1) to ESBYT_LOG_TRACE
    // (5), or 0 for none (default ESBYT_LOG_INFO). The environment variable
    // ESBYT_LOG_LEVEL overrides it.
    Config& log_level(std::int32_t level) { return set("log_level", std::to_string(level)); }
    // Size in bytes at which the log file is rotated, 4096 to 2^40 (default 10485760).
    Config& log_max_bytes(std::int64_t bytes) { return set("log_max_bytes", std::to_string(bytes)); }
    // Number of rotated log files kept besides the current one, 0 to 100 (default 5).
    Config& log_max_files(std::int64_t count) { return set("log_max_files", std::to_string(count)); }

    // Reads every setting from a TOML file whose keys are the setting names, then applies
    // the ESBYT_<SETTING> environment variables, such as ESBYT_URL, except for passwords.
    // Relative paths of *_file settings resolve against the file's folder. Throws Error
    // with ESBYT_CONFIG naming the file, line and key of a bad entry. Settings read before
    // the bad entry stay applied.
    Config& load_file(const std::string& path)
    {
        esbyt_error error{};
        std::int32_t status = esbyt_config_load_file(handle_, detail::c_string(path, "path"), &error);
        if (status != ESBYT_OK)
            detail::throw_error(status, error);
        return *this;
    }

    // The C handle, for calling the C functions directly. The Config keeps owning it.
    esbyt_config* native_handle() const noexcept { return handle_; }

private:
    esbyt_config* handle_;
};

// A client of the bonus server, owning an esbyt_client handle. Create one per server
// and share it between threads. It keeps its connections and settings until it is
// destroyed. A moved-from Client has no handle, so its calls throw Error with
// ESBYT_INVALID_ARGUMENT.
class Client {
public:
    // Creates a client from the settings, which it copies. Throws AbiMismatch, or Error
    // with ESBYT_CONFIG for a missing or unusable URL, file, password or proxy.
    explicit Client(const Config& config)
    {
        check_abi_version();
        esbyt_error error{};
        std::int32_t status = esbyt_client_new(config.native_handle(), &handle_, &error);
        if (status != ESBYT_OK)
            detail::throw_error(status, error);
    }

    // Frees the handle and closes its kept-alive connections.
    ~Client() { esbyt_client_free(handle_); }

    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    Client(Client&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}

    Client& operator=(Client&& other) noexcept
    {
        if (this != &other) {
            esbyt_client_free(handle_);
            handle_ = std::exchange(other.handle_, nullptr);
        }
        return *this;
    }

    // Returns the balance of the card `bonus_id`, 1 to 13 digits. Surrounding whitespace,
    // such as a barcode scanner's CR/LF, is trimmed. Throws Error with ESBYT_SERVER for an
    // unknown card, with the server's code and message.
    Balance check_bonus(const std::string& bonus_id) const
    {
        esbyt_balance record{};
        esbyt_error error{};
        std::int32_t status =
            esbyt_check_bonus(handle_, detail::c_string(bonus_id, "bonus_id"), &record, &error);
        if (status != ESBYT_OK)
            detail::throw_error(status, error);
        return Balance{detail::field_text(record.account), detail::field_text(record.bonus_id),
                       record.amount};
    }

    // Writes `amount` bonuses (1 to 2147483647) off the card with the configured supplier
    // code. The request is sent at most once. Throws OutcomeUnknown when the write-off may
    // have been executed, and Error for every failure after which nothing was written off.
    // Both carry the journal's attempt id when a `journal_file` is set.
    WriteOff spend_bonus(const std::string& bonus_id, std::int64_t amount) const
    {
        esbyt_write_off record{};
        esbyt_error error{};
        std::int32_t status = esbyt_spend_bonus(handle_, detail::c_string(bonus_id, "bonus_id"),
                                                amount, &record, &error);
        if (status != ESBYT_OK)
            detail::throw_error(status, error, detail::field_text(record.attempt_id));
        return WriteOff{detail::field_text(record.spend_id), detail::field_text(record.attempt_id)};
    }

    // Lists the spend journal's attempts that must be reconciled, oldest first. Throws
    // Error with ESBYT_CONFIG when no `journal_file` is set or it cannot be read.
    std::vector<PendingSpend> pending_spends() const
    {
        std::vector<esbyt_pending_spend> records(initial_pending_capacity);
        std::int32_t count = 0;
        // Another thread or process may add attempts between two calls, so the array
        // grows until the count fits.
        for (;;) {
            esbyt_error error{};
            std::int32_t capacity = static_cast<std::int32_t>(records.size());
            std::int32_t status =
                esbyt_journal_pending(handle_, records.data(), capacity, &count, &error);
            if (status != ESBYT_OK)
                detail::throw_error(status, error);
            if (count <= capacity)
                break;
            records.resize(static_cast<std::size_t>(count));
        }

        std::vector<PendingSpend> spends;
        spends.reserve(static_cast<std::size_t>(count));
        for (std::size_t index = 0; index < static_cast<std::size_t>(count); ++index) {
            const esbyt_pending_spend& record = records[index];
            spends.push_back(PendingSpend{detail::field_text(record.attempt_id), record.time_ms,
                                          detail::field_text(record.bonus_id), record.supplier,
                                          record.amount, record.state, record.cause});
        }
        return spends;
    }

    // Marks a journal attempt resolved after reconciling it, with a note such as
    // "balance checked: written off". Resolving an attempt twice is not an error.
    void resolve_spend(const std::string& attempt_id, const std::string& note = std::string()) const
    {
        esbyt_error error{};
        std::int32_t status = esbyt_journal_resolve(handle_, detail::c_string(attempt_id, "attempt_id"),
                                                    detail::c_string(note, "note"), &error);
        if (status != ESBYT_OK)
            detail::throw_error(status, error);
    }

    // The C handle, for calling the C functions directly, or NULL after a move. The
    // Client keeps owning it.
    esbyt_client* native_handle() const noexcept { return handle_; }

private:
    static constexpr std::size_t initial_pending_capacity = 16;

    esbyt_client* handle_ = nullptr;
};

}  // namespace esbyt

#endif  // ESBYT_HPP
