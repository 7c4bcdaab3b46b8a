/*
 * Calls every export of libesbyt with hostile input and checks the exact status, the
 * error record and the zeroing of output records. Prints one TAP line per case and exits
 * 1 when any case fails.
 *
 * Usage: invalid_input BASE_URL, the URL of an emulator with the default cards. Only the
 * positive controls reach the server, and they only check balances, so after a passing
 * run the emulator has executed no write-off.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esbyt.h"

#define TEST_CARD "2700009601205"
#define TEST_ACCOUNT "1055444444"
#define TEST_BALANCE 500
#define TEST_SUPPLIER "1111"
/* Longer than every input limit of the library (256 bytes for ids, 32 KiB for values). */
#define OVERLONG_SIZE (100 * 1024)
/* Byte that pre-fills records, so the checks detect a record the library did not overwrite. */
#define POISON 0xA5

static int case_count;
static int failed_case_count;
static int current_case_failed;
static char current_failure[2048];

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

/* Prints the TAP line of the current case and starts the next one. */
static void finish_case(const char *format, ...)
{
    char description[512];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(description, sizeof description, format, arguments);
    va_end(arguments);

    case_count++;
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
        const char *description = esbyt_status_description(codes[i]);
        CHECK(name != NULL, "esbyt_status_name(%" PRId32 ") is NULL", codes[i]);
        CHECK(description != NULL, "esbyt_status_description(%" PRId32 ") is NULL", codes[i]);
        if (name == NULL || description == NULL)
            continue;
        CHECK(strcmp(name, STATUS_NAMES[i]) == 0,
              "esbyt_status_name(%" PRId32 ") is \"%s\", expected \"%s\"", codes[i], name,
              STATUS_NAMES[i]);
        CHECK(description[0] != '\0', "esbyt_status_description(%" PRId32 ") is empty",
              codes[i]);
        CHECK(strcmp(description, "unknown status") != 0,
              "esbyt_status_description(%" PRId32 ") is \"unknown status\"", codes[i]);
    }
    finish_case("status names match the macros and every status has a description");

    const int32_t unknown_codes[] = {-1, 11, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown_codes / sizeof unknown_codes[0]; i++) {
        const char *name = esbyt_status_name(unknown_codes[i]);
        const char *description = esbyt_status_description(unknown_codes[i]);
        CHECK(name != NULL, "esbyt_status_name is NULL");
        CHECK(description != NULL, "esbyt_status_description is NULL");
        if (name != NULL && description != NULL) {
            CHECK(strcmp(name, "ESBYT_UNKNOWN_STATUS") == 0, "esbyt_status_name is \"%s\"",
                  name);
            CHECK(strcmp(description, "unknown status") == 0,
                  "esbyt_status_description is \"%s\"", description);
        }
        finish_case("status %" PRId32 " is ESBYT_UNKNOWN_STATUS, \"unknown status\"",
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
    };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        poison(&error, sizeof error);
        status = esbyt_config_set(config, bad_values[i].name, bad_values[i].value, &error);
        check_failure(status, ESBYT_INVALID_ARGUMENT, &error, bad_values[i].mention);
        finish_case("esbyt_config_set rejects %s \"%s\"", bad_values[i].name, bad_values[i].value);
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

    struct bad_config {
        const char *description;
        const char *url; /* NULL for base_url */
        const char *name; /* another setting, or NULL for none */
        const char *value;
        const char *mention;
    };
    static const struct bad_config bad_configs[] = {
        {"empty url", "", NULL, NULL, "url is not set"},
        {"url without scheme", "127.0.0.1:8808/bonus/", NULL, NULL, "url"},
        {"ftp url", "ftp://127.0.0.1/", NULL, NULL, "url"},
        {"url without host", "http:///bonus/", NULL, NULL, "url"},
        {"url with a fragment", "http://127.0.0.1:1/#x", NULL, NULL, "url"},
        {"url with CR LF", "http://127.0.0.1:1/\r\nHost: x", NULL, NULL, "url"},
        {"https proxy", NULL, "proxy", "https://127.0.0.1:1", "proxy"},
        {"unreadable extra_ca_file", NULL, "extra_ca_file", "/nonexistent-esbyt-test/ca.pem",
         "extra_ca_file"},
    };
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        const struct bad_config *bad = &bad_configs[i];
        const char *url = bad->url != NULL ? bad->url : base_url;
        /* A NULL name ends the list of settings early. */
        config = new_config("url", url, "allow_http", "1", bad->name, bad->value,
                            (const char *)NULL);
        CHECK(config != NULL, "failed to create the configuration");
        if (config != NULL) {
            client = (esbyt_client *)&not_a_handle;
            poison(&error, sizeof error);
            status = esbyt_client_new(config, &client, &error);
            check_failure(status, ESBYT_CONFIG, &error, bad->mention);
            CHECK(client == NULL, "*client_out is not NULL after a failure");
            if (status == ESBYT_OK)
                esbyt_client_free(client);
            esbyt_config_free(config);
        }
        finish_case("esbyt_client_new returns ESBYT_CONFIG for %s", bad->description);
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

    CHECK(esbyt_client_free(client) == ESBYT_INVALID_ARGUMENT,
          "the second esbyt_client_free is not ESBYT_INVALID_ARGUMENT");
    finish_case("esbyt_client_free detects a double free");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    const char *base_url = argv[1];

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
    test_config_free();

    esbyt_client *client = new_client(base_url, TEST_SUPPLIER);
    esbyt_client *no_supplier_client = new_client(base_url, NULL);
    CHECK(client != NULL, "failed to create the client for %s", base_url);
    CHECK(no_supplier_client != NULL, "failed to create the client without a supplier");
    finish_case("clients for %s are created", base_url);
    if (client != NULL && no_supplier_client != NULL) {
        test_check_bonus(client, overlong);
        test_spend_bonus(client, no_supplier_client, overlong);

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

    printf("1..%d\n", case_count);
    if (failed_case_count > 0) {
        printf("# %d of %d cases failed\n", failed_case_count, case_count);
        return 1;
    }
    return 0;
}
