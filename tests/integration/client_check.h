/* client_check.h - what the libeventflow tests share: a check that fails
 * the cmocka test with the client's own account of an error. Include after
 * <cmocka.h> and <eventflow/eventflow.h>. */
#ifndef EVENTFLOW_TEST_CLIENT_CHECK_H
#define EVENTFLOW_TEST_CLIENT_CHECK_H

/* expr must return EF_OK; otherwise the test fails with the error's name
 * and client c's last error. */
#define EF_CHECK(c, expr)                                                                          \
    do {                                                                                           \
        int ef_rc_ = (expr);                                                                       \
        if (ef_rc_ != EF_OK)                                                                       \
            fail_msg("%s: %s: %s", #expr, eventflow_err_name(ef_rc_),                              \
                     eventflow_client_last_error(c));                                              \
    } while (0)

/* A client of endpoints with short connect and request timeouts, so that
 * a failed node is left quickly. The caller frees it. */
static inline struct eventflow_client *check_client_new(const char *endpoints)
{
    struct eventflow_options o;
    eventflow_options_init(&o);
    o.endpoints = endpoints;
    o.connect_timeout_ms = 500;
    o.request_timeout_ms = 1000;
    struct eventflow_client *c = NULL;
    assert_int_equal(eventflow_client_new(&o, &c), EF_OK);
    return c;
}

#endif
