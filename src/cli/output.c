/* output.c - tables, JSON, events and names for eventflowctl. */
#include "cli/output.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/mem.h"

int output_done(bool json, json_t *j, const char *fmt, ...)
{
    int rc = CLI_EXIT_OK;
    if (json) {
        json_object_set_new(j, "ok", json_true());
        if (output_json(stdout, j, false) != 0)
            rc = CLI_EXIT_USAGE;
    } else {
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
    }
    json_decref(j);
    return rc;
}

/* ---- tables ------------------------------------------------------------- */

struct table {
    size_t ncols;
    const char *const *headers; /* borrowed */
    bool *right;                /* owned: ncols flags */
    char **cells;               /* owned: nrows * ncols strings, NULL = empty */
    size_t nrows;
    size_t cap_rows;
};

struct table *table_new(size_t ncols, const char *const *headers)
{
    struct table *t = xcalloc(1, sizeof *t);
    t->ncols = ncols;
    t->headers = headers;
    t->right = xcalloc(ncols, sizeof *t->right);
    return t;
}

void table_free(struct table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->right);
    free(t);
}

void table_align_right(struct table *t, size_t col)
{
    if (col < t->ncols)
        t->right[col] = true;
}

void table_row(struct table *t)
{
    if (t->nrows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 8;
        t->cells = xrealloc(t->cells, t->cap_rows * t->ncols * sizeof *t->cells);
    }
    memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof *t->cells);
    t->nrows++;
}

void table_set(struct table *t, size_t col, const char *fmt, ...)
{
    if (t->nrows == 0 || col >= t->ncols)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fprintf(stderr, "eventflowctl: out of memory\n");
        abort();
    }
    char **cell = &t->cells[(t->nrows - 1) * t->ncols + col];
    free(*cell);
    *cell = s;
}

static const char *cell_text(const struct table *t, size_t row, size_t col)
{
    const char *s = t->cells[row * t->ncols + col];
    return s != NULL ? s : "";
}

static void print_line(const struct table *t, FILE *out, const size_t *width, size_t row, bool header)
{
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = header ? t->headers[c] : cell_text(t, row, c);
        bool last = c + 1 == t->ncols;
        int w = (int)width[c];
        if (t->right[c])
            fprintf(out, "%*s", w, s);
        else if (last) /* no trailing blanks */
            fputs(s, out);
        else
            fprintf(out, "%-*s", w, s);
        if (!last)
            fputs("  ", out);
    }
    fputc('\n', out);
}

void table_print(const struct table *t, FILE *out)
{
    size_t *width = xcalloc(t->ncols, sizeof *width);
    for (size_t c = 0; c < t->ncols; c++) {
        width[c] = strlen(t->headers[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t len = strlen(cell_text(t, r, c));
            if (len > width[c])
                width[c] = len;
        }
    }
    print_line(t, out, width, 0, true);
    for (size_t r = 0; r < t->nrows; r++)
        print_line(t, out, width, r, false);
    free(width);
}

/* ---- JSON --------------------------------------------------------------- */

int output_json(FILE *out, const json_t *v, bool pretty)
{
    size_t flags = JSON_ENCODE_ANY | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    if (json_dumpf(v, out, flags) != 0 || fputc('\n', out) == EOF)
        return -1;
    return 0;
}

json_t *output_json_u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* ---- events ------------------------------------------------------------- */

/* A payload as the server returns it: a string payload as a JSON string, a
 * JSON payload as that value, none as null. */
static json_t *payload_json(const struct eventflow_payload *p)
{
    json_t *v = NULL;
    switch (p->kind) {
    case EF_PAYLOAD_NULL:
        break;
    case EF_PAYLOAD_STRING:
        v = json_stringn(p->bytes, p->len);
        break;
    case EF_PAYLOAD_JSON:
        v = json_loadb(p->bytes, p->len, JSON_DECODE_ANY, NULL);
        if (v == NULL) /* not expected from a server; keep the bytes visible */
            v = json_stringn(p->bytes, p->len);
        break;
    }
    return v != NULL ? v : json_null();
}

json_t *output_event_json(const struct eventflow_event *ev)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(ev->id));
    json_object_set_new(o, "stream", json_string(ev->stream));
    json_object_set_new(o, "version", output_json_u64(ev->version));
    json_object_set_new(o, "type", json_string(ev->type));
    json_object_set_new(o, "data", payload_json(&ev->data));
    json_object_set_new(o, "metadata", payload_json(&ev->metadata));
    json_object_set_new(o, "causation_id", json_string(ev->causation_id));
    json_object_set_new(o, "correlation_id", json_string(ev->correlation_id));
    json_object_set_new(o, "added_at", json_string(ev->added_at));
    return o;
}

#define EVENT_ROW_FMT "%-26s  %-20s  %7s  %-20s  %-30s  %s\n"
/* Data longer than this is cut in the table (JSON output has all of it). */
#define EVENT_DATA_MAX 60

void output_event_header(FILE *out)
{
    fprintf(out, EVENT_ROW_FMT, "ID", "STREAM", "VERSION", "TYPE", "ADDED AT", "DATA");
}

void output_event_row(FILE *out, const struct eventflow_event *ev)
{
    json_t *data = payload_json(&ev->data);
    char *text = json_dumps(data, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(data);
    if (text != NULL && strlen(text) > EVENT_DATA_MAX)
        memcpy(text + EVENT_DATA_MAX - 3, "...", 4);
    char version[24];
    snprintf(version, sizeof version, "%" PRIu64, ev->version);
    fprintf(out, EVENT_ROW_FMT, ev->id, ev->stream, version, ev->type, ev->added_at,
            text != NULL ? text : "?");
    free(text);
}

/* ---- names ---------------------------------------------------------------- */

const char *output_role_name(enum eventflow_role r)
{
    switch (r) {
    case EF_ROLE_VOTER:
        return "voter";
    case EF_ROLE_STANDBY:
        return "standby";
    case EF_ROLE_SPARE:
        return "spare";
    default:
        return "unknown";
    }
}
