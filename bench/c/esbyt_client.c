/*
 * The esbyt library through its C ABI, as a cash-register host uses it:
 * libesbyt.so is loaded with dlopen, and every call goes through
 * esbyt_check_bonus. Started by the esbyt-bench orchestrator with name=value
 * arguments, and prints one line of name=value results.
 *
 *   library=PATH  the libesbyt.so to load
 *   mode=         sequential | threads | new-clients | memory | load
 *   url=          base URL of the loopback server
 *   ca= cert= key=  PEM files of mutual TLS, for an https:// URL
 *   warmup= iterations= threads= seconds= clients= calls=
 *
 * Build: cc -O2 -Iinclude bench/c/esbyt_client.c -o esbyt_client -ldl -lpthread
 */
#include <dlfcn.h>

#include "../../include/esbyt.h"
#include "bench_common.h"

static const char *const CARD = "2700009601205";
static const int64_t BALANCE = 500;

/* The exports used, resolved with dlsym. */
struct api {
    __typeof__(&esbyt_abi_version) abi_version;
    __typeof__(&esbyt_config_new) config_new;
    __typeof__(&esbyt_config_set) config_set;
    __typeof__(&esbyt_config_free) config_free;
    __typeof__(&esbyt_client_new) client_new;
    __typeof__(&esbyt_client_free) client_free;
    __typeof__(&esbyt_check_bonus) check_bonus;
};

static struct api api;

static void *resolve(void *library, const char *name) {
    void *symbol = dlsym(library, name);
    if (!symbol) {
        fprintf(stderr, "error: %s not found in the library: %s\n", name, dlerror());
        exit(1);
    }
    return symbol;
}

static void load_api(const char *path) {
    void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        fprintf(stderr, "error: dlopen %s failed: %s\n", path, dlerror());
        exit(1);
    }
    api.abi_version = resolve(library, "esbyt_abi_version");
    api.config_new = resolve(library, "esbyt_config_new");
    api.config_set = resolve(library, "esbyt_config_set");
    api.config_free = resolve(library, "esbyt_config_free");
    api.client_new = resolve(library, "esbyt_client_new");
    api.client_free = resolve(library, "esbyt_client_free");
    api.check_bonus = resolve(library, "esbyt_check_bonus");
    if (api.abi_version() != ESBYT_ABI_VERSION) {
        fprintf(stderr, "error: the library has ABI version %d, the header %d\n",
                api.abi_version(), ESBYT_ABI_VERSION);
        exit(1);
    }
}

static void set(esbyt_config *config, const char *name, const char *value) {
    esbyt_error error;
    if (api.config_set(config, name, value, &error) != ESBYT_OK) {
        fprintf(stderr, "error: esbyt_config_set %s: %s\n", name, error.message);
        exit(1);
    }
}

/* Creates a client with the settings that bench/src/library.rs uses too. */
static esbyt_client *new_client(void) {
    const char *url = arg_required("url");
    esbyt_config *config = api.config_new();
    set(config, "url", url);
    if (strncmp(url, "http://", 7) == 0) {
        set(config, "allow_http", "1");
    }
    if (arg_text("ca")) set(config, "extra_ca_file", arg_text("ca"));
    if (arg_text("cert")) set(config, "client_cert_file", arg_text("cert"));
    if (arg_text("key")) set(config, "client_key_file", arg_text("key"));

    esbyt_client *client = NULL;
    esbyt_error error;
    if (api.client_new(config, &client, &error) != ESBYT_OK) {
        fprintf(stderr, "error: esbyt_client_new: %s\n", error.message);
        exit(1);
    }
    api.config_free(config);
    return client;
}

static int check_balance(void *state) {
    esbyt_balance balance;
    esbyt_error error;
    int32_t status = api.check_bonus(state, CARD, &balance, &error);
    if (status != ESBYT_OK) {
        fprintf(stderr, "error: esbyt_check_bonus returned %d: %s\n", status, error.message);
        return -1;
    }
    if (balance.amount != BALANCE) {
        fprintf(stderr, "error: balance %lld, expected %lld\n", (long long)balance.amount,
                (long long)BALANCE);
        return -1;
    }
    return 0;
}

/* Times dlopen, client creation and the first call, in a fresh process. */
static void run_load(const char *path) {
    int64_t started = now_ns();
    load_api(path);
    int64_t loaded = now_ns();
    esbyt_client *client = new_client();
    int64_t created = now_ns();
    if (check_balance(client) != 0) exit(1);
    int64_t answered = now_ns();
    printf("load_ns=%lld create_ns=%lld call_ns=%lld total_ns=%lld\n",
           (long long)(loaded - started), (long long)(created - loaded),
           (long long)(answered - created), (long long)(answered - started));
    api.client_free(client);
}

/* Reports VmRSS after client creation and after 1,000 and `calls` calls. */
static void run_memory(esbyt_client *client) {
    long long calls = arg_number("calls", 100000);
    long after_create = resident_kib();
    long after_1000 = -1;
    for (long long i = 1; i <= calls; i++) {
        if (check_balance(client) != 0) exit(1);
        if (i == 1000) after_1000 = resident_kib();
    }
    printf("rss_kib_after_create=%ld rss_kib_after_1000=%ld rss_kib_after_all=%ld calls=%lld\n",
           after_create, after_1000, resident_kib(), calls);
}

static void run_new_clients(void) {
    int clients = (int)arg_number("clients", 5);
    int64_t *create = calloc((size_t)clients, sizeof *create);
    int64_t *total = calloc((size_t)clients, sizeof *total);
    for (int i = 0; i < clients; i++) {
        int64_t started = now_ns();
        esbyt_client *client = new_client();
        create[i] = now_ns() - started;
        if (check_balance(client) != 0) exit(1);
        total[i] = now_ns() - started;
        api.client_free(client);
    }
    print_list("create_ns", create, clients);
    printf(" ");
    print_list("total_ns", total, clients);
    printf("\n");
    free(create);
    free(total);
}

int main(int argc, char **argv) {
    bench_argc = argc;
    bench_argv = argv;
    const char *path = arg_required("library");
    const char *mode = arg_required("mode");

    if (strcmp(mode, "load") == 0) {
        run_load(path);
        return 0;
    }
    load_api(path);
    if (strcmp(mode, "new-clients") == 0) {
        run_new_clients();
        return 0;
    }

    esbyt_client *client = new_client();
    if (strcmp(mode, "sequential") == 0) {
        double ns = run_sequential(check_balance, client, arg_number("warmup", 100),
                                   arg_number("iterations", 1000));
        printf("ns_per_call=%.0f\n", ns);
    } else if (strcmp(mode, "threads") == 0) {
        /* One client shared by every thread, as the header recommends. */
        int threads = (int)arg_number("threads", 1);
        void **states = calloc((size_t)threads, sizeof *states);
        for (int i = 0; i < threads; i++) states[i] = client;
        double per_second = run_throughput(check_balance, states, threads,
                                           arg_double("seconds", 1.0), arg_number("warmup", 20));
        printf("calls_per_second=%.0f\n", per_second);
        free(states);
    } else if (strcmp(mode, "memory") == 0) {
        run_memory(client);
    } else {
        fprintf(stderr, "error: unknown mode %s\n", mode);
        return 2;
    }
    api.client_free(client);
    return 0;
}
