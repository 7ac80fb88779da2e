/* eventflow/eventflow.h - libeventflow, the C client of eventflow.
 *
 * Include this one header. The API:
 *   eventflow/errors.h  error codes, eventflow_strerror
 *   eventflow/types.h   events, payloads, statuses and the lists that own them
 *   eventflow/client.h  the client: options, appends, reads, iterators,
 *                       pipelined appends, cluster status and membership
 *   eventflow/subscribe.h  subscriptions: events pushed as they commit,
 *                       resumed on another node after a failure
 *   eventflow/group.h   consumer groups: a stream shared among workers,
 *                       each event handled by one, acknowledged or redelivered
 *   eventflow/stream.h  deleting streams, and their retention settings
 *
 * Build with `pkg-config --cflags --libs eventflow`. */
#ifndef EVENTFLOW_EVENTFLOW_H
#define EVENTFLOW_EVENTFLOW_H

#include "eventflow/backup.h"
#include "eventflow/acl.h"
#include "eventflow/client.h"
#include "eventflow/errors.h"
#include "eventflow/group.h"
#include "eventflow/stream.h"
#include "eventflow/subscribe.h"
#include "eventflow/types.h"

/* The library version this header belongs to. */
#define EF_VERSION_MAJOR 0
#define EF_VERSION_MINOR 1
#define EF_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually linked, "0.1.0". */
EF_API const char *eventflow_version(void);

#ifdef __cplusplus
}
#endif

#endif
