/* json_arena.c - see json_arena.h. */
#include "protocol/json_arena.h"

#include <assert.h>
#include <jansson.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARENA_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Enough for an ADD of a few events of a few hundred bytes each, which
 * is what most ADDs are; a larger one spills over into malloc. */
#define ARENA_BYTES (32 * 1024)
#define ARENA_ALIGN alignof(max_align_t)

static _Thread_local struct {
    alignas(max_align_t) unsigned char block[ARENA_BYTES];
    size_t used;
    bool active;
} arena;

static pthread_once_t arena_installed = PTHREAD_ONCE_INIT;

static bool arena_contains(const void *p)
{
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)arena.block;
    return a >= lo && a - lo < ARENA_BYTES;
}

static void *arena_malloc(size_t size)
{
    if (arena.active && size <= ARENA_BYTES - arena.used) {
        size_t rounded = size == 0 ? ARENA_ALIGN : (size + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
        unsigned char *p = arena.block + arena.used;
        arena.used = rounded <= ARENA_BYTES - arena.used ? arena.used + rounded : ARENA_BYTES;
        ARENA_UNPOISON(p, size);
        return p;
    }
    return malloc(size);
}

/* A pointer into this thread's block is given back all at once by
 * json_arena_end. Blocks of other threads are never handed to jansson
 * outside their own thread's parse, and those values are released on
 * that thread before it ends, so no other thread frees one. */
static void arena_free(void *p)
{
    if (p == NULL || arena_contains(p))
        return;
    free(p);
}

static void arena_install(void)
{
    json_set_alloc_funcs(arena_malloc, arena_free);
}

void json_arena_begin(void)
{
    int rc = pthread_once(&arena_installed, arena_install);
    assert(rc == 0);
    (void)rc;
    assert(!arena.active);
    ARENA_POISON(arena.block, ARENA_BYTES);
    arena.used = 0;
    arena.active = true;
}

void json_arena_end(void)
{
    assert(arena.active);
    ARENA_POISON(arena.block, arena.used);
    arena.used = 0;
    arena.active = false;
}

size_t json_arena_used(void)
{
    return arena.used;
}

bool json_arena_owns(const void *p)
{
    return arena_contains(p);
}
