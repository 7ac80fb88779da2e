/* test_store_user.c - the users table in the state machine: a UserOp sets
 * or replaces a whole record, deletes one, survives a reopen, lists in
 * name order, moves the users generation (what connections watch), and a
 * malformed one applies as an invalid entry that changes nothing. Users
 * leave the event count and the checksum alone. */
#include "test_store_util.h"

/* Set user `name` with rules (NULL-terminated; rules NULL: delete it). */
static enum store_status apply_user(struct tfx *f, const char *name, const char *hash, char **rules)
{
    Eventflow__UserRecord rec = EVENTFLOW__USER_RECORD__INIT;
    Eventflow__UserOp op = EVENTFLOW__USER_OP__INIT;
    op.name = (char *)name;
    if (rules != NULL) {
        rec.salt = (ProtobufCBinaryData){.len = 4, .data = (uint8_t *)"salt"};
        rec.hash = (ProtobufCBinaryData){.len = strlen(hash), .data = (uint8_t *)hash};
        rec.iterations = 1000;
        rec.rules = rules;
        while (rules[rec.n_rules] != NULL)
            rec.n_rules++;
        op.set = &rec;
    }
    Eventflow__Entry e = EVENTFLOW__ENTRY__INIT;
    e.command_case = EVENTFLOW__ENTRY__COMMAND_USER;
    e.user = &op;
    size_t len;
    uint8_t *buf = tpack_entry(&e, &len);
    return tapply(f->s, f->index++, buf, len, NULL);
}

struct names {
    char list[256];
};

static int collect(void *data, const char *name, size_t len, const Eventflow__UserRecord *u)
{
    struct names *n = data;
    size_t at = strlen(n->list);
    snprintf(n->list + at, sizeof n->list - at, "%.*s:%zu ", (int)len, name, u->n_rules);
    return 0;
}

static void test_set_get_delete(void **state)
{
    struct tfx *f = *state;
    Eventflow__UserRecord *u = (Eventflow__UserRecord *)1;
    assert_int_equal(store_user_get(f->s, "alice", &u), STORE_ENOENT);
    assert_null(u);
    uint64_t gen = store_users_generation(f->s);
    struct store_stats before = tstats(f->s);

    char *rules[] = {"read:orders-", "admin", NULL};
    assert_int_equal(apply_user(f, "alice", "hash-1", rules), STORE_USER_APPLIED);
    assert_true(store_users_generation(f->s) != gen);
    assert_int_equal(store_user_get(f->s, "alice", &u), 0);
    assert_int_equal(u->n_rules, 2);
    assert_string_equal(u->rules[0], "read:orders-");
    assert_memory_equal(u->hash.data, "hash-1", 6);
    eventflow__user_record__free_unpacked(u, NULL);

    /* A second SETUSER replaces the whole record. */
    char *fewer[] = {"all", NULL};
    assert_int_equal(apply_user(f, "alice", "hash-2", fewer), STORE_USER_APPLIED);
    char *none[] = {NULL};
    assert_int_equal(apply_user(f, "bob", "hash-3", none), STORE_USER_APPLIED);
    assert_int_equal(store_user_get(f->s, "alice", &u), 0);
    assert_int_equal(u->n_rules, 1);
    assert_memory_equal(u->hash.data, "hash-2", 6);
    eventflow__user_record__free_unpacked(u, NULL);
    struct names n = {""};
    assert_int_equal(store_user_list(f->s, collect, &n), 0);
    assert_string_equal(n.list, "alice:1 bob:0 ");

    gen = store_users_generation(f->s);
    assert_int_equal(apply_user(f, "alice", NULL, NULL), STORE_USER_APPLIED);
    assert_true(store_users_generation(f->s) != gen);
    assert_int_equal(store_user_get(f->s, "alice", &u), STORE_ENOENT);

    /* Users are not events. */
    struct store_stats after = tstats(f->s);
    assert_int_equal(after.event_count, before.event_count);
    assert_int_equal(after.checksum, before.checksum);
    assert_int_equal(after.applied_index, f->index - 1);

    /* Durable like every table: reopened, bob is still there. */
    assert_int_equal(store_flush(f->s), 0);
    store_close(f->s);
    f->s = tstore_open(f->dir, TEST_MAP_SIZE);
    n.list[0] = '\0';
    assert_int_equal(store_user_list(f->s, collect, &n), 0);
    assert_string_equal(n.list, "bob:0 ");
}

static void test_malformed_changes_nothing(void **state)
{
    struct tfx *f = *state;
    char *rules[] = {"admin", NULL};
    assert_int_equal(apply_user(f, "alice", "h", rules), STORE_USER_APPLIED);
    uint64_t gen = store_users_generation(f->s);
    /* No name, no hash. */
    assert_int_equal(apply_user(f, "", "h", rules), STORE_INVALID_ENTRY);
    assert_int_equal(apply_user(f, "alice", "", rules), STORE_INVALID_ENTRY);
    assert_int_equal(store_users_generation(f->s), gen);
    Eventflow__UserRecord *u;
    assert_int_equal(store_user_get(f->s, "alice", &u), 0);
    assert_memory_equal(u->hash.data, "h", 1);
    eventflow__user_record__free_unpacked(u, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_get_delete, tfx_setup, tfx_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_changes_nothing, tfx_setup, tfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
