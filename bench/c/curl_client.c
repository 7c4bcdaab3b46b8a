/*
 * The libcurl reference client: the same balance check as the library, a
 * GET with connection reuse, plus the least parsing that gets the amount
 * out of the response. Started by the esbyt-bench orchestrator with
 * name=value arguments, and prints one line of name=value results.
 *
 *   mode=         sequential | threads | new-clients
 *   url=          base URL of the loopback server
 *   ca= cert= key=  PEM files of mutual TLS, for an https:// URL
 *   user_agent=   User-Agent to send, so the request matches the library's
 *   warmup= iterations= threads= seconds= clients=
 *
 * Build: cc -O2 bench/c/curl_client.c -o curl_client -lcurl -lpthread
 */
#define _GNU_SOURCE /* memmem */
#include <curl/curl.h>

#include "bench_common.h"

static const char *const QUERY = "?command=check_bonus&bonus_id=2700009601205";
static const long long BALANCE = 500;

/* One easy handle and the body of its last response. */
struct transfer {
    CURL *easy;
    char body[65536];
    size_t length;
};

static size_t append_body(char *data, size_t size, size_t count, void *user_data) {
    struct transfer *transfer = user_data;
    size_t bytes = size * count;
    if (bytes > sizeof transfer->body - transfer->length) {
        return 0; /* libcurl then fails the transfer with CURLE_WRITE_ERROR */
    }
    memcpy(transfer->body + transfer->length, data, bytes);
    transfer->length += bytes;
    return bytes;
}

static void setup(struct transfer *transfer, CURLSH *share) {
    static char url[1024];
    if (!url[0]) {
        snprintf(url, sizeof url, "%s%s", arg_required("url"), QUERY);
    }
    transfer->easy = curl_easy_init();
    if (!transfer->easy) {
        fprintf(stderr, "error: curl_easy_init failed\n");
        exit(1);
    }
    CURL *easy = transfer->easy;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    /* The loopback server speaks HTTP/1.1 only, as the library does. */
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer);
    if (arg_text("user_agent")) curl_easy_setopt(easy, CURLOPT_USERAGENT, arg_text("user_agent"));
    if (arg_text("ca")) curl_easy_setopt(easy, CURLOPT_CAINFO, arg_text("ca"));
    if (arg_text("cert")) curl_easy_setopt(easy, CURLOPT_SSLCERT, arg_text("cert"));
    if (arg_text("key")) curl_easy_setopt(easy, CURLOPT_SSLKEY, arg_text("key"));
    if (share) curl_easy_setopt(easy, CURLOPT_SHARE, share);
}

/* Performs the GET and extracts the amount from <amount>...</amount>. */
static int check_balance(void *state) {
    struct transfer *transfer = state;
    transfer->length = 0;
    CURLcode code = curl_easy_perform(transfer->easy);
    if (code != CURLE_OK) {
        fprintf(stderr, "error: curl_easy_perform: %s\n", curl_easy_strerror(code));
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
    const char *tag = memmem(transfer->body, transfer->length, "<amount>", 8);
    if (status != 200 || !tag) {
        fprintf(stderr, "error: HTTP %ld without <amount>\n", status);
        return -1;
    }
    long long amount = strtoll(tag + 8, NULL, 10);
    if (amount != BALANCE) {
        fprintf(stderr, "error: balance %lld, expected %lld\n", amount, BALANCE);
        return -1;
    }
    return 0;
}

/*
 * Each new client is a new easy handle and so a new connection. They share
 * TLS sessions through a share handle, so the second one can resume, as
 * new clients of the library do through its cached TLS configuration.
 */
static void run_new_clients(void) {
    int clients = (int)arg_number("clients", 5);
    int64_t *create = calloc((size_t)clients, sizeof *create);
    int64_t *total = calloc((size_t)clients, sizeof *total);
    CURLSH *share = curl_share_init();
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    struct transfer *transfer = calloc(1, sizeof *transfer);
    for (int i = 0; i < clients; i++) {
        int64_t started = now_ns();
        setup(transfer, share);
        create[i] = now_ns() - started;
        if (check_balance(transfer) != 0) exit(1);
        total[i] = now_ns() - started;
        curl_easy_cleanup(transfer->easy);
    }
    print_list("create_ns", create, clients);
    printf(" ");
    print_list("total_ns", total, clients);
    printf("\n");
    curl_share_cleanup(share);
    free(transfer);
    free(create);
    free(total);
}

int main(int argc, char **argv) {
    bench_argc = argc;
    bench_argv = argv;
    const char *mode = arg_required("mode");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "error: curl_global_init failed\n");
        return 1;
    }

    if (strcmp(mode, "sequential") == 0) {
        struct transfer *transfer = calloc(1, sizeof *transfer);
        setup(transfer, NULL);
        double ns = run_sequential(check_balance, transfer, arg_number("warmup", 100),
                                   arg_number("iterations", 1000));
        printf("ns_per_call=%.0f\n", ns);
        curl_easy_cleanup(transfer->easy);
        free(transfer);
    } else if (strcmp(mode, "threads") == 0) {
        /* An easy handle must not be used by two threads at once, so each
           thread has its own, with its own kept-alive connection. */
        int threads = (int)arg_number("threads", 1);
        void **states = calloc((size_t)threads, sizeof *states);
        for (int i = 0; i < threads; i++) {
            struct transfer *transfer = calloc(1, sizeof *transfer);
            setup(transfer, NULL);
            states[i] = transfer;
        }
        double per_second = run_throughput(check_balance, states, threads,
                                           arg_double("seconds", 1.0), arg_number("warmup", 20));
        printf("calls_per_second=%.0f\n", per_second);
        for (int i = 0; i < threads; i++) {
            curl_easy_cleanup(((struct transfer *)states[i])->easy);
            free(states[i]);
        }
        free(states);
    } else if (strcmp(mode, "new-clients") == 0) {
        run_new_clients();
    } else {
        fprintf(stderr, "error: unknown mode %s\n", mode);
        return 2;
    }
    curl_global_cleanup();
    return 0;
}
