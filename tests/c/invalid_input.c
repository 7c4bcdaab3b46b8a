/*
 * Calls every export of libesbyt with hostile input and checks the exact status, the
 * error record and the zeroing of output records. Prints one TAP line per case and exits
 * 1 when any case fails. At the end it prints a "# covers NAME (N cases)" line for every
 * export that the descriptions of its cases start with, so the Rust test can check that
 * no export of the library goes without hostile input.
 *
 * Usage: invalid_input BASE_URL SCRATCH_DIR PENDING_JOURNAL
 * - BASE_URL: the URL of an emulator with the default cards and partner code 1111.
 * - SCRATCH_DIR: an existing, writable directory for the files the cases create.
 * - PENDING_JOURNAL: a spend journal with exactly two pending attempts for the test card
 *   and partner code 1111, oldest first: amount 10 without an outcome, and amount 20 with
 *   the outcome unknown after ESBYT_TIMEOUT. The journal may hold completed attempts too.
 *   The program resolves both pending attempts.
 *
 * Balance checks reach the server, and so do write-offs with partner code 2222, which the
 * emulator refuses. Every other write-off is rejected before it is sent, so after a
 * passing run the emulator has executed no write-off. The log callback cases install a
 * process-wide callback and remove it again.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "esbyt.h"

#define TEST_CARD "2700009601205"
#define TEST_ACCOUNT "1055444444"
#define TEST_BALANCE 500
#define TEST_SUPPLIER "1111"
/* A partner code that the emulator refuses with server code 5. */
#define REFUSED_SUPPLIER "2222"
#define REFUSED_SUPPLIER_CODE 5
/* Longer than every input limit of the library (256 bytes for ids, 32 KiB for values). */
#define OVERLONG_SIZE (100 * 1024)
/* Byte that pre-fills records, so the checks detect a record the library did not overwrite. */
#define POISON 0xA5

/* Input limits in bytes that include/esbyt.h and src/ffi/ give, terminating NUL excluded. */
#define MAX_BONUS_ID_BYTES 256
#define MAX_NAME_BYTES 64
#define MAX_VALUE_BYTES (32 * 1024)
#define MAX_NOTE_BYTES 4096

/* The pending attempts of the journal that the caller prepares, oldest first. */
#define PENDING_COUNT 2
#define PENDING_NO_OUTCOME_AMOUNT 10
#define PENDING_UNKNOWN_AMOUNT 20

/* Longer than PATH_MAX (4096 on Linux) but within MAX_VALUE_BYTES. */
#define LONG_PATH_NAME_SIZE 5000

#define PATH_SIZE 4096

static int case_count;
static int failed_case_count;
static int current_case_failed;
static char current_failure[2048];

/* Number of cases per export, counted from the export name that starts a case description. */
#define MAX_COVERED_EXPORTS 64
static struct {
    char name[64];
    int case_count;
} covered_exports[MAX_COVERED_EXPORTS];
static int covered_export_count;

/* Records the first failed check of the current case. */
static void fail(const char *format, ...)
{
    va_list arguments;
    if (current_case_failed)
        return;
    current_case_failed = 1;
    va_start(arguments, format);
    vsnprintf(current_failure, sizeof current_failure, format, arguments);
    va_end(arguments);
}

#define CHECK(condition, ...)                                                                  \
    do {                                                                                       \
        if (!(condition))                                                                      \
            fail(__VA_ARGS__);                                                                 \
    } while (0)

/* Counts a case for the export whose name starts its description, such as
 * "esbyt_check_bonus rejects a NULL client". Other descriptions count for no export. */
static void count_covered_export(const char *description)
{
    size_t length = 0;
    if (strncmp(description, "esbyt_", strlen("esbyt_")) != 0)
        return;
    while (description[length] == '_' || (description[length] >= 'a' && description[length] <= 'z')
           || (description[length] >= '0' && description[length] <= '9'))
        length++;
    if (length >= sizeof covered_exports[0].name)
        return;
    for (int i = 0; i < covered_export_count; i++) {
        if (strlen(covered_exports[i].name) == length
            && strncmp(covered_exports[i].name, description, length) == 0) {
            covered_exports[i].case_count++;
            return;
        }
    }
    if (covered_export_count == MAX_COVERED_EXPORTS)
        return;
    memcpy(covered_exports[covered_export_count].name, description, length);
    covered_exports[covered_export_count].name[length] = '\0';
    covered_exports[covered_export_count].case_count = 1;
    covered_export_count++;
}

/* Prints the TAP line of the current case and starts the next one. */
static void finish_case(const char *format, ...)
{
    char description[512];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(description, sizeof description, format, arguments);
    va_end(arguments);

    case_count++;
    count_covered_export(description);
    if (current_case_failed) {
        failed_case_count++;
        printf("not ok %d - %s: %s\n", case_count, description, current_failure);
    } else {
        printf("ok %d - %s\n", case_count, description);
    }
    fflush(stdout);
    current_case_failed = 0;
}

static void poison(void *record, size_t size)
{
    memset(record, POISON, size);
}

static int is_zeroed(const void *record, size_t size)
{
    const unsigned char *bytes = record;
    for (size_t i = 0; i < size; i++) {
        if (bytes[i] != 0)
            return 0;
    }
    return 1;
}

/* Returns whether text is well-formed UTF-8 (no overlong forms, surrogates or truncation). */
static int is_valid_utf8(const char *text)
{
    const unsigned char *bytes = (const unsigned char *)text;
    while (*bytes != 0) {
        unsigned char lead = *bytes;
        size_t continuation;
        uint32_t code_point;
        uint32_t minimum;
        if (lead < 0x80) {
            bytes++;
            continue;
        } else if ((lead & 0xE0) == 0xC0) {
            continuation = 1;
            code_point = lead & 0x1F;
            minimum = 0x80;
        } else if ((lead & 0xF0) == 0xE0) {
            continuation = 2;
            code_point = lead & 0x0F;
            minimum = 0x800;
        } else if ((lead & 0xF8) == 0xF0) {
            continuation = 3;
            code_point = lead & 0x07;
            minimum = 0x10000;
        } else {
            return 0;
        }
        for (size_t i = 1; i <= continuation; i++) {
            if ((bytes[i] & 0xC0) != 0x80)
                return 0;
            code_point = (code_point << 6) | (bytes[i] & 0x3F);
        }
        if (code_point < minimum || code_point > 0x10FFFF
            || (code_point >= 0xD800 && code_point <= 0xDFFF))
            return 0;
        bytes += continuation + 1;
    }
    return 1;
}

/* Checks the fields of the error record that every call fills the same way. */
static void check_record_basics(const esbyt_error *error, int32_t returned)
{
    CHECK(memchr(error->message, 0, ESBYT_MESSAGE_SIZE) != NULL,
          "error.message is not NUL-terminated");
    if (memchr(error->message, 0, ESBYT_MESSAGE_SIZE) == NULL)
        return;
    CHECK(error->status == returned, "error.status is %" PRId32 " but the call returned %" PRId32,
          error->status, returned);
    CHECK(error->detail == ESBYT_DETAIL_NONE, "error.detail is %" PRId32, error->detail);
    CHECK(error->reserved == 0, "error.reserved is %" PRId32, error->reserved);
    CHECK(is_valid_utf8(error->message), "error.message is not valid UTF-8");
    if (error->message_length < ESBYT_MESSAGE_SIZE) {
        CHECK((size_t)error->message_length == strlen(error->message),
              "error.message_length is %" PRId32 " but the message has %zu bytes",
              error->message_length, strlen(error->message));
    }
}

/* Checks that a call returned `expected` and filled the error record for it. The failure
 * must come from the library, not a server, so server_code, http_status and cause are 0.
 * `mention` is text the message must contain, or NULL. */
static void check_failure(int32_t returned, int32_t expected, const esbyt_error *error,
                          const char *mention)
{
    CHECK(returned == expected, "returned %s (%" PRId32 "), expected %s",
          esbyt_status_name(returned), returned, esbyt_status_name(expected));
    check_record_basics(error, returned);
    if (memchr(error->message, 0, ESBYT_MESSAGE_SIZE) == NULL)
        return;
    CHECK(error->message[0] != '\0', "error.message is empty");
    CHECK(mention == NULL || strstr(error->message, mention) != NULL,
          "error.message \"%s\" does not mention \"%s\"", error->message, mention);
    CHECK(error->server_code == 0, "error.server_code is %" PRId64, error->server_code);
    CHECK(error->http_status == 0, "error.http_status is %" PRId32, error->http_status);
    CHECK(error->cause == 0, "error.cause is %" PRId32, error->cause);
}

/* Checks that a call succeeded and filled the error record with an empty success record. */
static void check_success(int32_t returned, const esbyt_error *error)
{
    CHECK(returned == ESBYT_OK, "returned %s: %s", esbyt_status_name(returned),
          memchr(error->message, 0, ESBYT_MESSAGE_SIZE) ? error->message : "(unterminated)");
    check_record_basics(error, returned);
    CHECK(is_zeroed(error, sizeof *error), "the success record is not all zero");
}

/* Creates a configuration from pairs of setting names and values, ended by NULL. */
static esbyt_config *new_config(const char *name, ...)
{
    esbyt_config *config = esbyt_config_new();
    va_list arguments;
    if (config == NULL)
        return NULL;
    va_start(arguments, name);
    for (; name != NULL; name = va_arg(arguments, const char *)) {
        const char *value = va_arg(arguments, const char *);
        esbyt_error error;
        int32_t status = esbyt_config_set(config, name, value, &error);
        if (status != ESBYT_OK) {
            fprintf(stderr, "# esbyt_config_set %s failed: %s\n", name, error.message);
            esbyt_config_free(config);
            config = NULL;
            break;
        }
    }
    va_end(arguments);
    return config;
}

/* Creates a client for url with allow_http set, and with supplier unless it is NULL.
 * Returns NULL on failure. */
static esbyt_client *new_client(const char *url, const char *supplier)
{
    esbyt_config *config = supplier != NULL
                               ? new_config("url", url, "allow_http", "1", "supplier", supplier,
                                            (const char *)NULL)
                               : new_config("url", url, "allow_http", "1", (const char *)NULL);
    esbyt_client *client = NULL;
    esbyt_error error;
    if (config == NULL)
        return NULL;
    if (esbyt_client_new(config, &client, &error) != ESBYT_OK)
        fprintf(stderr, "# esbyt_client_new failed: %s\n", error.message);
    esbyt_config_free(config);
    return client;
}

/* SHA-256 of "test" in the notations that server_cert_sha256 accepts, and one digit short. */
#define SHA256_HEX "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define SHA256_HEX_63 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0"
#define SHA256_HEX_COLONS                                                                      \
    "9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:"                                         \
    "A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08"

static const char *const STATUS_NAMES[] = {
    "ESBYT_OK",       "ESBYT_INVALID_ARGUMENT", "ESBYT_CONFIG",   "ESBYT_CONNECTION",
    "ESBYT_TLS",      "ESBYT_TIMEOUT",          "ESBYT_HTTP",     "ESBYT_PROTOCOL",
    "ESBYT_SERVER",   "ESBYT_OUTCOME_UNKNOWN",  "ESBYT_INTERNAL",
};

static void test_versions_and_status_names(void)
{
    CHECK(esbyt_abi_version() == ESBYT_ABI_VERSION, "esbyt_abi_version() is %" PRId32,
          esbyt_abi_version());
    finish_case("esbyt_abi_version equals ESBYT_ABI_VERSION");

    const char *version = esbyt_version();
    CHECK(version != NULL, "esbyt_version() is NULL");
    CHECK(version == NULL || strcmp(version, ESBYT_VERSION) == 0,
          "esbyt_version() is \"%s\", the header has \"%s\"", version, ESBYT_VERSION);
    printf("# esbyt_version %s\n", version != NULL ? version : "(NULL)");
    finish_case("esbyt_version equals ESBYT_VERSION");

    const int32_t codes[] = {ESBYT_OK,      ESBYT_INVALID_ARGUMENT, ESBYT_CONFIG,
                             ESBYT_CONNECTION, ESBYT_TLS,           ESBYT_TIMEOUT,
                             ESBYT_HTTP,    ESBYT_PROTOCOL,         ESBYT_SERVER,
                             ESBYT_OUTCOME_UNKNOWN, ESBYT_INTERNAL};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *name = esbyt_status_name(codes[i]);
        CHECK(name != NULL, "esbyt_status_name(%" PRId32 ") is NULL", codes[i]);
        CHECK(name == NULL || strcmp(name, STATUS_NAMES[i]) == 0,
              "esbyt_status_name(%" PRId32 ") is \"%s\", expected \"%s\"", codes[i], name,
              STATUS_NAMES[i]);
    }
    finish_case("esbyt_status_name names every status as its macro");

    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *description = esbyt_status_description(codes[i]);
        CHECK(description != NULL, "esbyt_status_description(%" PRId32 ") is NULL", codes[i]);
        if (description == NULL)
            continue;
        CHECK(description[0] != '\0', "esbyt_status_description(%" PRId32 ") is empty",
              codes[i]);
        CHECK(strcmp(description, "unknown status") != 0,
              "esbyt_status_description(%" PRId32 ") is \"unknown status\"", codes[i]);
    }
    finish_case("esbyt_status_description describes every status");

    const int32_t unknown_codes[] = {-1, 11, 100, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown_codes / sizeof unknown_codes[0]; i++) {
        const char *name = esbyt_status_name(unknown_codes[i]);
        CHECK(name != NULL, "esbyt_status_name is NULL");
        CHECK(name == NULL || strcmp(name, "ESBYT_UNKNOWN_STATUS") == 0,
              "esbyt_status_name is \"%s\"", name);
        finish_case("esbyt_status_name of %" PRId32 " is ESBYT_UNKNOWN_STATUS", unknown_codes[i]);

        const char *description = esbyt_status_description(unknown_codes[i]);
        CHECK(description != NULL, "esbyt_status_description is NULL");
        CHECK(description == NULL || strcmp(description, "unknown status") == 0,
              "esbyt_status_description is \"%s\"", description);
        finish_case("esbyt_status_description of %" PRId32 " is \"unknown status\"",
                    unknown_codes[i]);
    }
}

struct setting_case {
    const char *name;
    const char *value;
    const char *mention;
};

static void test_config_set(const char *overlong)
{
    esbyt_config *config = esbyt_config_new();
    esbyt_error error;
    int not_a_handle = 0;
    int32_t status;

    CHECK(config != NULL, "esbyt_config_new returned NULL");
    finish_case("esbyt_config_new returns a configuration");
    if (config == NULL)
        return;

    poison(&error, sizeof error);
    status = esbyt_config_set(NULL, "url", "http://127.0.0.1:1/", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "config");
    finish_case("esbyt_config_set rejects a NULL config");

    poison(&error, sizeof error);
    status = esbyt_config_set((esbyt_config *)&not_a_handle, "url", "http://127.0.0.1:1/", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "config");
    finish_case("esbyt_config_set rejects a never-created config");

    poison(&error, sizeof error);
    status = esbyt_config_set(config, NULL, "1", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "name");
    finish_case("esbyt_config_set rejects a NULL name");

    poison(&error, sizeof error);
    status = esbyt_config_set(config, "supplier", NULL, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "value");
    finish_case("esbyt_config_set rejects a NULL value");

    status = esbyt_config_set(config, "no_such_setting", "1", NULL);
    CHECK(status == ESBYT_INVALID_ARGUMENT, "returned %s", esbyt_status_name(status));
    finish_case("esbyt_config_set accepts a NULL error record");

    memset(&error, 0, sizeof error);
    status = esbyt_config_set(config, "no_such_setting", "1", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "unknown setting \"no_such_setting\"");
    finish_case("esbyt_config_set fills a zero-filled error record");

    poison(&error, sizeof error);
    status = esbyt_config_set(config, "URL", "http://127.0.0.1:1/", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "unknown setting \"URL\"");
    finish_case("esbyt_config_set rejects a setting name in the wrong case");

    poison(&error, sizeof error);
    status = esbyt_config_set(config, "", "1", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "unknown setting");
    finish_case("esbyt_config_set rejects an empty setting name");

    poison(&error, sizeof error);
    status = esbyt_config_set(config, "url\xff", "http://127.0.0.1:1/", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "name is not valid UTF-8");
    finish_case("esbyt_config_set rejects an invalid UTF-8 name");

    poison(&error, sizeof error);
    status = esbyt_config_set(config, "url", "http://127.0.0.1:1/\xc3", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "value is not valid UTF-8");
    finish_case("esbyt_config_set rejects an invalid UTF-8 value");

    poison(&error, sizeof error);
    status = esbyt_config_set(config, overlong, "1", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "name is longer than");
    finish_case("esbyt_config_set rejects a 100 KiB name");

    poison(&error, sizeof error);
    status = esbyt_config_set(config, "url", overlong, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "value is longer than");
    finish_case("esbyt_config_set rejects a 100 KiB value");

    static const struct setting_case bad_values[] = {
        {"supplier", "0", "supplier"},
        {"supplier", "-1", "supplier"},
        {"supplier", "2147483648", "supplier"},
        {"supplier", "9223372036854775808", "supplier"},
        {"supplier", "abc", "supplier"},
        {"supplier", "12a", "supplier"},
        {"supplier", "1111.0", "supplier"},
        {"connect_timeout_ms", "0", "connect_timeout_ms"},
        {"connect_timeout_ms", "600001", "connect_timeout_ms"},
        {"timeout_ms", "0", "timeout_ms"},
        {"timeout_ms", "-5", "timeout_ms"},
        {"timeout_ms", "1e3", "timeout_ms"},
        {"idle_timeout_ms", "-1", "idle_timeout_ms"},
        {"idle_timeout_ms", "600001", "idle_timeout_ms"},
        {"max_body_bytes", "1023", "max_body_bytes"},
        {"max_body_bytes", "16777217", "max_body_bytes"},
        {"allow_http", "maybe", "allow_http"},
        {"allow_http", "2", "allow_http"},
        {"system_roots", "2", "system_roots"},
        {"system_roots", "off", "system_roots"},
        {"server_cert_sha256", "abc", "server_cert_sha256"},
        {"server_cert_sha256", SHA256_HEX_63, "server_cert_sha256"},
        {"server_cert_sha256", SHA256_HEX "0", "server_cert_sha256"},
        {"server_cert_sha256", SHA256_HEX ",abc", "server_cert_sha256"},
        {"server_cert_sha256", "gggggggggggggggggggggggggggggggg"
                               "gggggggggggggggggggggggggggggggg", "server_cert_sha256"},
        {"server_cert_sha256", "0x86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
         "server_cert_sha256"},
        {"server_cert_sha256", "+0+0+0+0+0+0+0+0+0+0+0+0+0+0+0+0"
                               "+0+0+0+0+0+0+0+0+0+0+0+0+0+0+0+0", "server_cert_sha256"},
        {"server_cert_sha256", "-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0"
                               "-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0-0", "server_cert_sha256"},
        {"log_level", "verbose", "log_level"},
        {"log_level", "6", "log_level"},
        {"log_level", "-1", "log_level"},
        {"log_max_bytes", "4095", "log_max_bytes"},
        {"log_max_bytes", "-1", "log_max_bytes"},
        {"log_max_bytes", "99999999999999999999", "log_max_bytes"},
        {"log_max_files", "101", "log_max_files"},
        {"log_max_files", "-1", "log_max_files"},
        /* 32 two-byte characters: 64 bytes, but not hex digits. */
        {"server_cert_sha256", "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
                               "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
                               "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96"
                               "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96",
         "server_cert_sha256"},
    };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        poison(&error, sizeof error);
        status = esbyt_config_set(config, bad_values[i].name, bad_values[i].value, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, bad_values[i].mention);
        finish_case("esbyt_config_set rejects %s \"%s\"", bad_values[i].name, bad_values[i].value);
    }

    /* Positive controls: the forms that the header documents as valid. */
    static const struct setting_case good_values[] = {
        {"server_cert_sha256", SHA256_HEX, NULL},
        {"server_cert_sha256", SHA256_HEX_COLONS, NULL},
        {"server_cert_sha256", SHA256_HEX "," SHA256_HEX_COLONS, NULL},
        {"server_cert_sha256", "", NULL},
        {"system_roots", "0", NULL},
        {"journal_file", "spends.journal", NULL},
        {"journal_file", "", NULL},
        {"pkcs12_file", "/nonexistent-esbyt-test/partner.p12", NULL},
        {"pkcs12_password", " spaces and \xd0\x96 are part of a password ", NULL},
        {"pkcs12_file", "", NULL},
        {"pkcs12_password", "", NULL},
    };
    for (size_t i = 0; i < sizeof good_values / sizeof good_values[0]; i++) {
        poison(&error, sizeof error);
        status = esbyt_config_set(config, good_values[i].name, good_values[i].value, &error);
        check_success(status, &error);
        finish_case("esbyt_config_set accepts %s \"%s\"", good_values[i].name,
                    good_values[i].value);
    }

    static const char *const file_settings[] = {
        "journal_file",        "pkcs12_file",   "pkcs12_password", "client_cert_file",
        "client_key_file",     "client_key_password", "extra_ca_file", "log_file"};
    for (size_t i = 0; i < sizeof file_settings / sizeof file_settings[0]; i++) {
        poison(&error, sizeof error);
        status = esbyt_config_set(config, file_settings[i], "/tmp/\xff\xfe", &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "value is not valid UTF-8");
        finish_case("esbyt_config_set rejects an invalid UTF-8 %s", file_settings[i]);

        poison(&error, sizeof error);
        status = esbyt_config_set(config, file_settings[i], overlong, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "value is longer than");
        finish_case("esbyt_config_set rejects a 100 KiB %s", file_settings[i]);
    }

    /* A value of 15000 two-byte characters is under the 32 KiB limit, and the library
     * quotes it in the message, which must then be cut on a character boundary. */
    size_t long_value_size = 15000 * 2 + 1;
    char *long_value = malloc(long_value_size);
    CHECK(long_value != NULL, "malloc failed");
    if (long_value != NULL) {
        for (size_t i = 0; i + 1 < long_value_size; i += 2) {
            long_value[i] = (char)0xD0; /* U+0416 CYRILLIC CAPITAL LETTER ZHE */
            long_value[i + 1] = (char)0x96;
        }
        long_value[long_value_size - 1] = '\0';
        poison(&error, sizeof error);
        status = esbyt_config_set(config, "supplier", long_value, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "supplier");
        CHECK(error.message_length > ESBYT_MESSAGE_SIZE, "error.message_length is %" PRId32,
              error.message_length);
        CHECK(strlen(error.message) >= ESBYT_MESSAGE_SIZE - 4,
              "the truncated message has only %zu bytes", strlen(error.message));
        free(long_value);
    }
    finish_case("esbyt_config_set truncates a long message on a UTF-8 character boundary");

    esbyt_config_free(config);
}

/* A configuration that esbyt_client_new must reject with ESBYT_CONFIG: allow_http set, the
 * url, and up to two more settings (a NULL name for none). */
struct bad_config {
    const char *description;
    const char *url; /* NULL for base_url */
    const char *name;
    const char *value;
    const char *second_name;
    const char *second_value;
    const char *mention;
};

/* An HTTPS URL on a port where nothing listens. No case connects to it: each fails before. */
#define HTTPS_URL "https://127.0.0.1:1/"

static void check_client_config_error(const struct bad_config *bad, const char *url)
{
    int not_a_handle = 0;
    esbyt_error error;
    /* A NULL name ends the list of settings early. */
    esbyt_config *config = new_config("url", url, "allow_http", "1", bad->name, bad->value,
                                      bad->second_name, bad->second_value, (const char *)NULL);
    CHECK(config != NULL, "failed to create the configuration");
    if (config != NULL) {
        esbyt_client *client = (esbyt_client *)&not_a_handle;
        poison(&error, sizeof error);
        int32_t status = esbyt_client_new(config, &client, &error);
        check_failure(status, ESBYT_CONFIG, &error, bad->mention);
        CHECK(client == NULL, "*client_out is not NULL after a failure");
        if (status == ESBYT_OK)
            esbyt_client_free(client);
        esbyt_config_free(config);
    }
    finish_case("esbyt_client_new returns ESBYT_CONFIG for %s", bad->description);
}

/* Writes size bytes of content to path. Returns 1 on success. */
static int write_file(const char *path, const char *content, size_t size)
{
    FILE *file = fopen(path, "wb");
    if (file == NULL)
        return 0;
    size_t written = fwrite(content, 1, size, file);
    return fclose(file) == 0 && written == size;
}

static void join_path(char *target, const char *directory, const char *name)
{
    snprintf(target, PATH_SIZE, "%s/%s", directory, name);
}

/* esbyt_client_new with files that exist but are unusable: a directory, an empty file,
 * text that is no PKCS#12 or PEM, and a path longer than PATH_MAX. */
static void test_client_new_files(const char *base_url, const char *scratch_dir)
{
    char garbage_path[PATH_SIZE];
    char empty_path[PATH_SIZE];
    static const char garbage[] = "this is neither PKCS#12 nor PEM\n";

    join_path(garbage_path, scratch_dir, "garbage.bin");
    join_path(empty_path, scratch_dir, "empty.bin");
    int files_written = write_file(garbage_path, garbage, strlen(garbage))
                        && write_file(empty_path, "", 0);
    CHECK(files_written, "failed to write %s and %s", garbage_path, empty_path);
    finish_case("files for the esbyt_client_new cases are written");
    if (!files_written)
        return;

    const struct bad_config bad_configs[] = {
        {"pkcs12_file that is a directory", HTTPS_URL, "pkcs12_file", scratch_dir,
         "pkcs12_password", "esbyt-test", "pkcs12_file"},
        {"pkcs12_file that is not PKCS#12", HTTPS_URL, "pkcs12_file", garbage_path,
         "pkcs12_password", "esbyt-test", "pkcs12_file"},
        {"empty pkcs12_file", HTTPS_URL, "pkcs12_file", empty_path, "pkcs12_password",
         "esbyt-test", "pkcs12_file"},
        {"client_cert_file without a certificate", HTTPS_URL, "client_cert_file", garbage_path,
         NULL, NULL, "client_cert_file"},
        {"extra_ca_file without a certificate", HTTPS_URL, "extra_ca_file", garbage_path, NULL,
         NULL, "extra_ca_file"},
        {"extra_ca_file that is a directory", HTTPS_URL, "extra_ca_file", scratch_dir, NULL,
         NULL, "extra_ca_file"},
        {"journal_file that is a directory", NULL, "journal_file", scratch_dir, NULL, NULL,
         "journal"},
        {"log_file that is a directory", NULL, "log_file", scratch_dir, NULL, NULL, "log_file"},
    };
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        const struct bad_config *bad = &bad_configs[i];
        check_client_config_error(bad, bad->url != NULL ? bad->url : base_url);
    }

    size_t directory_length = strlen(scratch_dir);
    char *long_path = malloc(directory_length + 1 + LONG_PATH_NAME_SIZE + 1);
    CHECK(long_path != NULL, "malloc failed");
    if (long_path != NULL) {
        memcpy(long_path, scratch_dir, directory_length);
        long_path[directory_length] = '/';
        memset(long_path + directory_length + 1, 'j', LONG_PATH_NAME_SIZE);
        long_path[directory_length + 1 + LONG_PATH_NAME_SIZE] = '\0';
        const struct bad_config long_journal = {
            "journal_file longer than PATH_MAX", NULL, "journal_file", long_path, NULL, NULL,
            "journal"};
        check_client_config_error(&long_journal, base_url);
        free(long_path);
    }
}

static void test_client_new(const char *base_url)
{
    esbyt_error error;
    esbyt_client *client;
    int not_a_handle = 0;
    int32_t status;

    esbyt_config *config = new_config("url", base_url, "allow_http", "1", (const char *)NULL);
    CHECK(config != NULL, "failed to create the configuration");
    finish_case("configuration for esbyt_client_new is created");
    if (config == NULL)
        return;

    poison(&error, sizeof error);
    status = esbyt_client_new(config, NULL, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client_out");
    finish_case("esbyt_client_new rejects a NULL client_out");

    client = (esbyt_client *)&not_a_handle;
    poison(&error, sizeof error);
    status = esbyt_client_new(NULL, &client, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "config");
    CHECK(client == NULL, "*client_out is not NULL after a failure");
    finish_case("esbyt_client_new rejects a NULL config and sets *client_out to NULL");

    client = (esbyt_client *)&not_a_handle;
    poison(&error, sizeof error);
    status = esbyt_client_new((const esbyt_config *)&not_a_handle, &client, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "config");
    CHECK(client == NULL, "*client_out is not NULL after a failure");
    finish_case("esbyt_client_new rejects a never-created config");

    client = NULL;
    status = esbyt_client_new(NULL, &client, NULL);
    CHECK(status == ESBYT_INVALID_ARGUMENT, "returned %s", esbyt_status_name(status));
    finish_case("esbyt_client_new accepts a NULL error record");

    /* A value that fails to set must leave allow_http at 1, or the client below fails. */
    poison(&error, sizeof error);
    status = esbyt_config_set(config, "allow_http", "maybe", &error);
    CHECK(status == ESBYT_INVALID_ARGUMENT, "setting allow_http to maybe returned %s",
          esbyt_status_name(status));
    client = NULL;
    poison(&error, sizeof error);
    status = esbyt_client_new(config, &client, &error);
    check_success(status, &error);
    CHECK(client != NULL, "*client_out is NULL after success");
    CHECK(esbyt_client_free(client) == ESBYT_OK, "esbyt_client_free failed");
    finish_case("a rejected setting value leaves the previous value");
    esbyt_config_free(config);

    config = esbyt_config_new();
    client = (esbyt_client *)&not_a_handle;
    poison(&error, sizeof error);
    status = esbyt_client_new(config, &client, &error);
    check_failure(status, ESBYT_CONFIG, &error, "url is not set");
    CHECK(client == NULL, "*client_out is not NULL after a failure");
    esbyt_config_free(config);
    finish_case("esbyt_client_new returns ESBYT_CONFIG for a config without url");

    static const struct bad_config bad_configs[] = {
        {"empty url", "", NULL, NULL, NULL, NULL, "url is not set"},
        {"url without scheme", "127.0.0.1:8808/bonus/", NULL, NULL, NULL, NULL, "url"},
        {"ftp url", "ftp://127.0.0.1/", NULL, NULL, NULL, NULL, "url"},
        {"url without host", "http:///bonus/", NULL, NULL, NULL, NULL, "url"},
        {"url with a fragment", "http://127.0.0.1:1/#x", NULL, NULL, NULL, NULL, "url"},
        {"url with CR LF", "http://127.0.0.1:1/\r\nHost: x", NULL, NULL, NULL, NULL, "url"},
        {"url with an inner space", "http://127.0.0.1:1/bo nus/", NULL, NULL, NULL, NULL, "url"},
        {"https proxy", NULL, "proxy", "https://127.0.0.1:1", NULL, NULL, "proxy"},
        {"socks5 proxy", NULL, "proxy", "socks5://127.0.0.1:1", NULL, NULL, "proxy"},
        {"unreadable extra_ca_file", NULL, "extra_ca_file", "/nonexistent-esbyt-test/ca.pem", NULL,
         NULL, "extra_ca_file"},
        {"missing pkcs12_file", HTTPS_URL, "pkcs12_file", "/nonexistent-esbyt-test/partner.p12",
         "pkcs12_password", "esbyt-test", "pkcs12_file"},
        {"missing pkcs12_file without a password", HTTPS_URL, "pkcs12_file",
         "/nonexistent-esbyt-test/partner.p12", NULL, NULL, "pkcs12_file"},
        {"missing client_cert_file", HTTPS_URL, "client_cert_file",
         "/nonexistent-esbyt-test/client.pem", NULL, NULL, "client_cert_file"},
        {"client_key_file without client_cert_file", HTTPS_URL, "client_key_file",
         "/nonexistent-esbyt-test/client.key", NULL, NULL, "client_cert_file"},
        {"both pkcs12_file and client_cert_file", HTTPS_URL, "pkcs12_file",
         "/nonexistent-esbyt-test/partner.p12", "client_cert_file",
         "/nonexistent-esbyt-test/client.pem", "pkcs12_file"},
        {"journal_file in a missing directory", NULL, "journal_file",
         "/nonexistent-esbyt-test/spends.journal", NULL, NULL, "journal"},
        {"log_file in a missing directory", NULL, "log_file", "/nonexistent-esbyt-test/esbyt.log",
         NULL, NULL, "log_file"},
    };
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        const struct bad_config *bad = &bad_configs[i];
        check_client_config_error(bad, bad->url != NULL ? bad->url : base_url);
    }

    config = new_config("url", base_url, (const char *)NULL);
    client = (esbyt_client *)&not_a_handle;
    poison(&error, sizeof error);
    status = esbyt_client_new(config, &client, &error);
    check_failure(status, ESBYT_CONFIG, &error, "allow_http");
    CHECK(client == NULL, "*client_out is not NULL after a failure");
    esbyt_config_free(config);
    finish_case("esbyt_client_new rejects http:// without allow_http");
}

static void test_config_free(void)
{
    int not_a_handle = 0;
    esbyt_error error;

    CHECK(esbyt_config_free(NULL) == ESBYT_OK, "esbyt_config_free(NULL) is not ESBYT_OK");
    finish_case("esbyt_config_free ignores NULL");

    CHECK(esbyt_config_free((esbyt_config *)&not_a_handle) == ESBYT_INVALID_ARGUMENT,
          "esbyt_config_free of a never-created handle is not ESBYT_INVALID_ARGUMENT");
    finish_case("esbyt_config_free rejects a never-created config");

    esbyt_config *config = esbyt_config_new();
    CHECK(esbyt_config_free(config) == ESBYT_OK, "the first esbyt_config_free failed");
    finish_case("esbyt_config_free frees a configuration");

    /* A configuration created after the free must not inherit the freed handle,
     * or a stale handle would reach, and free, the newer object. */
    esbyt_config *newer = esbyt_config_new();
    CHECK(newer != NULL, "esbyt_config_new returned NULL");
    CHECK(newer != config, "a new configuration reuses the freed handle");
    finish_case("esbyt_config_new never reissues a freed handle");

    poison(&error, sizeof error);
    int32_t status = esbyt_config_set(config, "supplier", TEST_SUPPLIER, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "already freed");
    finish_case("esbyt_config_set rejects a freed config");

    esbyt_client *client = NULL;
    poison(&error, sizeof error);
    status = esbyt_client_new(config, &client, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "config");
    CHECK(client == NULL, "*client_out is not NULL after a failure");
    finish_case("esbyt_client_new rejects a freed config");

    CHECK(esbyt_config_free(config) == ESBYT_INVALID_ARGUMENT,
          "the second esbyt_config_free is not ESBYT_INVALID_ARGUMENT");
    finish_case("esbyt_config_free detects a double free");

    poison(&error, sizeof error);
    status = esbyt_config_set(newer, "supplier", TEST_SUPPLIER, &error);
    CHECK(status == ESBYT_OK, "the double free of a stale handle broke a live configuration");
    CHECK(esbyt_config_free(newer) == ESBYT_OK, "esbyt_config_free of the newer config failed");
    finish_case("a double free leaves the newer configuration alive");
}

struct text_case {
    const char *label;
    const char *value;
};

/* Ids that must be rejected before anything is sent. The string literals are split where
 * a hex escape is followed by a digit, which would otherwise extend the escape. */
static const struct text_case BAD_BONUS_IDS[] = {
    {"empty", ""},
    {"spaces only", "   "},
    {"CR LF only", "\r\n"},
    {"14 digits", "27000096012051"},
    {"letter O for a zero", "27000096O1205"},
    {"letters", "abc"},
    {"minus sign", "-2700009601205"},
    {"plus sign", "+2700009601205"},
    {"inner space", "2700 009601205"},
    {"trailing control character", "2700009601205\x01"},
    {"invalid UTF-8 byte", "2700\xff" "009601205"},
    {"lone continuation byte", "\x80"},
    {"overlong UTF-8 form of 0", "\xc0\xb0"},
    {"Arabic-Indic digits", "\xd9\xa1\xd9\xa2\xd9\xa3"},
    {"fullwidth digits", "\xef\xbc\x92\xef\xbc\x97"},
};

static void test_check_bonus(const esbyt_client *client, const char *overlong)
{
    esbyt_balance balance;
    esbyt_error error;
    int not_a_handle = 0;
    int32_t status;

    poison(&balance, sizeof balance);
    poison(&error, sizeof error);
    status = esbyt_check_bonus(client, TEST_CARD, &balance, &error);
    check_success(status, &error);
    CHECK(balance.amount == TEST_BALANCE, "balance is %" PRId64, balance.amount);
    CHECK(memchr(balance.account, 0, ESBYT_TEXT_SIZE) != NULL
              && strcmp(balance.account, TEST_ACCOUNT) == 0,
          "account is not " TEST_ACCOUNT);
    CHECK(memchr(balance.bonus_id, 0, ESBYT_TEXT_SIZE) != NULL
              && strcmp(balance.bonus_id, TEST_CARD) == 0,
          "bonus_id is not " TEST_CARD);
    finish_case("esbyt_check_bonus of " TEST_CARD " returns ESBYT_OK and balance 500");

    poison(&balance, sizeof balance);
    status = esbyt_check_bonus(client, " " TEST_CARD "\r\n", &balance, NULL);
    CHECK(status == ESBYT_OK, "returned %s", esbyt_status_name(status));
    CHECK(balance.amount == TEST_BALANCE, "balance is %" PRId64, balance.amount);
    finish_case("esbyt_check_bonus trims whitespace and accepts a NULL error record");

    poison(&balance, sizeof balance);
    poison(&error, sizeof error);
    status = esbyt_check_bonus(NULL, TEST_CARD, &balance, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
    CHECK(is_zeroed(&balance, sizeof balance), "balance is not zeroed");
    finish_case("esbyt_check_bonus rejects a NULL client");

    poison(&balance, sizeof balance);
    poison(&error, sizeof error);
    status = esbyt_check_bonus((const esbyt_client *)&not_a_handle, TEST_CARD, &balance, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
    CHECK(is_zeroed(&balance, sizeof balance), "balance is not zeroed");
    finish_case("esbyt_check_bonus rejects a never-created client");

    poison(&balance, sizeof balance);
    poison(&error, sizeof error);
    status = esbyt_check_bonus(client, NULL, &balance, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id");
    CHECK(is_zeroed(&balance, sizeof balance), "balance is not zeroed");
    finish_case("esbyt_check_bonus rejects a NULL bonus_id");

    poison(&error, sizeof error);
    status = esbyt_check_bonus(client, TEST_CARD, NULL, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "balance");
    finish_case("esbyt_check_bonus rejects a NULL balance");

    poison(&balance, sizeof balance);
    status = esbyt_check_bonus(NULL, TEST_CARD, &balance, NULL);
    CHECK(status == ESBYT_INVALID_ARGUMENT, "returned %s", esbyt_status_name(status));
    CHECK(is_zeroed(&balance, sizeof balance), "balance is not zeroed");
    finish_case("esbyt_check_bonus fails without an error record");

    memset(&error, 0, sizeof error);
    poison(&balance, sizeof balance);
    status = esbyt_check_bonus(client, "abc", &balance, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id");
    finish_case("esbyt_check_bonus fills a zero-filled error record");

    for (size_t i = 0; i < sizeof BAD_BONUS_IDS / sizeof BAD_BONUS_IDS[0]; i++) {
        poison(&balance, sizeof balance);
        poison(&error, sizeof error);
        status = esbyt_check_bonus(client, BAD_BONUS_IDS[i].value, &balance, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id");
        CHECK(is_zeroed(&balance, sizeof balance), "balance is not zeroed");
        finish_case("esbyt_check_bonus rejects bonus_id: %s", BAD_BONUS_IDS[i].label);
    }

    poison(&balance, sizeof balance);
    poison(&error, sizeof error);
    status = esbyt_check_bonus(client, overlong, &balance, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id");
    CHECK(is_zeroed(&balance, sizeof balance), "balance is not zeroed");
    finish_case("esbyt_check_bonus rejects a 100 KiB bonus_id");

    char *unterminated = malloc(MAX_BONUS_ID_BYTES + 1);
    CHECK(unterminated != NULL, "malloc failed");
    if (unterminated != NULL) {
        memset(unterminated, '1', MAX_BONUS_ID_BYTES + 1);
        poison(&balance, sizeof balance);
        poison(&error, sizeof error);
        status = esbyt_check_bonus(client, unterminated, &balance, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id is longer than");
        CHECK(is_zeroed(&balance, sizeof balance), "balance is not zeroed");
        free(unterminated);
    }
    finish_case("esbyt_check_bonus reads no further than 257 bytes of an unterminated bonus_id");

    memset(&balance, 0, sizeof balance);
    memset(&error, 0, sizeof error);
    status = esbyt_check_bonus(client, TEST_CARD, &balance, &error);
    check_success(status, &error);
    CHECK(balance.amount == TEST_BALANCE, "balance is %" PRId64, balance.amount);
    finish_case("esbyt_check_bonus fills a zero-filled balance");

    /* A host that packs records (C# Pack = 1, a byte buffer) passes odd addresses. */
    unsigned char balance_bytes[sizeof(esbyt_balance) + 1];
    unsigned char error_bytes[sizeof(esbyt_error) + 1];
    poison(balance_bytes, sizeof balance_bytes);
    poison(error_bytes, sizeof error_bytes);
    status = esbyt_check_bonus(client, TEST_CARD, (esbyt_balance *)(void *)(balance_bytes + 1),
                               (esbyt_error *)(void *)(error_bytes + 1));
    memcpy(&balance, balance_bytes + 1, sizeof balance);
    memcpy(&error, error_bytes + 1, sizeof error);
    check_success(status, &error);
    CHECK(balance.amount == TEST_BALANCE, "balance is %" PRId64, balance.amount);
    CHECK(balance_bytes[0] == POISON, "the byte before the balance was overwritten");
    CHECK(error_bytes[0] == POISON, "the byte before the error record was overwritten");
    finish_case("esbyt_check_bonus fills records at odd addresses");

    poison(balance_bytes, sizeof balance_bytes);
    poison(error_bytes, sizeof error_bytes);
    status = esbyt_check_bonus(client, "abc", (esbyt_balance *)(void *)(balance_bytes + 1),
                               (esbyt_error *)(void *)(error_bytes + 1));
    memcpy(&balance, balance_bytes + 1, sizeof balance);
    memcpy(&error, error_bytes + 1, sizeof error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id");
    CHECK(is_zeroed(&balance, sizeof balance), "balance is not zeroed");
    finish_case("esbyt_check_bonus fills an error record at an odd address");
}

static void test_spend_bonus(const esbyt_client *client, const esbyt_client *no_supplier_client,
                             const char *overlong)
{
    esbyt_write_off write_off;
    esbyt_error error;
    int not_a_handle = 0;
    int32_t status;

    poison(&write_off, sizeof write_off);
    poison(&error, sizeof error);
    status = esbyt_spend_bonus(NULL, TEST_CARD, 10, &write_off, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    finish_case("esbyt_spend_bonus rejects a NULL client");

    poison(&write_off, sizeof write_off);
    poison(&error, sizeof error);
    status = esbyt_spend_bonus((const esbyt_client *)&not_a_handle, TEST_CARD, 10, &write_off,
                               &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    finish_case("esbyt_spend_bonus rejects a never-created client");

    poison(&write_off, sizeof write_off);
    poison(&error, sizeof error);
    status = esbyt_spend_bonus(client, NULL, 10, &write_off, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id");
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    finish_case("esbyt_spend_bonus rejects a NULL bonus_id");

    poison(&error, sizeof error);
    status = esbyt_spend_bonus(client, TEST_CARD, 10, NULL, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "write_off");
    finish_case("esbyt_spend_bonus rejects a NULL write_off");

    poison(&write_off, sizeof write_off);
    status = esbyt_spend_bonus(client, TEST_CARD, 0, &write_off, NULL);
    CHECK(status == ESBYT_INVALID_ARGUMENT, "returned %s", esbyt_status_name(status));
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    finish_case("esbyt_spend_bonus fails without an error record");

    memset(&error, 0, sizeof error);
    poison(&write_off, sizeof write_off);
    status = esbyt_spend_bonus(client, TEST_CARD, -1, &write_off, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "amount");
    finish_case("esbyt_spend_bonus fills a zero-filled error record");

    for (size_t i = 0; i < sizeof BAD_BONUS_IDS / sizeof BAD_BONUS_IDS[0]; i++) {
        poison(&write_off, sizeof write_off);
        poison(&error, sizeof error);
        status = esbyt_spend_bonus(client, BAD_BONUS_IDS[i].value, 10, &write_off, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id");
        CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
        finish_case("esbyt_spend_bonus rejects bonus_id: %s", BAD_BONUS_IDS[i].label);
    }

    poison(&write_off, sizeof write_off);
    poison(&error, sizeof error);
    status = esbyt_spend_bonus(client, overlong, 10, &write_off, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id");
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    finish_case("esbyt_spend_bonus rejects a 100 KiB bonus_id");

    char *unterminated = malloc(MAX_BONUS_ID_BYTES + 1);
    CHECK(unterminated != NULL, "malloc failed");
    if (unterminated != NULL) {
        memset(unterminated, '1', MAX_BONUS_ID_BYTES + 1);
        poison(&write_off, sizeof write_off);
        poison(&error, sizeof error);
        status = esbyt_spend_bonus(client, unterminated, 10, &write_off, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id is longer than");
        CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
        free(unterminated);
    }
    finish_case("esbyt_spend_bonus reads no further than 257 bytes of an unterminated bonus_id");

    memset(&write_off, 0, sizeof write_off);
    memset(&error, 0, sizeof error);
    status = esbyt_spend_bonus(client, TEST_CARD, INT64_MIN, &write_off, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "amount");
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    finish_case("esbyt_spend_bonus leaves a zero-filled write_off zeroed on failure");

    const int64_t bad_amounts[] = {0, -1, INT64_MIN, INT64_C(2147483648), INT64_MAX};
    for (size_t i = 0; i < sizeof bad_amounts / sizeof bad_amounts[0]; i++) {
        poison(&write_off, sizeof write_off);
        poison(&error, sizeof error);
        status = esbyt_spend_bonus(client, TEST_CARD, bad_amounts[i], &write_off, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "amount");
        CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
        finish_case("esbyt_spend_bonus rejects amount %" PRId64, bad_amounts[i]);
    }

    poison(&write_off, sizeof write_off);
    poison(&error, sizeof error);
    status = esbyt_spend_bonus(no_supplier_client, TEST_CARD, 10, &write_off, &error);
    check_failure(status, ESBYT_CONFIG, &error, "supplier");
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    finish_case("esbyt_spend_bonus without a supplier returns ESBYT_CONFIG");
}

/* Creates a client with a spend journal for url, or returns NULL. */
static esbyt_client *new_journal_client(const char *url, const char *supplier,
                                        const char *journal_file)
{
    esbyt_config *config = new_config("url", url, "allow_http", "1", "supplier", supplier,
                                      "journal_file", journal_file, (const char *)NULL);
    esbyt_client *client = NULL;
    esbyt_error error;
    if (config == NULL)
        return NULL;
    if (esbyt_client_new(config, &client, &error) != ESBYT_OK)
        fprintf(stderr, "# esbyt_client_new with journal_file failed: %s\n", error.message);
    esbyt_config_free(config);
    return client;
}

/* Returns the number of pending attempts, or -1 when the call fails. */
static int32_t pending_count(const esbyt_client *client)
{
    int32_t count = -1;
    if (esbyt_journal_pending(client, NULL, 0, &count, NULL) != ESBYT_OK)
        return -1;
    return count;
}

/* Returns whether a text field is NUL-terminated and non-empty. */
static int is_filled_text(const char *field)
{
    return memchr(field, 0, ESBYT_TEXT_SIZE) != NULL && field[0] != '\0';
}

/* Returns whether an attempt id has the documented form MILLISECONDS-PID-SEQUENCE. */
static int is_attempt_id(const char *attempt_id)
{
    int parts = 1;
    int digits = 0;
    if (memchr(attempt_id, 0, ESBYT_TEXT_SIZE) == NULL)
        return 0;
    for (const char *c = attempt_id; *c != '\0'; c++) {
        if (*c == '-' && digits > 0) {
            parts++;
            digits = 0;
        } else if (*c >= '0' && *c <= '9') {
            digits++;
        } else {
            return 0;
        }
    }
    return parts == 3 && digits > 0;
}

/* Checks one record filled by esbyt_journal_pending against the prepared journal. */
static void check_pending_record(const esbyt_pending_spend *record, int32_t state,
                                 int32_t cause, int64_t amount)
{
    CHECK(record->state == state, "state is %" PRId32 ", expected %" PRId32, record->state,
          state);
    CHECK(record->cause == cause, "cause is %" PRId32 ", expected %" PRId32, record->cause,
          cause);
    CHECK(record->amount == amount, "amount is %" PRId64 ", expected %" PRId64,
          record->amount, amount);
    CHECK(record->supplier == 1111, "supplier is %" PRId64, record->supplier);
    CHECK(record->time_ms > 0, "time_ms is %" PRId64, record->time_ms);
    CHECK(is_attempt_id(record->attempt_id), "attempt_id is not MILLISECONDS-PID-SEQUENCE");
    CHECK(is_filled_text(record->bonus_id), "bonus_id is empty or not NUL-terminated");
    CHECK(!is_filled_text(record->bonus_id) || strcmp(record->bonus_id, TEST_CARD) == 0,
          "bonus_id is not " TEST_CARD);
}

/* esbyt_journal_pending with every kind of bad argument, against a client whose journal
 * contains the two prepared pending attempts. Leaves both attempts pending. */
static void test_journal_pending(const esbyt_client *journal_client,
                                 const esbyt_client *no_journal_client)
{
    esbyt_pending_spend records[8];
    esbyt_error error;
    int32_t count;
    int not_a_handle = 0;
    int32_t status;

    poison(&error, sizeof error);
    status = esbyt_journal_pending(journal_client, records, 8, NULL, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "count");
    finish_case("esbyt_journal_pending rejects a NULL count");

    const int32_t positive_capacities[] = {1, 8, INT32_MAX};
    for (size_t i = 0; i < sizeof positive_capacities / sizeof positive_capacities[0]; i++) {
        poison(&error, sizeof error);
        status = esbyt_journal_pending(journal_client, NULL, positive_capacities[i], &count,
                                       &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "pending");
        finish_case("esbyt_journal_pending rejects a NULL pending with capacity %" PRId32,
                    positive_capacities[i]);
    }

    const int32_t negative_capacities[] = {-1, INT32_MIN};
    for (size_t i = 0; i < sizeof negative_capacities / sizeof negative_capacities[0]; i++) {
        poison(records, sizeof records);
        poison(&error, sizeof error);
        status = esbyt_journal_pending(journal_client, records, negative_capacities[i], &count,
                                       &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "capacity");
        CHECK(((unsigned char *)records)[0] == POISON, "a record was written");
        finish_case("esbyt_journal_pending rejects capacity %" PRId32, negative_capacities[i]);

        poison(&error, sizeof error);
        status = esbyt_journal_pending(journal_client, NULL, negative_capacities[i], &count,
                                       &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "capacity");
        finish_case("esbyt_journal_pending rejects capacity %" PRId32 " with a NULL pending",
                    negative_capacities[i]);
    }

    count = -1;
    poison(&error, sizeof error);
    status = esbyt_journal_pending(journal_client, NULL, 0, &count, &error);
    check_success(status, &error);
    CHECK(count == PENDING_COUNT, "count is %" PRId32 ", expected %d", count, PENDING_COUNT);
    finish_case("esbyt_journal_pending with capacity 0 and a NULL pending returns the count");

    count = -1;
    poison(records, sizeof records);
    status = esbyt_journal_pending(journal_client, records, 0, &count, NULL);
    CHECK(status == ESBYT_OK, "returned %s", esbyt_status_name(status));
    CHECK(count == PENDING_COUNT, "count is %" PRId32, count);
    CHECK(((unsigned char *)records)[0] == POISON, "a record was written with capacity 0");
    finish_case("esbyt_journal_pending with capacity 0 writes no record and accepts a NULL "
                "error record");

    /* Capacity 1 with a second record behind it: the library may write only the first. */
    count = -1;
    poison(records, sizeof records);
    poison(&error, sizeof error);
    status = esbyt_journal_pending(journal_client, records, 1, &count, &error);
    check_success(status, &error);
    CHECK(count == PENDING_COUNT, "count is %" PRId32 ", expected %d", count, PENDING_COUNT);
    check_pending_record(&records[0], ESBYT_PENDING_NO_OUTCOME, 0, PENDING_NO_OUTCOME_AMOUNT);
    CHECK(((unsigned char *)&records[1])[0] == POISON, "the record past capacity was written");
    finish_case("esbyt_journal_pending with capacity 1 fills one record and returns the count");

    count = -1;
    memset(records, 0, sizeof records);
    memset(&error, 0, sizeof error);
    status = esbyt_journal_pending(journal_client, records, 8, &count, &error);
    check_success(status, &error);
    CHECK(count == PENDING_COUNT, "count is %" PRId32 ", expected %d", count, PENDING_COUNT);
    check_pending_record(&records[0], ESBYT_PENDING_NO_OUTCOME, 0, PENDING_NO_OUTCOME_AMOUNT);
    check_pending_record(&records[1], ESBYT_PENDING_OUTCOME_UNKNOWN, ESBYT_TIMEOUT,
                         PENDING_UNKNOWN_AMOUNT);
    CHECK(strcmp(records[0].attempt_id, records[1].attempt_id) != 0,
          "both records have attempt_id %s", records[0].attempt_id);
    CHECK(is_zeroed(&records[2], sizeof records - 2 * sizeof records[0]),
          "records past the count were written");
    finish_case("esbyt_journal_pending fills zero-filled records oldest first");

    unsigned char record_bytes[2 * sizeof(esbyt_pending_spend) + 1];
    unsigned char count_bytes[sizeof(int32_t) + 1];
    poison(record_bytes, sizeof record_bytes);
    poison(count_bytes, sizeof count_bytes);
    status = esbyt_journal_pending(journal_client,
                                   (esbyt_pending_spend *)(void *)(record_bytes + 1), 2,
                                   (int32_t *)(void *)(count_bytes + 1), NULL);
    memcpy(&count, count_bytes + 1, sizeof count);
    memcpy(records, record_bytes + 1, 2 * sizeof records[0]);
    CHECK(status == ESBYT_OK, "returned %s", esbyt_status_name(status));
    CHECK(count == PENDING_COUNT, "count is %" PRId32, count);
    check_pending_record(&records[1], ESBYT_PENDING_OUTCOME_UNKNOWN, ESBYT_TIMEOUT,
                         PENDING_UNKNOWN_AMOUNT);
    finish_case("esbyt_journal_pending fills records and count at odd addresses");

    poison(&error, sizeof error);
    status = esbyt_journal_pending(NULL, records, 8, &count, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
    finish_case("esbyt_journal_pending rejects a NULL client");

    poison(&error, sizeof error);
    status = esbyt_journal_pending((const esbyt_client *)&not_a_handle, records, 8, &count,
                                   &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
    finish_case("esbyt_journal_pending rejects a never-created client");

    poison(&error, sizeof error);
    status = esbyt_journal_pending(no_journal_client, records, 8, &count, &error);
    check_failure(status, ESBYT_CONFIG, &error, "journal_file");
    finish_case("esbyt_journal_pending without journal_file returns ESBYT_CONFIG");

    poison(&error, sizeof error);
    status = esbyt_journal_pending(no_journal_client, NULL, 0, &count, &error);
    check_failure(status, ESBYT_CONFIG, &error, "journal_file");
    finish_case("esbyt_journal_pending without journal_file and with capacity 0 returns "
                "ESBYT_CONFIG");
}

/* Write-offs through a journal client whose partner code the emulator refuses. */
static void test_spend_attempt_id(const esbyt_client *journal_client)
{
    esbyt_write_off write_off;
    esbyt_error error;
    int32_t status;

    poison(&write_off, sizeof write_off);
    poison(&error, sizeof error);
    status = esbyt_spend_bonus(journal_client, TEST_CARD, 0, &write_off, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "amount");
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    CHECK(pending_count(journal_client) == PENDING_COUNT, "the pending count changed to %" PRId32,
          pending_count(journal_client));
    finish_case("esbyt_spend_bonus with a journal rejects amount 0 and records no attempt");

    poison(&write_off, sizeof write_off);
    poison(&error, sizeof error);
    status = esbyt_spend_bonus(journal_client, "27000096O1205", 10, &write_off, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "bonus_id");
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    finish_case("esbyt_spend_bonus with a journal rejects a bad bonus_id with an empty "
                "attempt_id");

    poison(&write_off, sizeof write_off);
    poison(&error, sizeof error);
    status = esbyt_spend_bonus(journal_client, TEST_CARD, 10, &write_off, &error);
    CHECK(status == ESBYT_SERVER, "returned %s, expected ESBYT_SERVER",
          esbyt_status_name(status));
    check_record_basics(&error, status);
    CHECK(error.server_code == REFUSED_SUPPLIER_CODE, "error.server_code is %" PRId64,
          error.server_code);
    CHECK(error.cause == 0, "error.cause is %" PRId32, error.cause);
    CHECK(write_off.spend_id[0] == '\0', "spend_id is not empty");
    CHECK(is_attempt_id(write_off.attempt_id), "attempt_id is not MILLISECONDS-PID-SEQUENCE");
    CHECK(pending_count(journal_client) == PENDING_COUNT,
          "a refused write-off changed the pending count to %" PRId32,
          pending_count(journal_client));
    finish_case("esbyt_spend_bonus refused by the server names its attempt_id and leaves it "
                "not pending");
}

/* esbyt_journal_resolve with every kind of bad argument, then resolving both prepared
 * attempts. */
static void test_journal_resolve(const esbyt_client *journal_client,
                                 const esbyt_client *no_journal_client, const char *overlong)
{
    esbyt_pending_spend records[PENDING_COUNT];
    esbyt_error error;
    int32_t count = -1;
    int not_a_handle = 0;
    int32_t status;

    memset(records, 0, sizeof records);
    status = esbyt_journal_pending(journal_client, records, PENDING_COUNT, &count, NULL);
    CHECK(status == ESBYT_OK, "esbyt_journal_pending returned %s", esbyt_status_name(status));
    CHECK(count == PENDING_COUNT, "count is %" PRId32 ", expected %d", count, PENDING_COUNT);
    finish_case("journal for the esbyt_journal_resolve cases has both pending attempts");
    if (status != ESBYT_OK || count != PENDING_COUNT)
        return;
    const char *first_id = records[0].attempt_id;
    const char *second_id = records[1].attempt_id;

    poison(&error, sizeof error);
    status = esbyt_journal_resolve(journal_client, NULL, "note", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "attempt_id");
    finish_case("esbyt_journal_resolve rejects a NULL attempt_id");

    struct text_case bad_ids[] = {
        {"empty", ""},
        {"unknown", "1-1-1"},
        {"invalid UTF-8", "1-\xff-1"},
        {"with a control character", "1\x01-1-1"},
        {NULL, NULL}, /* a known id followed by a tab and a forged record, set below */
        {NULL, NULL}, /* a known id with one digit more, set below */
    };
    char forged[2 * ESBYT_TEXT_SIZE];
    char extended[ESBYT_TEXT_SIZE + 1];
    snprintf(forged, sizeof forged, "%s\tR\t0\tforged", first_id);
    snprintf(extended, sizeof extended, "%s0", first_id);
    bad_ids[4].label = "a known id followed by a forged record";
    bad_ids[4].value = forged;
    bad_ids[5].label = "a known id with one more digit";
    bad_ids[5].value = extended;
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        poison(&error, sizeof error);
        status = esbyt_journal_resolve(journal_client, bad_ids[i].value, "note", &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "attempt_id");
        finish_case("esbyt_journal_resolve rejects attempt_id: %s", bad_ids[i].label);
    }

    poison(&error, sizeof error);
    status = esbyt_journal_resolve(journal_client, overlong, "note", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "attempt_id is longer than");
    finish_case("esbyt_journal_resolve rejects a 100 KiB attempt_id");

    char *unterminated = malloc(MAX_NOTE_BYTES + 1);
    CHECK(unterminated != NULL, "malloc failed");
    if (unterminated != NULL) {
        memset(unterminated, '1', MAX_NOTE_BYTES + 1);
        poison(&error, sizeof error);
        status = esbyt_journal_resolve(journal_client, unterminated, NULL, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "attempt_id is longer than");
        finish_case("esbyt_journal_resolve reads no further than 257 bytes of an unterminated "
                    "attempt_id");

        poison(&error, sizeof error);
        status = esbyt_journal_resolve(journal_client, first_id, unterminated, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "note is longer than");
        finish_case("esbyt_journal_resolve reads no further than 4097 bytes of an unterminated "
                    "note");
        free(unterminated);
    }

    poison(&error, sizeof error);
    status = esbyt_journal_resolve(journal_client, first_id, "checked \xff", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "note is not valid UTF-8");
    finish_case("esbyt_journal_resolve rejects an invalid UTF-8 note");

    poison(&error, sizeof error);
    status = esbyt_journal_resolve(journal_client, first_id, overlong, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "note is longer than");
    finish_case("esbyt_journal_resolve rejects a 100 KiB note");

    poison(&error, sizeof error);
    status = esbyt_journal_resolve(NULL, first_id, NULL, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
    finish_case("esbyt_journal_resolve rejects a NULL client");

    poison(&error, sizeof error);
    status = esbyt_journal_resolve((const esbyt_client *)&not_a_handle, first_id, NULL, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
    finish_case("esbyt_journal_resolve rejects a never-created client");

    poison(&error, sizeof error);
    status = esbyt_journal_resolve(no_journal_client, first_id, NULL, &error);
    check_failure(status, ESBYT_CONFIG, &error, "journal_file");
    finish_case("esbyt_journal_resolve without journal_file returns ESBYT_CONFIG");

    CHECK(pending_count(journal_client) == PENDING_COUNT,
          "a rejected call changed the pending count to %" PRId32, pending_count(journal_client));
    finish_case("esbyt_journal_resolve resolves nothing on a rejected call");

    poison(&error, sizeof error);
    status = esbyt_journal_resolve(journal_client, first_id, NULL, &error);
    check_success(status, &error);
    CHECK(pending_count(journal_client) == PENDING_COUNT - 1, "the pending count is %" PRId32,
          pending_count(journal_client));
    finish_case("esbyt_journal_resolve accepts a NULL note");

    poison(&error, sizeof error);
    status = esbyt_journal_resolve(journal_client, first_id, "again", &error);
    check_success(status, &error);
    finish_case("esbyt_journal_resolve of a resolved attempt returns ESBYT_OK");

    /* Characters that separate fields and records in the journal file must come back as
     * text, so the note can neither forge a record nor damage the journal. */
    poison(&error, sizeof error);
    status = esbyt_journal_resolve(journal_client, second_id,
                                   "tab\there\r\nR\t0\t1\tforged\\ \xd0\x96", NULL);
    CHECK(status == ESBYT_OK, "returned %s", esbyt_status_name(status));
    CHECK(pending_count(journal_client) == 0, "the pending count is %" PRId32,
          pending_count(journal_client));
    finish_case("esbyt_journal_resolve stores a note with tabs, line ends and backslashes");
}

/* A client whose journal directory disappears after creation must not send a write-off. */
static void test_vanished_journal(const char *base_url, const char *scratch_dir)
{
    char directory[PATH_SIZE];
    char journal[PATH_SIZE];
    esbyt_write_off write_off;
    esbyt_pending_spend record;
    esbyt_error error;
    int32_t count;
    int32_t status;

    join_path(directory, scratch_dir, "vanishing");
    join_path(journal, directory, "spends.journal");
    CHECK(mkdir(directory, 0700) == 0, "mkdir %s failed", directory);
    /* Partner code 1111: the emulator would execute a write-off that reached it. */
    esbyt_client *client = new_journal_client(base_url, TEST_SUPPLIER, journal);
    CHECK(client != NULL, "failed to create the client");
    CHECK(unlink(journal) == 0, "failed to remove %s", journal);
    CHECK(rmdir(directory) == 0, "failed to remove %s", directory);
    finish_case("client with a journal in a removed directory is created");
    if (client == NULL)
        return;

    poison(&write_off, sizeof write_off);
    poison(&error, sizeof error);
    status = esbyt_spend_bonus(client, TEST_CARD, 10, &write_off, &error);
    check_failure(status, ESBYT_CONFIG, &error, "journal");
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    finish_case("esbyt_spend_bonus with an unwritable journal returns ESBYT_CONFIG");

    poison(&error, sizeof error);
    status = esbyt_journal_pending(client, &record, 1, &count, &error);
    check_failure(status, ESBYT_CONFIG, &error, "journal");
    finish_case("esbyt_journal_pending with an unreadable journal returns ESBYT_CONFIG");

    poison(&error, sizeof error);
    status = esbyt_journal_resolve(client, "1-1-1", NULL, &error);
    check_failure(status, ESBYT_CONFIG, &error, "journal");
    finish_case("esbyt_journal_resolve with an unreadable journal returns ESBYT_CONFIG");

    CHECK(esbyt_client_free(client) == ESBYT_OK, "esbyt_client_free failed");
    finish_case("esbyt_client_free frees a client whose journal is gone");
}

/* A live handle of the wrong type, or a live handle off by a byte, is no handle. */
static void test_handle_confusion(const char *base_url)
{
    esbyt_balance balance;
    esbyt_error error;
    int32_t status;

    esbyt_config *config = new_config("url", base_url, "allow_http", "1", (const char *)NULL);
    esbyt_client *client = new_client(base_url, TEST_SUPPLIER);
    CHECK(config != NULL, "failed to create the configuration");
    CHECK(client != NULL, "failed to create the client");
    finish_case("configuration and client for the handle cases are created");
    if (config == NULL || client == NULL) {
        esbyt_config_free(config);
        esbyt_client_free(client);
        return;
    }

    poison(&balance, sizeof balance);
    poison(&error, sizeof error);
    status = esbyt_check_bonus((const esbyt_client *)config, TEST_CARD, &balance, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
    CHECK(is_zeroed(&balance, sizeof balance), "balance is not zeroed");
    finish_case("esbyt_check_bonus rejects a configuration handle as the client");

    poison(&error, sizeof error);
    status = esbyt_config_set((esbyt_config *)client, "supplier", TEST_SUPPLIER, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "config");
    finish_case("esbyt_config_set rejects a client handle as the configuration");

    esbyt_client *config_as_client = NULL;
    poison(&error, sizeof error);
    status = esbyt_client_new((const esbyt_config *)client, &config_as_client, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "config");
    CHECK(config_as_client == NULL, "*client_out is not NULL after a failure");
    finish_case("esbyt_client_new rejects a client handle as the configuration");

    CHECK(esbyt_client_free((esbyt_client *)config) == ESBYT_INVALID_ARGUMENT,
          "esbyt_client_free of a configuration is not ESBYT_INVALID_ARGUMENT");
    CHECK(esbyt_config_set(config, "supplier", TEST_SUPPLIER, NULL) == ESBYT_OK,
          "the configuration is no longer usable");
    finish_case("esbyt_client_free rejects a configuration handle and leaves it alive");

    CHECK(esbyt_config_free((esbyt_config *)client) == ESBYT_INVALID_ARGUMENT,
          "esbyt_config_free of a client is not ESBYT_INVALID_ARGUMENT");
    CHECK(esbyt_check_bonus(client, TEST_CARD, &balance, NULL) == ESBYT_OK,
          "the client is no longer usable");
    finish_case("esbyt_config_free rejects a client handle and leaves it alive");

    const uintptr_t offsets[] = {1, 8, (uintptr_t)-1};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        const esbyt_client *shifted = (const esbyt_client *)((uintptr_t)client + offsets[i]);
        int32_t count;
        poison(&error, sizeof error);
        status = esbyt_journal_pending(shifted, NULL, 0, &count, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
        finish_case("esbyt_journal_pending rejects a client handle shifted by %" PRIdPTR,
                    (intptr_t)offsets[i]);
    }

    const uintptr_t wild_handles[] = {16, UINTPTR_MAX, UINTPTR_MAX - 15};
    for (size_t i = 0; i < sizeof wild_handles / sizeof wild_handles[0]; i++) {
        poison(&error, sizeof error);
        status = esbyt_journal_resolve((const esbyt_client *)wild_handles[i], "1-1-1", NULL,
                                       &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "client");
        finish_case("esbyt_journal_resolve rejects the handle value %#" PRIxPTR,
                    wild_handles[i]);
    }

    esbyt_client *misaligned_out_client = NULL;
    unsigned char client_out_bytes[sizeof(esbyt_client *) + 1];
    poison(client_out_bytes, sizeof client_out_bytes);
    status = esbyt_client_new(config, (esbyt_client **)(void *)(client_out_bytes + 1), NULL);
    memcpy(&misaligned_out_client, client_out_bytes + 1, sizeof misaligned_out_client);
    CHECK(status == ESBYT_OK, "returned %s", esbyt_status_name(status));
    CHECK(esbyt_client_free(misaligned_out_client) == ESBYT_OK,
          "the client written to an odd address cannot be freed");
    finish_case("esbyt_client_new writes client_out at an odd address");

    esbyt_client_free(client);
    esbyt_config_free(config);
}

/* Writes a configuration file in the scratch directory and returns its path in target. */
static int write_config_file(char *target, const char *scratch_dir, const char *name,
                             const char *content, size_t size)
{
    join_path(target, scratch_dir, name);
    return write_file(target, content, size);
}

/* Writes text that repeats `unit` count times between a prefix and a suffix. */
static int write_repeated_file(char *target, const char *scratch_dir, const char *name,
                               const char *prefix, const char *unit, size_t count,
                               const char *suffix)
{
    join_path(target, scratch_dir, name);
    FILE *file = fopen(target, "wb");
    if (file == NULL)
        return 0;
    int written = fputs(prefix, file) >= 0;
    for (size_t i = 0; written && i < count; i++)
        written = fputs(unit, file) >= 0;
    written = written && fputs(suffix, file) >= 0;
    return fclose(file) == 0 && written;
}

struct config_file_case {
    const char *description;
    const char *name; /* file name in the scratch directory */
    const char *content;
    const char *mention;
};

static void test_config_load_file(const char *base_url, const char *scratch_dir,
                                  const char *overlong)
{
    char path[PATH_SIZE];
    esbyt_error error;
    int not_a_handle = 0;
    int32_t status;

    esbyt_config *config = esbyt_config_new();
    CHECK(config != NULL, "esbyt_config_new returned NULL");
    finish_case("configuration for the esbyt_config_load_file cases is created");
    if (config == NULL)
        return;

    char good_content[PATH_SIZE];
    snprintf(good_content, sizeof good_content,
             "url = \"%s\"\nallow_http = true\nsupplier = 1111\n", base_url);
    int good_written = write_config_file(path, scratch_dir, "good.toml", good_content,
                                         strlen(good_content));
    CHECK(good_written, "failed to write %s", path);
    finish_case("valid configuration file is written");

    poison(&error, sizeof error);
    status = esbyt_config_load_file(NULL, path, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "config");
    finish_case("esbyt_config_load_file rejects a NULL config");

    poison(&error, sizeof error);
    status = esbyt_config_load_file((esbyt_config *)&not_a_handle, path, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "config");
    finish_case("esbyt_config_load_file rejects a never-created config");

    esbyt_config *freed = esbyt_config_new();
    esbyt_config_free(freed);
    poison(&error, sizeof error);
    status = esbyt_config_load_file(freed, path, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "already freed");
    finish_case("esbyt_config_load_file rejects a freed config");

    poison(&error, sizeof error);
    status = esbyt_config_load_file(config, NULL, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "path");
    finish_case("esbyt_config_load_file rejects a NULL path");

    poison(&error, sizeof error);
    status = esbyt_config_load_file(config, "/tmp/\xff.toml", &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "path is not valid UTF-8");
    finish_case("esbyt_config_load_file rejects an invalid UTF-8 path");

    poison(&error, sizeof error);
    status = esbyt_config_load_file(config, overlong, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "path is longer than");
    finish_case("esbyt_config_load_file rejects a 100 KiB path");

    char *unterminated = malloc(MAX_VALUE_BYTES + 1);
    CHECK(unterminated != NULL, "malloc failed");
    if (unterminated != NULL) {
        memset(unterminated, 'a', MAX_VALUE_BYTES + 1);
        poison(&error, sizeof error);
        status = esbyt_config_load_file(config, unterminated, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "path is longer than");
        free(unterminated);
    }
    finish_case("esbyt_config_load_file reads no further than 32769 bytes of an unterminated "
                "path");

    const char *const unusable_paths[][2] = {
        {"a missing file", "/nonexistent-esbyt-test/esbyt.toml"},
        {"a directory", scratch_dir},
        {"/dev/zero", "/dev/zero"},
        {"an empty path", ""},
    };
    for (size_t i = 0; i < sizeof unusable_paths / sizeof unusable_paths[0]; i++) {
        poison(&error, sizeof error);
        status = esbyt_config_load_file(config, unusable_paths[i][1], &error);
        check_failure(status, ESBYT_CONFIG, &error, "configuration file");
        finish_case("esbyt_config_load_file returns ESBYT_CONFIG for %s", unusable_paths[i][0]);
    }

    static const struct config_file_case bad_files[] = {
        {"a syntax error", "syntax.toml", "url = \"http://127.0.0.1:1/\"\nthis is not TOML\n",
         "line 2"},
        {"an unknown setting", "unknown.toml", "no_such_setting = 1\n", "no_such_setting"},
        {"a supplier out of range", "supplier.toml", "supplier = 0\n", "supplier"},
        {"an integer out of range", "integer.toml", "timeout_ms = 99999999999999999999\n",
         "timeout_ms"},
        {"a table as a value", "table.toml", "url = { host = \"127.0.0.1\" }\n", "url"},
        {"a section", "section.toml", "[url]\nhost = \"127.0.0.1\"\n", "url"},
        {"invalid UTF-8", "latin1.toml", "url = \"http://127.0.0.1:1/\xe9\"\n", "UTF-8"},
        {"a bad fingerprint in an array", "fingerprints.toml",
         "server_cert_sha256 = [\"" SHA256_HEX "\", \"abc\"]\n", "server_cert_sha256"},
    };
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        const struct config_file_case *bad = &bad_files[i];
        int written = write_config_file(path, scratch_dir, bad->name, bad->content,
                                        strlen(bad->content));
        CHECK(written, "failed to write %s", path);
        poison(&error, sizeof error);
        status = esbyt_config_load_file(config, path, &error);
        check_failure(status, ESBYT_CONFIG, &error, bad->mention);
        finish_case("esbyt_config_load_file returns ESBYT_CONFIG for %s", bad->description);
    }

    /* A C string cannot carry a NUL, but a TOML string can. The file may set such values,
     * because esbyt_client_new checks the URL and the files, as it does for
     * esbyt_config_set. */
    static const struct config_file_case nul_files[] = {
        {"a url with a NUL character", "nul_url.toml",
         "url = \"http://127.0.0.1:1/\\u0000x\"\nallow_http = true\n", "url"},
        {"a journal_file with a NUL character", "nul_journal.toml",
         "journal_file = \"spends\\u0000.journal\"\n", "journal"},
        {"an extra_ca_file with a NUL character", "nul_ca.toml",
         "extra_ca_file = \"ca\\u0000.pem\"\n", "extra_ca_file"},
    };
    for (size_t i = 0; i < sizeof nul_files / sizeof nul_files[0]; i++) {
        const struct config_file_case *bad = &nul_files[i];
        esbyt_config *nul_config = new_config("url", base_url, "allow_http", "1",
                                              (const char *)NULL);
        int written = write_config_file(path, scratch_dir, bad->name, bad->content,
                                        strlen(bad->content));
        CHECK(written, "failed to write %s", path);
        CHECK(nul_config != NULL, "failed to create the configuration");
        if (nul_config != NULL) {
            status = esbyt_config_load_file(nul_config, path, &error);
            CHECK(status == ESBYT_OK || status == ESBYT_CONFIG,
                  "esbyt_config_load_file returned %s", esbyt_status_name(status));
            if (status == ESBYT_OK) {
                esbyt_client *client = NULL;
                poison(&error, sizeof error);
                status = esbyt_client_new(nul_config, &client, &error);
                check_failure(status, ESBYT_CONFIG, &error, bad->mention);
                esbyt_client_free(client);
            }
            esbyt_config_free(nul_config);
        }
        finish_case("esbyt_config_load_file of %s leaves esbyt_client_new returning "
                    "ESBYT_CONFIG",
                    bad->description);
    }

    /* Nesting that a recursive parser would follow until the stack overflows, which no
     * panic handler can catch. */
    static const char *const deep_units[][4] = {
        {"arrays", "deep_arrays.toml", "server_cert_sha256 = ", "["},
        {"inline tables", "deep_tables.toml", "url = ", "{a="},
    };
    for (size_t i = 0; i < sizeof deep_units / sizeof deep_units[0]; i++) {
        int written = write_repeated_file(path, scratch_dir, deep_units[i][1], deep_units[i][2],
                                          deep_units[i][3], 100000, "\n");
        CHECK(written, "failed to write %s", path);
        poison(&error, sizeof error);
        status = esbyt_config_load_file(config, path, &error);
        check_failure(status, ESBYT_CONFIG, &error, "configuration file");
        finish_case("esbyt_config_load_file returns ESBYT_CONFIG for 100000 nested %s",
                    deep_units[i][0]);
    }

    /* One comment line of 5 MiB, over the 4 MiB limit of files that settings name. */
    int large_written = write_repeated_file(path, scratch_dir, "large.toml", "#", "x",
                                            5 * 1024 * 1024, "\n");
    CHECK(large_written, "failed to write %s", path);
    poison(&error, sizeof error);
    status = esbyt_config_load_file(config, path, &error);
    check_failure(status, ESBYT_CONFIG, &error, "configuration file");
    finish_case("esbyt_config_load_file returns ESBYT_CONFIG for a 5 MiB file");

    join_path(path, scratch_dir, "good.toml");
    CHECK(setenv("ESBYT_TIMEOUT_MS", "0", 1) == 0, "setenv failed");
    poison(&error, sizeof error);
    status = esbyt_config_load_file(config, path, &error);
    check_failure(status, ESBYT_CONFIG, &error, "ESBYT_TIMEOUT_MS");
    CHECK(unsetenv("ESBYT_TIMEOUT_MS") == 0, "unsetenv failed");
    finish_case("esbyt_config_load_file returns ESBYT_CONFIG for ESBYT_TIMEOUT_MS=0");

    esbyt_config_free(config);
    config = esbyt_config_new();
    status = esbyt_config_load_file(config, path, NULL);
    CHECK(status == ESBYT_OK, "returned %s", esbyt_status_name(status));
    esbyt_client *client = NULL;
    poison(&error, sizeof error);
    status = esbyt_client_new(config, &client, &error);
    check_success(status, &error);
    esbyt_balance balance;
    CHECK(esbyt_check_bonus(client, TEST_CARD, &balance, NULL) == ESBYT_OK,
          "the client from the file cannot check the balance");
    esbyt_client_free(client);
    esbyt_config_free(config);
    finish_case("esbyt_config_load_file reads a valid file and accepts a NULL error record");
}

/* What the log callback received. */
static struct {
    int record_count;
    int wrong_user_data_count;
    int out_of_range_level_count;
    int invalid_message_count;
    int card_number_count;
    int32_t max_level_seen;
} log_records;

static int log_user_data;

static void count_log_record(void *user_data, int32_t level, const char *message)
{
    log_records.record_count++;
    if (user_data != &log_user_data)
        log_records.wrong_user_data_count++;
    if (level < ESBYT_LOG_ERROR || level > ESBYT_LOG_TRACE)
        log_records.out_of_range_level_count++;
    if (level > log_records.max_level_seen)
        log_records.max_level_seen = level;
    if (message == NULL || !is_valid_utf8(message))
        log_records.invalid_message_count++;
    else if (strstr(message, TEST_CARD) != NULL)
        log_records.card_number_count++;
}

/* Calls esbyt functions from inside the callback, then removes the callback, as the
 * header allows. */
static void reenter_from_log_record(void *user_data, int32_t level, const char *message)
{
    (void)level;
    (void)message;
    log_records.record_count++;
    esbyt_config *config = esbyt_config_new();
    esbyt_config_set(config, "no_such_setting", "1", NULL);
    esbyt_config_free(config);
    if (user_data != NULL)
        esbyt_set_log_callback(NULL, NULL, 0, NULL);
}

/* Makes one balance check with count_log_record set to max_level, which counts the records
 * in log_records, then removes the callback. */
static void check_bonus_with_log_level(const esbyt_client *client, int32_t max_level)
{
    esbyt_balance balance;
    esbyt_error error;
    memset(&log_records, 0, sizeof log_records);
    poison(&error, sizeof error);
    int32_t status = esbyt_set_log_callback(count_log_record, &log_user_data, max_level, &error);
    check_success(status, &error);
    CHECK(esbyt_check_bonus(client, TEST_CARD, &balance, NULL) == ESBYT_OK,
          "the balance check failed");
    esbyt_set_log_callback(NULL, NULL, 0, NULL);
}

static void test_log_callback(const esbyt_client *client)
{
    esbyt_error error;
    int32_t status;

    const int32_t levels[] = {INT32_MIN, -1, 0, 6, 100, INT32_MAX};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        poison(&error, sizeof error);
        status = esbyt_set_log_callback(NULL, NULL, levels[i], &error);
        check_success(status, &error);
        finish_case("esbyt_set_log_callback accepts a NULL callback with max_level %" PRId32,
                    levels[i]);
    }

    status = esbyt_set_log_callback(NULL, &log_user_data, ESBYT_LOG_TRACE, NULL);
    CHECK(status == ESBYT_OK, "returned %s", esbyt_status_name(status));
    finish_case("esbyt_set_log_callback accepts a NULL error record");

    check_bonus_with_log_level(client, ESBYT_LOG_INFO);
    CHECK(log_records.record_count > 0, "the callback received no record");
    CHECK(log_records.wrong_user_data_count == 0, "%d records had another user_data",
          log_records.wrong_user_data_count);
    CHECK(log_records.max_level_seen <= ESBYT_LOG_INFO, "a record had level %" PRId32,
          log_records.max_level_seen);
    CHECK(log_records.invalid_message_count == 0, "%d messages were NULL or not UTF-8",
          log_records.invalid_message_count);
    CHECK(log_records.card_number_count == 0, "%d messages contained the card number",
          log_records.card_number_count);
    finish_case("esbyt_set_log_callback sends records up to ESBYT_LOG_INFO with masked cards");

    const int32_t silent_levels[] = {0, -1, INT32_MIN};
    for (size_t i = 0; i < sizeof silent_levels / sizeof silent_levels[0]; i++) {
        check_bonus_with_log_level(client, silent_levels[i]);
        CHECK(log_records.record_count == 0, "the callback received %d records",
              log_records.record_count);
        finish_case("esbyt_set_log_callback with max_level %" PRId32 " sends no record",
                    silent_levels[i]);
    }

    const int32_t above_trace_levels[] = {6, INT32_MAX};
    for (size_t i = 0; i < sizeof above_trace_levels / sizeof above_trace_levels[0]; i++) {
        check_bonus_with_log_level(client, above_trace_levels[i]);
        CHECK(log_records.record_count > 0, "the callback received no record");
        CHECK(log_records.out_of_range_level_count == 0, "%d records had a level outside 1 to 5",
              log_records.out_of_range_level_count);
        CHECK(log_records.invalid_message_count == 0, "%d messages were NULL or not UTF-8",
              log_records.invalid_message_count);
        CHECK(log_records.card_number_count == 0, "%d messages contained the card number",
              log_records.card_number_count);
        finish_case("esbyt_set_log_callback with max_level %" PRId32 " sends levels 1 to 5",
                    above_trace_levels[i]);
    }

    esbyt_balance balance;
    memset(&log_records, 0, sizeof log_records);
    status = esbyt_set_log_callback(reenter_from_log_record, &log_user_data, ESBYT_LOG_TRACE,
                                    NULL);
    CHECK(status == ESBYT_OK, "returned %s", esbyt_status_name(status));
    CHECK(esbyt_check_bonus(client, TEST_CARD, &balance, NULL) == ESBYT_OK,
          "the balance check failed");
    CHECK(log_records.record_count == 1, "the callback ran %d times after removing itself",
          log_records.record_count);
    finish_case("esbyt_set_log_callback callback may call esbyt functions and remove itself");

    memset(&log_records, 0, sizeof log_records);
    status = esbyt_set_log_callback(count_log_record, &log_user_data, ESBYT_LOG_TRACE, NULL);
    CHECK(status == ESBYT_OK, "returned %s", esbyt_status_name(status));
    status = esbyt_set_log_callback(NULL, &log_user_data, ESBYT_LOG_TRACE, NULL);
    CHECK(status == ESBYT_OK, "returned %s", esbyt_status_name(status));
    CHECK(esbyt_check_bonus(client, TEST_CARD, &balance, NULL) == ESBYT_OK,
          "the balance check failed");
    CHECK(log_records.record_count == 0, "the removed callback received %d records",
          log_records.record_count);
    finish_case("esbyt_set_log_callback with a NULL callback removes the previous one");
}

static void test_client_free(const char *base_url)
{
    esbyt_balance balance;
    esbyt_write_off write_off;
    esbyt_error error;
    int not_a_handle = 0;
    int32_t status;

    CHECK(esbyt_client_free(NULL) == ESBYT_OK, "esbyt_client_free(NULL) is not ESBYT_OK");
    finish_case("esbyt_client_free ignores NULL");

    CHECK(esbyt_client_free((esbyt_client *)&not_a_handle) == ESBYT_INVALID_ARGUMENT,
          "esbyt_client_free of a never-created handle is not ESBYT_INVALID_ARGUMENT");
    finish_case("esbyt_client_free rejects a never-created client");

    /* As for configurations, no client is created between the free and the calls below. */
    esbyt_client *client = new_client(base_url, TEST_SUPPLIER);
    CHECK(client != NULL, "failed to create the client");
    CHECK(esbyt_client_free(client) == ESBYT_OK, "the first esbyt_client_free failed");
    finish_case("esbyt_client_free frees a client");
    if (client == NULL)
        return;

    poison(&balance, sizeof balance);
    poison(&error, sizeof error);
    status = esbyt_check_bonus(client, TEST_CARD, &balance, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "already freed");
    CHECK(is_zeroed(&balance, sizeof balance), "balance is not zeroed");
    finish_case("esbyt_check_bonus rejects a freed client");

    poison(&write_off, sizeof write_off);
    poison(&error, sizeof error);
    status = esbyt_spend_bonus(client, TEST_CARD, 10, &write_off, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "already freed");
    CHECK(is_zeroed(&write_off, sizeof write_off), "write_off is not zeroed");
    finish_case("esbyt_spend_bonus rejects a freed client");

    int32_t count = -1;
    poison(&error, sizeof error);
    status = esbyt_journal_pending(client, NULL, 0, &count, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "already freed");
    finish_case("esbyt_journal_pending rejects a freed client");

    poison(&error, sizeof error);
    status = esbyt_journal_resolve(client, "1-1-1", NULL, &error);
    check_failure(status, ESBYT_INVALID_ARGUMENT, &error, "already freed");
    finish_case("esbyt_journal_resolve rejects a freed client");

    CHECK(esbyt_client_free(client) == ESBYT_INVALID_ARGUMENT,
          "the second esbyt_client_free is not ESBYT_INVALID_ARGUMENT");
    finish_case("esbyt_client_free detects a double free");
}

/* Prints the exports that cases covered, for the Rust test that compares them with the
 * exports of the library. */
static void print_covered_exports(void)
{
    for (int i = 0; i < covered_export_count; i++)
        printf("# covers %s (%d cases)\n", covered_exports[i].name, covered_exports[i].case_count);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s BASE_URL SCRATCH_DIR PENDING_JOURNAL\n", argv[0]);
        return 2;
    }
    const char *base_url = argv[1];
    const char *scratch_dir = argv[2];
    const char *pending_journal = argv[3];

    /* Digits, so only the length makes it invalid as an id, a setting name or a value. */
    char *overlong = malloc(OVERLONG_SIZE + 1);
    if (overlong == NULL) {
        fprintf(stderr, "malloc of %d bytes failed\n", OVERLONG_SIZE + 1);
        return 2;
    }
    memset(overlong, '9', OVERLONG_SIZE);
    overlong[OVERLONG_SIZE] = '\0';

    test_versions_and_status_names();
    test_config_set(overlong);
    test_client_new(base_url);
    test_client_new_files(base_url, scratch_dir);
    test_config_free();

    esbyt_client *client = new_client(base_url, TEST_SUPPLIER);
    esbyt_client *no_supplier_client = new_client(base_url, NULL);
    CHECK(client != NULL, "failed to create the client for %s", base_url);
    CHECK(no_supplier_client != NULL, "failed to create the client without a supplier");
    finish_case("clients for %s are created", base_url);
    if (client != NULL && no_supplier_client != NULL) {
        test_check_bonus(client, overlong);
        test_spend_bonus(client, no_supplier_client, overlong);

        esbyt_client *journal_client =
            new_journal_client(base_url, REFUSED_SUPPLIER, pending_journal);
        CHECK(journal_client != NULL, "failed to create the client with the pending journal");
        finish_case("client with the pending journal is created");
        if (journal_client != NULL) {
            test_journal_pending(journal_client, client);
            test_spend_attempt_id(journal_client);
            test_journal_resolve(journal_client, client, overlong);
        }
        CHECK(esbyt_client_free(journal_client) == ESBYT_OK, "esbyt_client_free failed");
        finish_case("esbyt_client_free frees the client with the pending journal");

        test_vanished_journal(base_url, scratch_dir);
        test_handle_confusion(base_url);
        test_config_load_file(base_url, scratch_dir, overlong);
        test_log_callback(client);

        esbyt_balance balance;
        esbyt_error error;
        int32_t status = esbyt_check_bonus(client, TEST_CARD, &balance, &error);
        check_success(status, &error);
        CHECK(balance.amount == TEST_BALANCE, "balance is %" PRId64, balance.amount);
        finish_case("balance is still 500 after the rejected write-offs");
    }
    CHECK(esbyt_client_free(client) == ESBYT_OK, "esbyt_client_free failed");
    CHECK(esbyt_client_free(no_supplier_client) == ESBYT_OK, "esbyt_client_free failed");
    finish_case("esbyt_client_free frees both clients");

    test_client_free(base_url);
    free(overlong);

    print_covered_exports();
    printf("1..%d\n", case_count);
    if (failed_case_count > 0) {
        printf("# %d of %d cases failed\n", failed_case_count, case_count);
        return 1;
    }
    return 0;
}
