/*
 * Helpers shared by the two C clients of the benchmark: name=value
 * arguments, a monotonic clock, the resident set size and the measurement
 * loops. The loops do what bench/src/drive.rs does for the Rust clients, so
 * every client is timed the same way, inside its own process.
 */
#ifndef ESBYT_BENCH_COMMON_H
#define ESBYT_BENCH_COMMON_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int bench_argc;
static char **bench_argv;

/* Returns the value of a name=value argument, or NULL when it is missing. */
static inline const char *arg_text(const char *name) {
    size_t length = strlen(name);
    for (int i = 1; i < bench_argc; i++) {
        if (strncmp(bench_argv[i], name, length) == 0 && bench_argv[i][length] == '=') {
            return bench_argv[i] + length + 1;
        }
    }
    return NULL;
}

static inline long long arg_number(const char *name, long long fallback) {
    const char *text = arg_text(name);
    return text ? atoll(text) : fallback;
}

static inline double arg_double(const char *name, double fallback) {
    const char *text = arg_text(name);
    return text ? atof(text) : fallback;
}

static inline const char *arg_required(const char *name) {
    const char *text = arg_text(name);
    if (!text) {
        fprintf(stderr, "error: missing argument %s=...\n", name);
        exit(2);
    }
    return text;
}

static inline int64_t now_ns(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (int64_t)time.tv_sec * 1000000000 + time.tv_nsec;
}

/* Returns VmRSS of this process in KiB, or -1 when /proc is unreadable. */
static inline long resident_kib(void) {
    FILE *status = fopen("/proc/self/status", "r");
    if (!status) {
        return -1;
    }
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, status)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = atol(line + 6);
            break;
        }
    }
    fclose(status);
    return kib;
}

/*
 * A client's balance check: returns 0 on success, prints the reason and
 * returns -1 on failure. `state` belongs to one thread.
 */
typedef int (*call_fn)(void *state);

/* Makes `warmup` calls, then times `iterations` calls. Returns ns per call. */
static inline double run_sequential(call_fn call, void *state, long long warmup, long long iterations) {
    for (long long i = 0; i < warmup; i++) {
        if (call(state) != 0) exit(1);
    }
    int64_t started = now_ns();
    for (long long i = 0; i < iterations; i++) {
        if (call(state) != 0) exit(1);
    }
    return (double)(now_ns() - started) / (double)iterations;
}

struct throughput_run {
    call_fn call;
    void **states;
    long long warmup;
    pthread_barrier_t barrier;
    volatile int stop;
    long long *calls;
};

struct throughput_thread {
    struct throughput_run *run;
    int index;
};

static inline void *throughput_thread_main(void *argument) {
    struct throughput_thread *self = argument;
    struct throughput_run *run = self->run;
    void *state = run->states[self->index];
    for (long long i = 0; i < run->warmup; i++) {
        if (run->call(state) != 0) exit(1);
    }
    pthread_barrier_wait(&run->barrier);
    long long calls = 0;
    while (!__atomic_load_n(&run->stop, __ATOMIC_RELAXED)) {
        if (run->call(state) != 0) exit(1);
        calls++;
    }
    run->calls[self->index] = calls;
    return NULL;
}

/*
 * Runs one thread per state for `seconds` after each made `warmup` calls and
 * returns the total calls per second. Calls in flight when the time is up
 * finish and count, and the time is taken when the last thread ends.
 */
static inline double run_throughput(call_fn call, void **states, int threads, double seconds,
                             long long warmup) {
    struct throughput_run run = {.call = call, .states = states, .warmup = warmup, .stop = 0};
    run.calls = calloc((size_t)threads, sizeof *run.calls);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    struct throughput_thread *arguments = calloc((size_t)threads, sizeof *arguments);
    pthread_barrier_init(&run.barrier, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        arguments[i] = (struct throughput_thread){.run = &run, .index = i};
        if (pthread_create(&ids[i], NULL, throughput_thread_main, &arguments[i]) != 0) {
            fprintf(stderr, "error: pthread_create failed\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&run.barrier);
    int64_t started = now_ns();
    struct timespec pause = {.tv_sec = (time_t)seconds,
                             .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&pause, NULL);
    __atomic_store_n(&run.stop, 1, __ATOMIC_RELAXED);
    long long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        total += run.calls[i];
    }
    double elapsed = (double)(now_ns() - started) / 1e9;
    pthread_barrier_destroy(&run.barrier);
    free(arguments);
    free(ids);
    free(run.calls);
    return (double)total / elapsed;
}

/* Prints comma-separated nanosecond values as one result field. */
static inline void print_list(const char *name, const int64_t *values, int count) {
    printf("%s=", name);
    for (int i = 0; i < count; i++) {
        printf("%s%lld", i ? "," : "", (long long)values[i]);
    }
}

#endif
