/*
 * Driver of the TLS tests for the C ABI. It creates a client from the settings on the
 * command line and runs the requested calls against the test card. It prints the outcome
 * of every call, so that the Rust tests can assert on it.
 *
 * Usage: tls_call NAME=VALUE... OPERATION...
 *   NAME=VALUE  a setting for esbyt_config_set, split at the first '='
 *   check       esbyt_check_bonus for card 2700009601205
 *   spend:N     esbyt_spend_bonus of N bonuses from card 2700009601205
 * Every setting is applied before the client is created, whatever the argument order.
 *
 * Each call prints one line of tab-separated NAME=VALUE fields, with the message last so
 * that it may contain any character but a tab or a line end:
 *   call status status_name error_status detail detail_name http_status server_code cause
 *   [amount account bonus_id | spend_id] message_length message
 * `status` is the returned value and `error_status` the one in the error record.
 * `detail_name` is the ESBYT_DETAIL_* macro of the header whose value equals `detail`.
 * The program stops after a failed esbyt_config_set or esbyt_client_new.
 *
 * Exit status: 0 when every call that should run ran, whatever its status; 1 when
 * esbyt_config_new returned NULL; 2 for invalid arguments.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esbyt.h"

#define TEST_CARD "2700009601205"
#define EXIT_NO_CONFIG 1
#define EXIT_USAGE 2
/* Maximum length of a setting name that esbyt_config_set accepts, as the header documents. */
#define MAX_NAME_SIZE 64

/* Returns the name of the ESBYT_DETAIL_* macro with this value. */
static const char *detail_name(int32_t detail)
{
    switch (detail) {
    case ESBYT_DETAIL_NONE:
        return "ESBYT_DETAIL_NONE";
    case ESBYT_DETAIL_TLS_UNKNOWN_ISSUER:
        return "ESBYT_DETAIL_TLS_UNKNOWN_ISSUER";
    case ESBYT_DETAIL_TLS_NAME_MISMATCH:
        return "ESBYT_DETAIL_TLS_NAME_MISMATCH";
    case ESBYT_DETAIL_TLS_CERTIFICATE_EXPIRED:
        return "ESBYT_DETAIL_TLS_CERTIFICATE_EXPIRED";
    case ESBYT_DETAIL_TLS_CERTIFICATE_NOT_YET_VALID:
        return "ESBYT_DETAIL_TLS_CERTIFICATE_NOT_YET_VALID";
    case ESBYT_DETAIL_TLS_CLIENT_CERTIFICATE_REJECTED:
        return "ESBYT_DETAIL_TLS_CLIENT_CERTIFICATE_REJECTED";
    case ESBYT_DETAIL_TLS_NO_COMMON_PROTOCOL:
        return "ESBYT_DETAIL_TLS_NO_COMMON_PROTOCOL";
    case ESBYT_DETAIL_TLS_PIN_MISMATCH:
        return "ESBYT_DETAIL_TLS_PIN_MISMATCH";
    case ESBYT_DETAIL_TLS_NOT_TLS:
        return "ESBYT_DETAIL_TLS_NOT_TLS";
    case ESBYT_DETAIL_TLS_OTHER:
        return "ESBYT_DETAIL_TLS_OTHER";
    default:
        return "UNKNOWN_DETAIL";
    }
}

/* Prints the fields that every call has, up to the call-specific ones. */
static void print_status(const char *call, int32_t status, const esbyt_error *error)
{
    printf("call=%s\tstatus=%" PRId32 "\tstatus_name=%s\terror_status=%" PRId32
           "\tdetail=%" PRId32 "\tdetail_name=%s\thttp_status=%" PRId32
           "\tserver_code=%" PRId64 "\tcause=%" PRId32,
           call, status, esbyt_status_name(status), error->status, error->detail,
           detail_name(error->detail), error->http_status, error->server_code, error->cause);
}

/* Prints the message fields and ends the line. */
static void print_message(const esbyt_error *error)
{
    printf("\tmessage_length=%" PRId32 "\tmessage=%s\n", error->message_length, error->message);
    fflush(stdout);
}

/* Returns whether the argument is NAME=VALUE with a name that fits MAX_NAME_SIZE. */
static int is_setting(const char *argument)
{
    const char *separator = strchr(argument, '=');
    return separator != NULL && (size_t)(separator - argument) <= MAX_NAME_SIZE;
}

/* Returns the amount of a "spend:N" operation, or -1 when the argument is not one. */
static long long spend_amount(const char *argument)
{
    const char *prefix = "spend:";
    char *end = NULL;
    long long amount;
    if (strncmp(argument, prefix, strlen(prefix)) != 0)
        return -1;
    amount = strtoll(argument + strlen(prefix), &end, 10);
    if (end == argument + strlen(prefix) || *end != '\0' || amount < 0)
        return -1;
    return amount;
}

static int is_operation(const char *argument)
{
    return strcmp(argument, "check") == 0 || spend_amount(argument) >= 0;
}

/* Applies one NAME=VALUE setting. Returns 1 on success; prints the failure and returns 0. */
static int apply_setting(esbyt_config *config, const char *argument)
{
    char name[MAX_NAME_SIZE + 1];
    const char *separator = strchr(argument, '=');
    size_t name_length = (size_t)(separator - argument);
    esbyt_error error;
    int32_t status;

    memcpy(name, argument, name_length);
    name[name_length] = '\0';

    status = esbyt_config_set(config, name, separator + 1, &error);
    if (status == ESBYT_OK)
        return 1;
    print_status("config_set", status, &error);
    printf("\tsetting=%s", name);
    print_message(&error);
    return 0;
}

static void run_check(const esbyt_client *client)
{
    esbyt_balance balance;
    esbyt_error error;
    int32_t status = esbyt_check_bonus(client, TEST_CARD, &balance, &error);
    print_status("check_bonus", status, &error);
    printf("\tamount=%" PRId64 "\taccount=%s\tbonus_id=%s", balance.amount, balance.account,
           balance.bonus_id);
    print_message(&error);
}

static void run_spend(const esbyt_client *client, long long amount)
{
    esbyt_write_off write_off;
    esbyt_error error;
    int32_t status = esbyt_spend_bonus(client, TEST_CARD, (int64_t)amount, &write_off, &error);
    print_status("spend_bonus", status, &error);
    printf("\tspend_id=%s", write_off.spend_id);
    print_message(&error);
}

int main(int argc, char **argv)
{
    esbyt_config *config;
    esbyt_client *client = NULL;
    esbyt_error error;
    int32_t status;
    int i;

    for (i = 1; i < argc; i++) {
        if (!is_setting(argv[i]) && !is_operation(argv[i])) {
            fprintf(stderr,
                    "tls_call: %s is invalid: expected NAME=VALUE with a name of at most %d "
                    "bytes, check or spend:N\n",
                    argv[i], MAX_NAME_SIZE);
            return EXIT_USAGE;
        }
    }

    config = esbyt_config_new();
    if (config == NULL) {
        fprintf(stderr, "tls_call: esbyt_config_new returned NULL\n");
        return EXIT_NO_CONFIG;
    }
    for (i = 1; i < argc; i++) {
        if (is_setting(argv[i]) && !apply_setting(config, argv[i])) {
            esbyt_config_free(config);
            return EXIT_SUCCESS;
        }
    }

    status = esbyt_client_new(config, &client, &error);
    esbyt_config_free(config);
    print_status("client_new", status, &error);
    printf("\tclient_is_null=%d", client == NULL);
    print_message(&error);
    if (status != ESBYT_OK)
        return EXIT_SUCCESS;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "check") == 0)
            run_check(client);
        else if (!is_setting(argv[i]))
            run_spend(client, spend_amount(argv[i]));
    }
    esbyt_client_free(client);
    return EXIT_SUCCESS;
}
