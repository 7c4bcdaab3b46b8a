/*
 * Example of the esbyt C API: checks a card's bonus balance, writes 10 bonuses off and
 * checks the balance again. Usage: example BASE_URL [SUPPLIER [CARD]], where SUPPLIER
 * defaults to 1111 and CARD to 2700009601205, the test values of the partner's test server.
 *
 * On success prints "account A", "balance N", "spend_id S" and "balance N" on stdout, one
 * per line, and exits 0. On failure prints the status and the error message on stderr and
 * exits 1, or 3 when the write-off may or may not have been executed. Wrong arguments exit 2.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "esbyt.h"

#define WRITE_OFF_AMOUNT 10
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_OUTCOME_UNKNOWN 3

/* Prints a failed call with its status and error record to stderr. */
static void print_error(const char *call, int32_t status, const esbyt_error *error)
{
    fprintf(stderr, "%s failed: %s: %s\n", call, esbyt_status_name(status), error->message);
    if (error->server_code != 0)
        fprintf(stderr, "server_code %" PRId64 "\n", error->server_code);
    if (error->http_status != 0)
        fprintf(stderr, "http_status %" PRId32 "\n", error->http_status);
    if (status == ESBYT_OUTCOME_UNKNOWN)
        fprintf(stderr, "WARNING: the write-off may have been executed (cause %s). "
                        "Do not resend it: reconcile it first, for example by checking "
                        "the balance or asking the programme's support.\n",
                esbyt_status_name(error->cause));
}

/* Sets one setting and returns 1, or prints the error and returns 0. */
static int set_setting(esbyt_config *config, const char *name, const char *value)
{
    esbyt_error error;
    int32_t status = esbyt_config_set(config, name, value, &error);
    if (status != ESBYT_OK)
        print_error("esbyt_config_set", status, &error);
    return status == ESBYT_OK;
}

/* Creates a client for the server at url, or prints the error and returns NULL. */
static esbyt_client *create_client(const char *url, const char *supplier)
{
    esbyt_config *config = esbyt_config_new();
    if (config == NULL) {
        fprintf(stderr, "esbyt_config_new failed\n");
        return NULL;
    }
    /* Plain HTTP sends card numbers unencrypted, so the library rejects an http:// URL
     * unless allow_http is 1. Only the partner's test server and the emulator use it. */
    int plain_http = strncmp(url, "http://", strlen("http://")) == 0;
    int ok = set_setting(config, "url", url) && set_setting(config, "supplier", supplier)
             && (!plain_http || set_setting(config, "allow_http", "1"));

    esbyt_client *client = NULL;
    esbyt_error error;
    if (ok && esbyt_client_new(config, &client, &error) != ESBYT_OK)
        print_error("esbyt_client_new", error.status, &error);
    /* The client keeps its own copy of the settings. */
    esbyt_config_free(config);
    return client;
}

/* Prints the balance of card and returns 1, or prints the error and returns 0. */
static int print_balance(const esbyt_client *client, const char *card, int with_account)
{
    esbyt_balance balance;
    esbyt_error error;
    int32_t status = esbyt_check_bonus(client, card, &balance, &error);
    if (status != ESBYT_OK) {
        print_error("esbyt_check_bonus", status, &error);
        return 0;
    }
    if (with_account)
        printf("account %s\n", balance.account);
    printf("balance %" PRId64 "\n", balance.amount);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s BASE_URL [SUPPLIER [CARD]]\n", argv[0]);
        return EXIT_USAGE;
    }
    const char *url = argv[1];
    const char *supplier = argc > 2 ? argv[2] : "1111";
    const char *card = argc > 3 ? argv[3] : "2700009601205";

    if (esbyt_abi_version() != ESBYT_ABI_VERSION) {
        fprintf(stderr, "libesbyt has ABI version %" PRId32 ", but this program needs %d\n",
                esbyt_abi_version(), ESBYT_ABI_VERSION);
        return EXIT_FAILED;
    }

    esbyt_client *client = create_client(url, supplier);
    if (client == NULL)
        return EXIT_FAILED;

    int exit_code = EXIT_FAILED;
    if (print_balance(client, card, 1)) {
        esbyt_write_off write_off;
        esbyt_error error;
        int32_t status = esbyt_spend_bonus(client, card, WRITE_OFF_AMOUNT, &write_off, &error);
        if (status == ESBYT_OK) {
            printf("spend_id %s\n", write_off.spend_id);
            if (print_balance(client, card, 0))
                exit_code = 0;
        } else {
            print_error("esbyt_spend_bonus", status, &error);
            if (status == ESBYT_OUTCOME_UNKNOWN)
                exit_code = EXIT_OUTCOME_UNKNOWN;
        }
    }
    esbyt_client_free(client);
    return exit_code;
}
