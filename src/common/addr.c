/* addr.c - see addr.h. */
#include "common/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static int port_parse(const char *s, unsigned *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int addr_split(const char *addr, char *host, size_t hostlen, unsigned *port)
{
    const char *colon;
    const char *h = addr;
    size_t hlen;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = addr + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (colon == NULL)
            return -1;
        hlen = (size_t)(colon - addr);
    }
    if (hlen == 0 || hlen >= hostlen || port_parse(colon + 1, port) != 0)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    return 0;
}

bool addr_host_is_loopback(const char *host)
{
    if (strcmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

bool addr_host_is_local(const char *host)
{
    if (addr_host_is_loopback(host))
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    bool v4 = inet_pton(AF_INET, host, &a4) == 1;
    if (!v4 && inet_pton(AF_INET6, host, &a6) != 1)
        return false;
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0)
        return false;
    bool found = false;
    for (const struct ifaddrs *i = ifs; i != NULL && !found; i = i->ifa_next) {
        if (i->ifa_addr == NULL)
            continue;
        if (v4 && i->ifa_addr->sa_family == AF_INET)
            found = memcmp(&((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr, &a4, sizeof a4) == 0;
        else if (!v4 && i->ifa_addr->sa_family == AF_INET6)
            found = memcmp(&((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr, &a6, sizeof a6) == 0;
    }
    freeifaddrs(ifs);
    return found;
}
