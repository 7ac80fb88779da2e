/* groups_final.c - the group workload's end (groups.h): whether the groups
 * have settled, and their final state on every node, for the checker. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"
#include "history.h"
#include "mono.h"
#include "rawresp.h"

#define QUERY_MS 5000
#define LIST_PAGE 10000   /* GROUP PENDING / PARKED: the most one call lists */
#define APPLY_WAIT_MS 10000

static json_int_t field_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

bool groups_settled(const char *address, char *why, size_t len)
{
    char names[GROUPS_MAX][32];
    int n = groups_names(names, GROUPS_MAX);
    why[0] = '\0';
    for (int i = 0; i < n; i++) {
        char err[512];
        json_t *info = gop_query(address, "INFO", names[i], QUERY_MS, err, sizeof err);
        if (info == NULL) {
            snprintf(why, len, "%s: %s", names[i], err);
            return false;
        }
        json_int_t pending = field_int(info, "pending"), lag = field_int(info, "lag");
        json_decref(info);
        if (pending != 0 || lag != 0) {
            snprintf(why, len, "%s: %lld pending, lag %lld", names[i], (long long)pending, (long long)lag);
            return false;
        }
    }
    return true;
}

/* Every entry of GROUP PENDING or PARKED, page after page. NULL with err. */
static json_t *list_all(const char *address, const char *sub, const char *group, char *err, size_t errlen)
{
    json_t *all = json_array();
    char after[32] = "";
    for (;;) {
        json_t *req = json_must(json_pack("{s:s, s:i}", "group", group, "count", LIST_PAGE));
        if (after[0] != '\0')
            json_object_set_new(req, "after", json_string(after));
        char *arg = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        json_t *page = arg != NULL ? gop_query(address, sub, arg, QUERY_MS, err, errlen) : NULL;
        free(arg);
        if (!json_is_array(page)) {
            if (page != NULL)
                snprintf(err, errlen, "%s: not an array", sub);
            json_decref(page);
            json_decref(all);
            return NULL;
        }
        size_t n = json_array_size(page);
        const char *last = n > 0 ? json_string_value(json_object_get(json_array_get(page, n - 1), "id")) : NULL;
        if (last != NULL)
            snprintf(after, sizeof after, "%s", last);
        json_array_extend(all, page);
        json_decref(page);
        if (n < LIST_PAGE || last == NULL)
            return all;
    }
}

static void record_one(const struct run_nodes *nodes, int node, bool leader, const char *group)
{
    const char *address = nodes->addresses[node];
    json_t *e = json_must(json_pack("{s:s, s:i, s:s, s:I, s:s, s:s, s:b}", "type", "info", "process", -1, "f",
                                    "group_final", "time", (json_int_t)history_now(), "group", group, "node",
                                    nodes->names[node], "leader", leader));
    char err[512] = "";
    json_t *info = gop_query(address, "INFO", group, QUERY_MS, err, sizeof err);
    json_t *pending = info != NULL ? list_all(address, "PENDING", group, err, sizeof err) : NULL;
    json_t *parked = pending != NULL ? list_all(address, "PARKED", group, err, sizeof err) : NULL;
    if (info != NULL)
        json_object_set_new(e, "info", info);
    if (pending != NULL)
        json_object_set_new(e, "pending", pending);
    if (parked != NULL)
        json_object_set_new(e, "parked", parked);
    json_object_set_new(e, "complete", json_boolean(parked != NULL));
    if (parked == NULL)
        json_object_set_new(e, "error", json_string(err));
    history_write(e);
}

/* Wait until node has applied `index` (the leader's commit index). */
static void wait_applied(const struct run_nodes *nodes, int node, json_int_t index, long long deadline)
{
    while (mono_ms() < deadline) {
        char err[256];
        json_t *st = rawresp_status(nodes->addresses[node], QUERY_MS, err, sizeof err);
        json_int_t applied = st != NULL ? field_int(st, "applied_index") : -1;
        json_decref(st);
        if (applied >= index)
            return;
        sleep_ms(200);
    }
}

void groups_record_final(const struct run_nodes *nodes, const int *members, int n_members, int leader)
{
    char names[GROUPS_MAX][32];
    int n = groups_names(names, GROUPS_MAX);
    if (n == 0)
        return;
    json_int_t commit = -1;
    if (leader >= 0) {
        char err[256];
        json_t *st = rawresp_status(nodes->addresses[leader], QUERY_MS, err, sizeof err);
        commit = st != NULL ? field_int(st, "commit_index") : -1;
        json_decref(st);
    }
    long long deadline = mono_ms() + APPLY_WAIT_MS;
    for (int k = 0; k < n_members; k++)
        if (members[k] != leader && commit >= 0)
            wait_applied(nodes, members[k], commit, deadline);
    for (int i = 0; i < n; i++) {
        if (leader >= 0)
            record_one(nodes, leader, true, names[i]);
        for (int k = 0; k < n_members; k++)
            if (members[k] != leader)
                record_one(nodes, members[k], false, names[i]);
    }
}
