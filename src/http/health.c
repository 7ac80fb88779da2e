/* health.c - GET /health: 200 or 503 with eventflowctl health --local's
 * judgement (src/cli/status.c), from this node's own STATUS: unhealthy
 * when it knows no leader, has lost contact with it (stale), or leads but
 * is not ready yet. Answered at once, without a command. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"
#include "server/server.h"

void health_get(struct http_request *rq, const struct route *r, const char *const *params, const size_t *lens)
{
    struct buf st;
    buf_init(&st);
    server_write_status(rq->http->srv, &st);
    json_t *status = json_loadb(st.data, st.len, 0, NULL);
    buf_free(&st);
    if (status == NULL) {
        respond_error(rq, 500, "internal", "this node's status could not be read");
        return;
    }
    json_int_t leader = json_integer_value(json_object_get(status, "leader_id"));
    bool stale = json_is_true(json_object_get(status, "stale"));
    bool ready = json_is_true(json_object_get(status, "ready"));
    const char *state = json_string_value(json_object_get(status, "state"));
    bool leads = state != NULL && strcmp(state, "leader") == 0;
    const char *why = leader == 0 ? "knows no leader"
                      : stale     ? "has lost contact with the leader"
                      : leads && !ready ? "leads but is not ready yet"
                                        : NULL;
    json_t *out = json_pack("{s:b, s:O?, s:s?, s:I, s:O?, s:O?}", "healthy", why == NULL, "id",
                            json_object_get(status, "id"), "state", state, "leader_id", leader, "term",
                            json_object_get(status, "term"), "applied_index",
                            json_object_get(status, "applied_index"));
    if (out != NULL && why != NULL)
        json_object_set_new(out, "reason", json_string(why));
    char *text = out != NULL ? json_dumps(out, JSON_COMPACT) : NULL;
    if (text == NULL)
        respond_error(rq, 500, "internal", "the health answer could not be written");
    else
        respond_json(rq, why == NULL ? 200 : 503, text, strlen(text));
    free(text);
    json_decref(out);
    json_decref(status);
}
