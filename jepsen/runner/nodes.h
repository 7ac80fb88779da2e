/* nodes.h - the cluster's nodes as the client threads that pick nodes
 * themselves (subscribers, group consumers) see them: a name and a client
 * address per slot, and a random choice among them. */
#ifndef JEPSEN_NODES_H
#define JEPSEN_NODES_H

#include <stdint.h>

#include "rng.h"

#define RUN_NODES_MAX 9

struct run_nodes {
    int n;
    char names[RUN_NODES_MAX][8];      /* "n1" */
    char addresses[RUN_NODES_MAX][48]; /* client address */
};

/* A node (0-based) at random, other than current unless there is only one
 * (current -1: any). */
static inline int run_nodes_other(struct rng *r, const struct run_nodes *nodes, int current)
{
    if (nodes->n == 1)
        return 0;
    if (current < 0)
        return (int)rng_below(r, (uint64_t)nodes->n);
    int k = (int)rng_below(r, (uint64_t)nodes->n - 1);
    return k >= current ? k + 1 : k;
}

#endif
