/* eventflow/errors.h - error codes of libeventflow.
 *
 * Every function that can fail returns 0 (EF_OK) or one of the negative
 * codes below, never anything else. A client also keeps a one-line message
 * about its last failure (eventflow_client_last_error), with the server's
 * own error text where there was one. */
#ifndef EVENTFLOW_ERRORS_H
#define EVENTFLOW_ERRORS_H

#include "eventflow/export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum eventflow_error {
    EF_OK = 0,
    /* An argument is invalid: checked by the library before sending, or the
     * server refused the request as malformed (bad stream name, empty event
     * type, too many events...). Nothing was written. */
    EF_EINVAL = -1,
    /* No node could serve the request before the retry deadline (all down,
     * no leader elected, every candidate node stale...). Nothing was
     * written by this call. */
    EF_EUNAVAILABLE = -2,
    /* A write may or may not have been applied: the connection was lost or
     * the server answered UNKNOWN after the request was sent, and the write
     * was not idempotent (idempotency keys turned off), or the retry
     * deadline passed before a retry could settle it. Retrying with the
     * same idempotency keys is safe and tells which. */
    EF_EUNKNOWN = -3,
    /* Wrong or missing password, an unknown user, or a user whose rules do
     * not allow the request (NOPERM: nothing was done); or with TLS, a
     * certificate refused: the server's by the client (not signed by its
     * CAs, not naming the host) or the client's by the server. Not
     * retried. */
    EF_EAUTH = -4,
    /* The expected version is below the stream's length: another writer
     * appended first ("concurrent stream modification"). */
    EF_ECONFLICT = -5,
    /* The expected version is above the stream's length ("given version
     * leaves gap in stream"). */
    EF_EGAP = -6,
    /* An idempotency key was applied before with a different event (other
     * stream, type, data, metadata or expected version) or in a different
     * batch ("KEYREUSE idempotency key \"k\" was used before with ...").
     * Nothing was written. Not retried: a new event needs a new key. */
    EF_EKEYREUSE = -7,
    /* The store is full (the server's map size is reached). */
    EF_EFULL = -8,
    /* The request is too large for the server. */
    EF_ETOOBIG = -9,
    /* The server broke the protocol or sent a reply the library does not
     * understand. */
    EF_EPROTO = -10,
    /* The server reported trouble of its own (IOERR), or an error word
     * this version of the library does not know; see the last error. */
    EF_ESERVER = -11,
    /* The pipeline was freed before this append completed; its outcome is
     * unknown unless the server answered. */
    EF_ECANCELED = -12,
    /* Out of memory. Reserved: the library aborts instead (see client.h). */
    EF_ENOMEM = -13,
    /* Nothing arrived within the time the caller gave (a subscription's
     * eventflow_subscription_next). Not a failure: call again. */
    EF_ETIMEDOUT = -14,
    /* What the request names does not exist: no consumer group of that
     * name (NOGROUP), or no such consumer in it (NOCONSUMER). Nothing was
     * changed. */
    EF_ENOTFOUND = -15,
    /* What the request would create exists already: a consumer group of
     * that name (EXISTS). Nothing was changed. */
    EF_EEXISTS = -16,
    /* The stream was hard-deleted: appends are refused (DELETED); or an
     * ADD's idempotency key names an event since removed by a delete or
     * retention (REMOVED: the first attempt was applied). Nothing was
     * written. */
    EF_EDELETED = -17,
};

/* A short description of an error code ("no node could serve the request
 * before the deadline"), or "unknown error" for a value not in the list.
 * The string is static. Thread-safe. */
EF_API const char *eventflow_strerror(int code);

/* The code's name ("EF_EUNAVAILABLE"), or "EF_E?" for a value not in the
 * list. The string is static. Thread-safe. */
EF_API const char *eventflow_err_name(int code);

#ifdef __cplusplus
}
#endif

#endif
