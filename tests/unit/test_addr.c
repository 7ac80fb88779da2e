/* test_addr.c - host:port addresses (src/common/addr.c): which hosts are
 * loopback only, for the warning about a raft port open to the network
 * (node.c), and which name this machine, for --cpu-affinity auto. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

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

/* Loopback hosts, and the addresses this machine's interfaces have, are
 * local; addresses no interface has, wildcards and names are not. */
static void test_local(void **state)
{
    (void)state;
    assert_true(addr_host_is_local("127.0.0.1"));
    assert_true(addr_host_is_local("::1"));
    assert_true(addr_host_is_local("localhost"));
    assert_false(addr_host_is_local("224.0.0.1")); /* multicast: no interface has it */
    assert_false(addr_host_is_local("ff02::1"));
    assert_false(addr_host_is_local("0.0.0.0"));
    assert_false(addr_host_is_local("node2"));
    struct ifaddrs *ifs;
    assert_int_equal(getifaddrs(&ifs), 0);
    int checked = 0;
    for (const struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
        char host[INET_ADDRSTRLEN];
        assert_non_null(inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr, host,
                                  sizeof host));
        assert_true(addr_host_is_local(host));
        checked++;
    }
    freeifaddrs(ifs);
    assert_true(checked >= 1); /* lo at least */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_split_then_check),
        cmocka_unit_test(test_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
