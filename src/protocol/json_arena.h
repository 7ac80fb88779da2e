/* json_arena.h - jansson's allocations for one parse, from a block that is
 * reset instead of freed.
 *
 * Parsing an ADD with jansson allocates a dozen small pieces (each object,
 * its hash table and pairs, every string, the lexer's growing buffer) and
 * frees them all again a few microseconds later: a tenth of the loop's
 * time at 40,000 ADDs/s went to malloc and free. Between begin and end,
 * jansson's allocations on this thread come from a fixed per-thread block
 * by bumping a pointer, and freeing them does nothing; what does not fit
 * comes from malloc as before. Outside a parse, and on every other thread,
 * jansson allocates with malloc as if nothing had been installed.
 *
 * The rule that makes this safe: every jansson value created between
 * json_arena_begin and json_arena_end must be released (json_decref)
 * before json_arena_end, and nothing may keep a pointer into one. codec.c
 * copies what it keeps out of the tree before it ends the parse. In an
 * AddressSanitizer build the block is poisoned outside live allocations,
 * so a pointer that escapes is reported at its first use.
 *
 * Threading: the block and its state are per thread; begin and end must
 * be called on the same thread, and sessions do not nest. */
#ifndef EVENTFLOW_JSON_ARENA_H
#define EVENTFLOW_JSON_ARENA_H

#include <stdbool.h>
#include <stddef.h>

/* Start a parse on this thread. The first call installs the allocator
 * into jansson (json_set_alloc_funcs) for the whole process. */
void json_arena_begin(void);

/* End it: the block's memory is reused by the next parse. */
void json_arena_end(void);

/* Bytes of the block handed out in the current parse (for tests). */
size_t json_arena_used(void);

/* True if p points into this thread's block (for tests). */
bool json_arena_owns(const void *p);

#endif
