/* space.h - the leader's view of the room left in every member's store.
 *
 * An entry a member cannot apply stops that member, and its restart stops
 * at the same entry (fsm.c): it would be down until an operator gives its
 * store room. The leader checks its own store before proposing an ADD
 * (store_space_check), but members differ: --map-size is per node, and two
 * stores holding the same events can occupy different sizes (each reuses
 * free pages according to its own history of batches and copies), and
 * their disks fill differently (the room is the filesystem's when that is
 * smaller: --min-free-disk). So the leader also asks every other member
 * for its room twice a second (STATUS: "map_room_bytes" and
 * "store_applied_index") and refuses an ADD that could leave a member that
 * answered recently without room for it and for what was proposed after
 * the member's report was taken.
 *
 * A member that has not answered for SPACE_REPORT_MAX_AGE_MS is not
 * counted: it is down or cut off, and may still stop on an entry when it
 * comes back (it says so in its log). A new leader counts members from
 * their first answers, about half a second after it is elected; until then
 * only its own store is checked. Loop thread only. */
#ifndef EVENTFLOW_SPACE_H
#define EVENTFLOW_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct node;

#define SPACE_MAX_MEMBERS 32
/* (raft index, bytes proposed so far) once per poll, two minutes of them. */
#define SPACE_MARKS 240

struct space_report {
    uint64_t id;
    uint64_t room;          /* the member's map_room_bytes */
    uint64_t proposed_at;   /* space.proposed as of the index its store had
                               applied when it measured (space_proposed_at) */
    uint64_t at_ms;         /* uv_now when the answer came; 0: none yet */
    bool asking;            /* a STATUS request is in flight */
};

struct space_mark {
    uint64_t index;
    uint64_t proposed; /* space.proposed when raft's last index was `index` */
};

struct space {
    struct node *node; /* borrowed */
    uv_timer_t timer;
    bool open;
    uint64_t term;     /* the raft term the marks and reports belong to */
    uint64_t proposed; /* bytes of every ADD proposed while leader, cumulative */
    struct space_mark marks[SPACE_MARKS];
    size_t n_marks, first_mark; /* a ring, oldest at first_mark */
    struct space_report reports[SPACE_MAX_MEMBERS];
    size_t n_reports;
};

/* Start polling (only does anything while this node leads). Returns 0 or a
 * libuv error. */
int space_start(struct space *sp, struct node *n);

/* Stop polling; answers still in flight are ignored when they arrive. */
void space_close(struct space *sp);

/* An ADD of about `bytes` was proposed. */
void space_proposed(struct space *sp, uint64_t bytes);

/* 0 if every member that answered recently has room for an ADD of about
 * `bytes` on top of what it has not applied yet; otherwise -1 with the
 * member's id in *member. */
int space_check(struct space *sp, uint64_t bytes, uint64_t *member);

/* Whether member `id` answered this leader's poll within the last
 * `max_age_ms`: the leader's cheapest sign that the member is up and
 * reachable (a leadership handover's target must be). */
bool space_answered_within(const struct space *sp, uint64_t id, uint64_t max_age_ms);

/* How many members' reports space_check counts right now (STATUS shows it
 * as "member_room_reports"). */
size_t space_reports(const struct space *sp);

#endif
