/*
 * Sets journal_file and log_file to paths that are not regular files, such as /dev/zero
 * and a FIFO without a reader, and checks that no call hangs or exhausts memory. A hang
 * or an unbounded read would stop a host or take its memory, so every case runs in a
 * child process with an alarm and a limit on its address space. Prints one TAP line per
 * case and exits 1 when any case fails.
 *
 * - journal_file: esbyt_client_new returns ESBYT_CONFIG, or the journal call returns
 *   ESBYT_CONFIG, each within CALL_SECONDS.
 * - log_file: esbyt_client_new returns ESBYT_OK or ESBYT_CONFIG, and then a balance check
 *   returns ESBYT_OK, each within CALL_SECONDS.
 *
 * Usage: special_files BASE_URL SCRATCH_DIR
 * - BASE_URL: the URL of an emulator with the default cards and partner code 1111. The
 *   write-off cases use partner code 1111, so a write-off that was sent is executed.
 * - SCRATCH_DIR: an existing, writable directory, where the program creates the FIFO.
 *
 * Not for sanitizer or valgrind builds: both need more address space than the limit.
 */
#define _XOPEN_SOURCE 700

#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "esbyt.h"

#define TEST_CARD "2700009601205"
#define TEST_SUPPLIER "1111"

/* Time that one call may take. With a regular journal and log file, each takes
 * milliseconds against a local emulator. */
#define CALL_SECONDS 10

/* Address space of a case's child process: enough for the library and its threads, and
 * far below the memory of the machine, so an unbounded read fails instead of taking it. */
#define ADDRESS_SPACE_BYTES (1024L * 1024 * 1024)

/* Peak resident memory that a case may reach, in KiB as getrusage reports it. A process
 * with a client and an empty journal peaked at 8 MiB (GNU time, x86_64 Linux). */
#define MAX_RESIDENT_KIB (128L * 1024)

#define PATH_SIZE 4096

enum call { CALL_PENDING, CALL_RESOLVE, CALL_SPEND, CALL_CHECK };

static const char *const CALL_NAMES[] = {"esbyt_journal_pending", "esbyt_journal_resolve",
                                         "esbyt_spend_bonus", "esbyt_check_bonus"};

static int case_count;
static int failed_case_count;

/* Makes one call with a new client and returns its status. */
static int32_t make_call(const esbyt_client *client, enum call call, esbyt_error *error)
{
    int32_t count = 0;
    esbyt_write_off write_off;
    esbyt_balance balance;
    switch (call) {
    case CALL_PENDING:
        return esbyt_journal_pending(client, NULL, 0, &count, error);
    case CALL_RESOLVE:
        return esbyt_journal_resolve(client, "1-1-1", NULL, error);
    case CALL_SPEND:
        return esbyt_spend_bonus(client, TEST_CARD, 1, &write_off, error);
    case CALL_CHECK:
        return esbyt_check_bonus(client, TEST_CARD, &balance, error);
    }
    return ESBYT_INTERNAL;
}

/* Creates a client with `setting` set to `path` and makes one call, which must return
 * `expected`. Runs in the child process. Prints the reason of a failure as a TAP comment
 * and returns the exit status: 0 for a pass. */
static int run_case(const char *base_url, const char *setting, const char *path,
                    enum call call, int32_t expected)
{
    struct rlimit limit = {ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES};
    if (setrlimit(RLIMIT_AS, &limit) != 0) {
        printf("# setrlimit failed\n");
        return 1;
    }

    esbyt_error error;
    esbyt_client *client = NULL;
    esbyt_config *config = esbyt_config_new();
    int settings_accepted = config != NULL
                            && esbyt_config_set(config, "url", base_url, &error) == ESBYT_OK
                            && esbyt_config_set(config, "allow_http", "1", &error) == ESBYT_OK
                            && esbyt_config_set(config, "supplier", TEST_SUPPLIER, &error)
                                   == ESBYT_OK
                            && esbyt_config_set(config, setting, path, &error) == ESBYT_OK;
    if (!settings_accepted) {
        printf("# a setting was rejected: %s\n", error.message);
        return 1;
    }

    alarm(CALL_SECONDS);
    int32_t status = esbyt_client_new(config, &client, &error);
    esbyt_config_free(config);
    if (status == ESBYT_CONFIG)
        return 0;
    if (status != ESBYT_OK) {
        printf("# esbyt_client_new returned %s: %s\n", esbyt_status_name(status), error.message);
        return 1;
    }

    alarm(CALL_SECONDS);
    status = make_call(client, call, &error);
    alarm(0);

    struct rusage usage;
    int failed = 0;
    if (status != expected) {
        printf("# %s returned %s, expected %s: %s\n", CALL_NAMES[call],
               esbyt_status_name(status), esbyt_status_name(expected), error.message);
        failed = 1;
    }
    if (getrusage(RUSAGE_SELF, &usage) == 0 && usage.ru_maxrss > MAX_RESIDENT_KIB) {
        printf("# %s made the process reach %ld MiB of resident memory: %s\n", CALL_NAMES[call],
               usage.ru_maxrss / 1024, error.message);
        failed = 1;
    }
    esbyt_client_free(client);
    return failed;
}

/* Runs one case in a child process and prints its TAP line. */
static void check_case(const char *base_url, const char *setting, const char *label,
                       const char *path, enum call call, int32_t expected)
{
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        int exit_status = run_case(base_url, setting, path, call, expected);
        fflush(stdout);
        _exit(exit_status);
    }

    int wait_status = 0;
    const char *failure = NULL;
    char failure_text[128];
    if (child < 0) {
        failure = "fork failed";
    } else if (waitpid(child, &wait_status, 0) != child) {
        failure = "waitpid failed";
    } else if (WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGALRM) {
        snprintf(failure_text, sizeof failure_text, "a call did not return within %d s",
                 CALL_SECONDS);
        failure = failure_text;
    } else if (WIFSIGNALED(wait_status)) {
        snprintf(failure_text, sizeof failure_text, "the process was killed by signal %d",
                 WTERMSIG(wait_status));
        failure = failure_text;
    } else if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
        failure = "the reason is in the comment lines above";
    }

    case_count++;
    printf("%s %d - %s with %s %s returns %s in time%s%s\n", failure != NULL ? "not ok" : "ok",
           case_count, CALL_NAMES[call], setting, label, esbyt_status_name(expected),
           failure != NULL ? ": " : "", failure != NULL ? failure : "");
    if (failure != NULL)
        failed_case_count++;
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s BASE_URL SCRATCH_DIR\n", argv[0]);
        return 2;
    }
    const char *base_url = argv[1];
    char fifo[PATH_SIZE];
    snprintf(fifo, sizeof fifo, "%s/no-reader.fifo", argv[2]);
    if (mkfifo(fifo, 0600) != 0) {
        fprintf(stderr, "mkfifo %s failed\n", fifo);
        return 2;
    }

    const enum call journal_calls[] = {CALL_PENDING, CALL_RESOLVE, CALL_SPEND};
    for (size_t i = 0; i < sizeof journal_calls / sizeof journal_calls[0]; i++) {
        check_case(base_url, "journal_file", "/dev/zero", "/dev/zero", journal_calls[i],
                   ESBYT_CONFIG);
        check_case(base_url, "journal_file", "a FIFO", fifo, journal_calls[i], ESBYT_CONFIG);
    }
    check_case(base_url, "log_file", "/dev/zero", "/dev/zero", CALL_CHECK, ESBYT_OK);
    check_case(base_url, "log_file", "/dev/full", "/dev/full", CALL_CHECK, ESBYT_OK);
    check_case(base_url, "log_file", "a FIFO", fifo, CALL_CHECK, ESBYT_OK);

    printf("1..%d\n", case_count);
    if (failed_case_count > 0) {
        printf("# %d of %d cases failed\n", failed_case_count, case_count);
        return 1;
    }
    return 0;
}
