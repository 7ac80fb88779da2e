/* group_wire.h - what the GROUP calls send and receive (eventflow/group.h):
 * pure functions, kept apart from the I/O (group.c, group_consume.c) so
 * that they can be unit-tested.
 *
 *   - the JSON argument of each subcommand, checked on the way (names,
 *     ids, counts) so that a bad request fails here with EF_EINVAL rather
 *     than at the server;
 *   - READ's reply into a batch, each event with its delivery count;
 *   - INFO, LIST, PENDING and PARKED replies into the public structs, each
 *     keeping the server's JSON text beside the fields read from it.
 *
 * Functions returning int return EF_OK or an EF_E* code with a reason in
 * err. Nothing here keeps state: thread-safe. */
#ifndef EVENTFLOW_CLIENT_GROUP_WIRE_H
#define EVENTFLOW_CLIENT_GROUP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/json.h"
#include "common/buf.h"
#include "eventflow/group.h"
#include "protocol/resp_reader.h"

/* A group's or a consumer's name: 1..EF_GROUP_NAME_MAX printable ASCII
 * bytes. `what` names it in err. */
int ef_group_name_check(const char *name, const char *what, char err[EF_ERR_LEN]);

/* A blocking read's longest wait: an hour, as the server allows. */
#define EF_GROUP_BLOCK_MAX 3600000

/* Append the argument of each subcommand to out. On error out may hold a
 * partial argument: discard it. */
/* {"group":group}: DESTROY and INFO. */
int ef_group_json_name(struct buf *out, const char *group, char err[EF_ERR_LEN]);
int ef_group_json_create(struct buf *out, const struct eventflow_group_spec *spec,
                         char err[EF_ERR_LEN]);
int ef_group_json_seek(struct buf *out, const char *group,
                       const struct eventflow_group_position *to, char err[EF_ERR_LEN]);
/* {"group":group,"consumer":consumer}: DELCONSUMER. */
int ef_group_json_consumer(struct buf *out, const char *group, const char *consumer, char err[EF_ERR_LEN]);
int ef_group_json_read(struct buf *out, const char *group, const char *consumer, uint32_t count,
                       uint32_t block_ms, char err[EF_ERR_LEN]);
/* ACK, NACK (park: with "park":true) and REPLAY by ids. */
int ef_group_json_ids(struct buf *out, const char *group, const char *const *ids, size_t n,
                      bool park, char err[EF_ERR_LEN]);
/* REPLAY of the count oldest. */
int ef_group_json_replay_count(struct buf *out, const char *group, uint32_t count,
                               char err[EF_ERR_LEN]);
/* PENDING (consumer may be NULL) and PARKED (consumer NULL); after NULL or
 * "": from the first; count 0: the server's default. */
int ef_group_json_list(struct buf *out, const char *group, const char *consumer,
                       const char *after, uint32_t count, char err[EF_ERR_LEN]);

/* READ's reply (an array of bulk event objects, each ending in
 * "deliveries") into *out (replaced; the caller frees it). */
int ef_group_batch_read(const struct resp_value *reply, struct eventflow_group_batch *out,
                        char err[EF_ERR_LEN]);

/* INFO's reply (one bulk object) into *out (zeroed first). */
int ef_group_info_read(const struct resp_value *reply, struct eventflow_group_info *out,
                       char err[EF_ERR_LEN]);
/* LIST, PENDING and PARKED replies (arrays of bulk objects). */
int ef_group_list_read(const struct resp_value *reply, struct eventflow_group_list *out,
                       char err[EF_ERR_LEN]);
int ef_group_pending_read(const struct resp_value *reply,
                          struct eventflow_group_pending_list *out, char err[EF_ERR_LEN]);
int ef_group_parked_read(const struct resp_value *reply, struct eventflow_group_parked_list *out,
                         char err[EF_ERR_LEN]);

#endif
