/* appendq.h - raft's log appends of one loop turn written together.
 *
 * Why: raft_uv keeps one log write in flight and, when it completes,
 * starts the next one at once with whatever appends are queued. The
 * completion is usually the first event of a loop turn (the disk finished
 * while the loop was busy), so the ADDs read later in that same turn miss
 * the write it starts and wait for the one after: every request then spent
 * three disk writes' time in the node, and with c clients in a closed loop
 * a write carried about c/3 entries.
 *
 * What: appendq interposes on the raft_io's append hook. Appends are held
 * and handed to raft_uv as one append carrying all their entries, at the
 * end of the loop's I/O phase (a check handle), and only when no append of
 * ours is being written: a write then carries every entry proposed up to
 * the turn its predecessor completed in, so a request waits for one or two
 * writes. Entries, their order and the on-disk format are unchanged (raft
 * itself appends many entries at once on a follower), and raft's view is
 * too: each original request's callback runs once, in order, with the
 * status of the write that carried it.
 *
 * Durability is unchanged: raft counts an entry as stored only when that
 * callback runs, which is after raft_uv's O_DIRECT|O_DSYNC write of it
 * completed; holding an append only delays the callback.
 *
 * Order against raft's other log operations is kept: a truncate that
 * deletes entries, and snapshot_put, hand what is held to raft_uv first
 * (raft_uv orders them behind its pending appends), and close hands it
 * over before raft_uv closes, so raft_uv settles held appends exactly as
 * it would have. The truncate raft 0.22.1 makes before every append names
 * the end of the held batch and deletes nothing: appendq keeps it. An
 * append of APPENDQ_MAX_BYTES or more goes to raft_uv at once, behind what
 * is held, and raft gets raft_uv's answer to it directly.
 *
 * Should raft_uv refuse an append (it does once a write failed), raft_uv's
 * log ends before raft's: every later append and truncate is refused with
 * the same error until the node restarts.
 *
 * Ownership: the struct embeds the sendq (which embeds the raft_io that
 * raft_uv_init fills in); raft is given appendq_io(). Held batches own
 * their entry arrays; the entries' buffers stay raft's until the
 * callbacks ran. Loop thread only. */
#ifndef EVENTFLOW_APPENDQ_H
#define EVENTFLOW_APPENDQ_H

#include <raft.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/hist.h"
#include "raftio/sendq.h"
#include "raftio/turn_end.h"

struct appendq_batch;

/* A held batch is handed over early once it holds this many entries or
 * bytes; an append of this many bytes on its own goes to raft_uv at once,
 * behind what is held. */
#define APPENDQ_MAX_ENTRIES 8192
#define APPENDQ_MAX_BYTES ((size_t)4 << 20)

struct appendq {
    struct sendq sendq; /* first member: its io is the one raft uses */
    /* private */
    int (*inner_append)(struct raft_io *io, struct raft_io_append *req, const struct raft_entry entries[],
                        unsigned n, raft_io_append_cb cb);
    int (*inner_truncate)(struct raft_io *io, raft_index index);
    int (*inner_snapshot_put)(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                              const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb);
    void (*inner_close)(struct raft_io *io, raft_io_close_cb cb);
    struct turn_end turn;         /* hands the held batch over at the end of the turn */
    struct appendq_batch *held;   /* growing; NULL when nothing is held */
    unsigned writing;             /* batches handed over whose callbacks have not run */
    struct appendq_batch *failed; /* refused by the inner append; completed on flush */
    raft_index truncated_at;      /* the last truncate handed to raft_uv, until an append */
    int refused;                  /* the inner append's error once it refused one; sticky */
    uint64_t appends_in;          /* appends raft asked for */
    uint64_t appends_out;         /* appends handed to raft_uv for them */
    uint64_t truncates_skipped;   /* truncates that named the end of a held batch */
    /* For metrics: entries per append handed to raft_uv, and the time from
     * handing a batch over to its callback (the O_DIRECT|O_DSYNC write:
     * the log's fsync), in nanoseconds. An append large enough to bypass
     * the batch reaches raft without passing here and is not timed. */
    struct hist write_entries;
    struct hist write_latency_ns;
};

/* The io raft is given (raft_init) and raft_uv_init fills in. */
static inline struct raft_io *appendq_io(struct appendq *q)
{
    return &q->sendq.io;
}

/* Interpose on appendq_io(q), which raft_uv_init (or any raft_io
 * implementation) must have filled in already; sets up the sendq as well.
 * Returns 0, or a libuv error code (then call appendq_close). */
int appendq_init(struct appendq *q, uv_loop_t *loop);

/* Hand the held batch over now if no batch is being written, and complete
 * refused ones. Called by the loop handles; exposed for tests. */
void appendq_flush(struct appendq *q);

/* Release the handles (the sendq's too) after raft closed the io. Their
 * close callbacks run on a later loop turn; q must stay valid until then. */
void appendq_close(struct appendq *q);

#endif
