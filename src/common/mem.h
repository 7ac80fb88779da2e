/* mem.h - allocation that never returns NULL.
 *
 * eventflow treats running out of memory as fatal, as redis does: a server
 * that cannot allocate cannot answer correctly, and aborting is safer than
 * half-applied state. Every x* function aborts the process with a message
 * on allocation failure, so callers need no NULL checks. */
#ifndef EVENTFLOW_MEM_H
#define EVENTFLOW_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

#endif
