/* iter.c - paging through a stream or the global log.
 *
 * The iterator holds one page and a cursor: the version after the last
 * event handed out (streams) or that event's id (the global log). A page is
 * fetched with the blocking reads, so it gets their routing, retries and
 * read-your-writes guarantee. */
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "common/mem.h"

#define EF_DEFAULT_PAGE 1000

struct eventflow_iter {
    struct eventflow_client *c; /* borrowed */
    bool all;                   /* the global log, else a stream */
    char *stream;               /* owned; streams only */
    uint64_t next_version;      /* streams: version of the next event to fetch */
    char after[EF_ID_LEN + 1];  /* the log: id of the last event handed out, "" */
    uint32_t page_size;
    struct eventflow_event_list page; /* owned */
    size_t pos;                       /* next event of page to hand out */
};

static struct eventflow_iter *iter_new(struct eventflow_client *c, uint32_t page_size)
{
    struct eventflow_iter *it = xcalloc(1, sizeof *it);
    it->c = c;
    it->page_size = page_size != 0 ? page_size : EF_DEFAULT_PAGE;
    return it;
}

int eventflow_iter_stream(struct eventflow_client *c, const char *stream, uint64_t from_version,
                          uint32_t page_size, struct eventflow_iter **out)
{
    *out = NULL;
    if (stream == NULL)
        return ef_fail(c, EF_EINVAL, "stream is NULL");
    struct eventflow_iter *it = iter_new(c, page_size);
    it->stream = xstrdup(stream);
    it->next_version = from_version;
    *out = it;
    return EF_OK;
}

int eventflow_iter_all(struct eventflow_client *c, const char *after_id, uint32_t page_size,
                       struct eventflow_iter **out)
{
    *out = NULL;
    if (after_id != NULL && after_id[0] != '\0' && strlen(after_id) != EF_ID_LEN)
        return ef_fail(c, EF_EINVAL, "after_id must be a %d-character event id", EF_ID_LEN);
    struct eventflow_iter *it = iter_new(c, page_size);
    it->all = true;
    if (after_id != NULL)
        memcpy(it->after, after_id, strlen(after_id) + 1);
    *out = it;
    return EF_OK;
}

int eventflow_iter_next(struct eventflow_iter *it, const struct eventflow_event **ev)
{
    if (it->pos >= it->page.n) {
        eventflow_event_list_free(&it->page);
        it->pos = 0;
        int rc = it->all ? eventflow_read_all(it->c, it->after, it->page_size, &it->page)
                         : eventflow_read_stream(it->c, it->stream, it->next_version,
                                                 it->page_size, &it->page);
        if (rc != EF_OK)
            return rc;
        if (it->page.n == 0)
            return 0;
    }
    const struct eventflow_event *e = &it->page.events[it->pos++];
    if (it->all)
        memcpy(it->after, e->id, EF_ID_LEN + 1);
    else
        it->next_version = e->version + 1;
    *ev = e;
    return 1;
}

void eventflow_iter_free(struct eventflow_iter *it)
{
    if (it == NULL)
        return;
    eventflow_event_list_free(&it->page);
    free(it->stream);
    free(it);
}
