/* addr.h - "host:port" addresses, as options, member lists and redirects
 * spell them. */
#ifndef EVENTFLOW_ADDR_H
#define EVENTFLOW_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Split "host:port" (host may be "[v6]") into host (NUL-terminated, at most
 * hostlen bytes with the NUL) and a port of 1..65535. Returns 0, or -1 if
 * the address is not of that form or the host does not fit. */
int addr_split(const char *addr, char *host, size_t hostlen, unsigned *port);

/* Whether host (as addr_split gives it) names this machine's loopback
 * only: 127.0.0.0/8, ::1 or localhost. A name that may resolve elsewhere,
 * or a wildcard (0.0.0.0, ::), is not. */
bool addr_host_is_loopback(const char *host);

/* Whether host names this machine: a loopback host, or an address literal
 * one of this machine's interfaces has (getifaddrs: in this network
 * namespace). Names are not resolved (no DNS at start-up): a name other
 * than localhost is taken as another machine's. */
bool addr_host_is_local(const char *host);

#endif
