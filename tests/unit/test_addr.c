/* test_addr.c - host:port addresses (src/common/addr.c): which hosts are
 * loopback only, for the warning about a raft port open to the network
 * (node.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/addr.h"

static void test_loopback(void **state)
{
    (void)state;
    assert_true(addr_host_is_loopback("127.0.0.1"));
    assert_true(addr_host_is_loopback("127.1.2.3"));
    assert_true(addr_host_is_loopback("::1"));
    assert_true(addr_host_is_loopback("localhost"));
    assert_false(addr_host_is_loopback("0.0.0.0"));
    assert_false(addr_host_is_loopback("::"));
    assert_false(addr_host_is_loopback("10.0.0.1"));
    assert_false(addr_host_is_loopback("128.0.0.1"));
    assert_false(addr_host_is_loopback("node1"));
    assert_false(addr_host_is_loopback("localhost.example.com"));
}

/* The host addr_split gives, as the node's check takes it. */
static void test_split_then_check(void **state)
{
    (void)state;
    char host[64];
    unsigned port;
    assert_int_equal(addr_split("[::1]:7543", host, sizeof host, &port), 0);
    assert_true(addr_host_is_loopback(host));
    assert_int_equal(addr_split("0.0.0.0:7543", host, sizeof host, &port), 0);
    assert_false(addr_host_is_loopback(host));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_split_then_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
