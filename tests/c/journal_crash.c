/*
 * A host for the crash test of the spend journal. Usage:
 *   journal_crash spend   BASE_URL JOURNAL      write 10 bonuses off the test card
 *   journal_crash pending BASE_URL JOURNAL      list the attempts to reconcile
 *   journal_crash resolve BASE_URL JOURNAL ID   mark an attempt resolved
 * Prints one line per result and exits 0 when every call returned ESBYT_OK.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "esbyt.h"

#define TEST_CARD "2700009601205"
#define MAX_PENDING 8

static int fail(const char *call, int32_t status, const esbyt_error *error)
{
    printf("%s failed: %s: %s\n", call, esbyt_status_name(status), error->message);
    return 1;
}

static esbyt_client *create_client(const char *url, const char *journal)
{
    esbyt_error error;
    esbyt_client *client = NULL;
    esbyt_config *config = esbyt_config_new();
    const char *settings[][2] = {
        {"url", url}, {"allow_http", "1"}, {"supplier", "1111"},
        {"timeout_ms", "20000"}, {"journal_file", journal},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        int32_t status = esbyt_config_set(config, settings[i][0], settings[i][1], &error);
        if (status != ESBYT_OK) {
            fail("esbyt_config_set", status, &error);
            esbyt_config_free(config);
            return NULL;
        }
    }
    int32_t status = esbyt_client_new(config, &client, &error);
    if (status != ESBYT_OK)
        fail("esbyt_client_new", status, &error);
    esbyt_config_free(config);
    return client;
}

static int spend(const esbyt_client *client)
{
    esbyt_write_off write_off;
    esbyt_error error;
    /* The output is flushed so the test sees it before it kills this process. */
    printf("spending\n");
    fflush(stdout);
    int32_t status = esbyt_spend_bonus(client, TEST_CARD, 10, &write_off, &error);
    if (status != ESBYT_OK)
        return fail("esbyt_spend_bonus", status, &error);
    printf("spend_id %s attempt %s\n", write_off.spend_id, write_off.attempt_id);
    return 0;
}

static int list_pending(const esbyt_client *client)
{
    esbyt_pending_spend pending[MAX_PENDING];
    int32_t count = 0;
    esbyt_error error;
    int32_t status = esbyt_journal_pending(client, pending, MAX_PENDING, &count, &error);
    if (status != ESBYT_OK)
        return fail("esbyt_journal_pending", status, &error);
    printf("pending %" PRId32 "\n", count);
    for (int32_t i = 0; i < count && i < MAX_PENDING; i++)
        printf("attempt %s state %" PRId32 " card %s amount %" PRId64 " supplier %" PRId64 "\n",
               pending[i].attempt_id, pending[i].state, pending[i].bonus_id, pending[i].amount,
               pending[i].supplier);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[1], "resolve") == 0 && argc != 5)) {
        fprintf(stderr, "usage: %s spend|pending|resolve BASE_URL JOURNAL [ID]\n", argv[0]);
        return 2;
    }
    esbyt_client *client = create_client(argv[2], argv[3]);
    if (client == NULL)
        return 1;

    int exit_code;
    if (strcmp(argv[1], "spend") == 0) {
        exit_code = spend(client);
    } else if (strcmp(argv[1], "pending") == 0) {
        exit_code = list_pending(client);
    } else {
        esbyt_error error;
        int32_t status = esbyt_journal_resolve(client, argv[4], "checked after the crash", &error);
        exit_code = status == ESBYT_OK ? 0 : fail("esbyt_journal_resolve", status, &error);
        if (exit_code == 0)
            printf("resolved %s\n", argv[4]);
    }
    esbyt_client_free(client);
    return exit_code;
}
