/* standalone.c - run a libFuzzer target without libFuzzer.
 *
 *   fuzz_<name> <corpus-dir>
 *
 * Calls LLVMFuzzerTestOneInput on every regular file in the corpus directory
 * (not recursively), then on FUZZ_ITERATIONS pseudo-random mutations of
 * them: bit flips, byte inserts, deletes and duplicated chunks, and splices
 * of two corpus files. The mutations come from a xorshift generator seeded by
 * FUZZ_SEED (default 1), so a failing run is reproduced by rerunning with the
 * seed it printed. The whole run stops after FUZZ_SECONDS (default 10) of wall
 * time. A crash or an abort in the target fails the test; otherwise the exit
 * status is 0 and one line says what ran.
 *
 * This file is shared by every fuzz target: nothing here may know what the
 * target parses. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in libFuzzer, so optional here too. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define FUZZ_ITERATIONS 20000
#define FUZZ_MAX_LEN 4096 /* libFuzzer's default -max_len */
#define MAX_MUTATIONS 4

struct input {
    uint8_t *data;
    size_t len;
};

struct corpus {
    struct input *items;
    size_t n;
    size_t cap;
};

static uint64_t rng_state; /* fuzz_xorshift's, seeded by FUZZ_SEED */

static uint64_t rng_next(void)
{
    return fuzz_xorshift(&rng_state);
}

/* A number in [0, n); n > 0. */
static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

static double now_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("fuzz: clock_gettime");
        exit(2);
    }
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *fuzz_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "fuzz: out of memory\n");
        exit(2);
    }
    return q;
}

static int read_file(const char *path, struct input *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    out->data = NULL;
    out->len = 0;
    size_t cap = 0;
    for (;;) {
        if (out->len == cap) {
            cap = cap ? cap * 2 : 4096;
            out->data = fuzz_realloc(out->data, cap);
        }
        size_t n = fread(out->data + out->len, 1, cap - out->len, f);
        out->len += n;
        if (n == 0)
            break;
    }
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        free(out->data);
        return -1;
    }
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Load every regular file of `dir`, in name order so runs are repeatable. */
static int load_corpus(const char *dir, struct corpus *c)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "fuzz: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        names = fuzz_realloc(names, (n + 1) * sizeof *names);
        size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        names[n] = fuzz_realloc(NULL, len);
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, name_cmp);

    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        struct input in;
        if (read_file(names[i], &in) != 0) {
            fprintf(stderr, "fuzz: cannot read %s\n", names[i]);
            rc = -1;
            continue;
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->items = fuzz_realloc(c->items, c->cap * sizeof *c->items);
        }
        c->items[c->n++] = in;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Apply one random edit to buf[0..*len), which has room for FUZZ_MAX_LEN. */
static void mutate_once(uint8_t *buf, size_t *len, const struct corpus *c)
{
    switch (rng_below(6)) {
    case 0: /* flip a bit */
        if (*len > 0)
            buf[rng_below(*len)] ^= (uint8_t)(1u << rng_below(8));
        break;
    case 1: /* overwrite a byte */
        if (*len > 0)
            buf[rng_below(*len)] = (uint8_t)rng_next();
        break;
    case 2: /* insert a byte */
        if (*len < FUZZ_MAX_LEN) {
            size_t at = rng_below(*len + 1);
            memmove(buf + at + 1, buf + at, *len - at);
            buf[at] = (uint8_t)rng_next();
            (*len)++;
        }
        break;
    case 3: { /* delete a range */
        if (*len == 0)
            break;
        size_t at = rng_below(*len);
        size_t n = 1 + rng_below(*len - at < 8 ? *len - at : 8);
        memmove(buf + at, buf + at + n, *len - at - n);
        *len -= n;
        break;
    }
    case 4: { /* copy a chunk of the input somewhere else in it */
        if (*len == 0)
            break;
        size_t from = rng_below(*len);
        size_t n = 1 + rng_below(*len - from);
        if (n > FUZZ_MAX_LEN - *len)
            n = FUZZ_MAX_LEN - *len;
        size_t at = rng_below(*len + 1);
        uint8_t tmp[FUZZ_MAX_LEN];
        memcpy(tmp, buf + from, n);
        memmove(buf + at + n, buf + at, *len - at);
        memcpy(buf + at, tmp, n);
        *len += n;
        break;
    }
    default: { /* splice: keep a prefix, append a suffix of a corpus file */
        if (c->n == 0)
            break;
        const struct input *other = &c->items[rng_below(c->n)];
        size_t keep = rng_below(*len + 1);
        size_t from = rng_below(other->len + 1);
        size_t n = other->len - from;
        if (n > FUZZ_MAX_LEN - keep)
            n = FUZZ_MAX_LEN - keep;
        memcpy(buf + keep, other->data + from, n);
        *len = keep + n;
        break;
    }
    }
}

static unsigned long env_ulong(const char *name, unsigned long fallback)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return fallback;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno != 0 || *end != '\0') {
        fprintf(stderr, "fuzz: ignoring bad %s=%s\n", name, s);
        return fallback;
    }
    return v;
}

/* Run one input from a buffer of exactly its size, so that sanitizers see
 * any read past its end. */
static void run_one(const uint8_t *data, size_t len)
{
    uint8_t *copy = fuzz_realloc(NULL, len);
    if (len > 0)
        memcpy(copy, data, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);

    uint64_t seed = env_ulong("FUZZ_SEED", 1);
    double budget = (double)env_ulong("FUZZ_SECONDS", 10);
    rng_state = seed ? seed : 1; /* xorshift must not start at 0 */

    struct corpus c = {0};
    if (load_corpus(argv[1], &c) != 0)
        return 2;
    /* Said up front too, so a crashing run still tells how to replay it. */
    fprintf(stderr, "fuzz: %zu corpus files, seed %llu, up to %lu mutations in %.0f s\n", c.n,
            (unsigned long long)seed, (unsigned long)FUZZ_ITERATIONS, budget);

    double deadline = now_seconds() + budget;
    unsigned long runs = 0;
    for (size_t i = 0; i < c.n; i++, runs++)
        run_one(c.items[i].data, c.items[i].len);

    uint8_t buf[FUZZ_MAX_LEN];
    for (unsigned long i = 0; i < FUZZ_ITERATIONS; i++, runs++) {
        /* Checking the clock every input would cost more than many inputs. */
        if (i % 64 == 0 && now_seconds() > deadline)
            break;
        size_t len = 0;
        if (c.n > 0) {
            const struct input *base = &c.items[rng_below(c.n)];
            len = base->len < FUZZ_MAX_LEN ? base->len : FUZZ_MAX_LEN;
            memcpy(buf, base->data, len);
        }
        size_t edits = 1 + rng_below(MAX_MUTATIONS);
        for (size_t k = 0; k < edits; k++)
            mutate_once(buf, &len, &c);
        run_one(buf, len);
    }

    printf("fuzz: %lu inputs, seed %llu\n", runs, (unsigned long long)seed);
    for (size_t i = 0; i < c.n; i++)
        free(c.items[i].data);
    free(c.items);
    return 0;
}
