/* errors.c - names and descriptions of the EF_E* codes. */
#include "eventflow/eventflow.h"

#include "version.h"

struct error_text {
    int code;
    const char *name;
    const char *text;
};

static const struct error_text error_texts[] = {
    {EF_OK, "EF_OK", "success"},
    {EF_EINVAL, "EF_EINVAL", "invalid argument or request refused by the server"},
    {EF_EUNAVAILABLE, "EF_EUNAVAILABLE", "no node could serve the request before the deadline"},
    {EF_EUNKNOWN, "EF_EUNKNOWN", "outcome unknown: the write may or may not have been applied"},
    {EF_EAUTH, "EF_EAUTH", "authentication failed (wrong or missing password, or a TLS certificate refused)"},
    {EF_ECONFLICT, "EF_ECONFLICT", "concurrent stream modification (expected version too low)"},
    {EF_EGAP, "EF_EGAP", "expected version leaves a gap in the stream"},
    {EF_EKEYREUSE, "EF_EKEYREUSE", "idempotency key reused for a different write"},
    {EF_EFULL, "EF_EFULL", "the store is full"},
    {EF_ETOOBIG, "EF_ETOOBIG", "request too large"},
    {EF_EPROTO, "EF_EPROTO", "protocol error: unexpected reply from the server"},
    {EF_ESERVER, "EF_ESERVER", "the server reported an error"},
    {EF_ECANCELED, "EF_ECANCELED", "canceled before completion"},
    {EF_ENOMEM, "EF_ENOMEM", "out of memory"},
    {EF_ETIMEDOUT, "EF_ETIMEDOUT", "nothing arrived within the timeout"},
    {EF_ENOTFOUND, "EF_ENOTFOUND", "no such consumer group"},
    {EF_EEXISTS, "EF_EEXISTS", "a consumer group of that name exists already"},
    {EF_EDELETED, "EF_EDELETED", "the stream was deleted, or the event removed"},
};

static const struct error_text *error_find(int code)
{
    for (size_t i = 0; i < sizeof error_texts / sizeof error_texts[0]; i++)
        if (error_texts[i].code == code)
            return &error_texts[i];
    return NULL;
}

const char *eventflow_strerror(int code)
{
    const struct error_text *e = error_find(code);
    return e != NULL ? e->text : "unknown error";
}

const char *eventflow_err_name(int code)
{
    const struct error_text *e = error_find(code);
    return e != NULL ? e->name : "EF_E?";
}

const char *eventflow_version(void)
{
    return EVENTFLOW_VERSION;
}
