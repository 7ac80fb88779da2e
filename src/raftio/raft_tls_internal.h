/* raft_tls_internal.h - what raft_tls.c and raft_tls_link.c share. */
#ifndef EVENTFLOW_RAFT_TLS_INTERNAL_H
#define EVENTFLOW_RAFT_TLS_INTERNAL_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#include "raftio/raft_tls.h"

struct raft_tls {
    SSL_CTX *ctx;              /* owned reference; each link's session holds its own */
    char *cert, *key, *ca;     /* owned: the files, read again on reload */
    struct raft_tls_link *links; /* every link not yet closing */
    uint64_t bytes;            /* ciphertext through links, both ways */
};

/* The context is going: links still open no longer refer to it. */
void raft_tls_forget_links(struct raft_tls *tls);

#endif
