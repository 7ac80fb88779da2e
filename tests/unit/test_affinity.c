/* test_affinity.c - --cpu-affinity parsing and finding a disk's interrupt
 * CPUs (src/server/affinity.c).
 *
 * The disk lookup reads sysfs and /proc/irq; here both are a tree the test
 * builds in a temporary directory, shaped like a virtio-blk disk on PCI:
 * /sys/dev/block/MAJ:MIN links to the block device under its bus device,
 * which lists its MSI vectors; each vector's CPUs are in /proc/irq/N. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/affinity.h"

static char root[256], sys_root[300], proc_root[300];

/* mkdir -p base+rel */
static void mkdirs(const char *base, const char *rel)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s%s'", base, rel);
    assert_int_equal(system(cmd), 0);
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static void put_irq(unsigned irq, const char *file, const char *cpus)
{
    char dir[400], path[500];
    snprintf(dir, sizeof dir, "%s/irq/%u", proc_root, irq);
    mkdirs(dir, "");
    snprintf(path, sizeof path, "%s/%s", dir, file);
    put(path, cpus);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/ef-affinity.XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(sys_root, sizeof sys_root, "%s/sys", root);
    snprintf(proc_root, sizeof proc_root, "%s/proc", root);
    /* 254:0 is vda on PCI device 0000:00:02.0, 254:1 its first partition;
     * 7:0 is a loop device with no interrupts of its own. */
    mkdirs(sys_root, "/devices/pci0000:00/0000:00:02.0/virtio1/block/vda/vda1");
    mkdirs(sys_root, "/devices/pci0000:00/0000:00:02.0/msi_irqs/35");
    mkdirs(sys_root, "/devices/pci0000:00/0000:00:02.0/msi_irqs/36");
    mkdirs(sys_root, "/devices/virtual/block/loop0");
    mkdirs(sys_root, "/dev/block");
    char link[600];
    snprintf(link, sizeof link, "%s/dev/block/254:0", sys_root);
    assert_int_equal(symlink("../../devices/pci0000:00/0000:00:02.0/virtio1/block/vda", link), 0);
    snprintf(link, sizeof link, "%s/dev/block/254:1", sys_root);
    assert_int_equal(symlink("../../devices/pci0000:00/0000:00:02.0/virtio1/block/vda/vda1", link), 0);
    snprintf(link, sizeof link, "%s/dev/block/7:0", sys_root);
    assert_int_equal(symlink("../../devices/virtual/block/loop0", link), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void assert_list(const char *in, const char *want)
{
    cpu_set_t set;
    char out[128];
    assert_int_equal(affinity_cpulist_parse(in, &set), 0);
    affinity_cpulist_format(&set, out, sizeof out);
    assert_string_equal(out, want);
}

static void test_cpulist(void **state)
{
    (void)state;
    assert_list("1", "1");
    assert_list("0-3,8\n", "0-3,8");
    assert_list("5,0,1,2", "0-2,5");
    assert_list("3-3", "3");
    cpu_set_t set;
    const char *bad[] = {"", "\n", "a", "1,", ",1", "3-1", "1-", "-1", "1 2", "1-2-3", "99999", "1\n\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(affinity_cpulist_parse(bad[i], &set), -1);
}

static void test_spec(void **state)
{
    (void)state;
    struct affinity_spec spec;
    char err[160];
    assert_int_equal(affinity_parse("off", &spec, err, sizeof err), 0);
    assert_int_equal(spec.mode, AFFINITY_OFF);
    assert_int_equal(affinity_parse("disk", &spec, err, sizeof err), 0);
    assert_int_equal(spec.mode, AFFINITY_DISK);
    assert_int_equal(affinity_parse("0,2", &spec, err, sizeof err), 0);
    assert_int_equal(spec.mode, AFFINITY_LIST);
    assert_true(CPU_ISSET(0, &spec.cpus) && !CPU_ISSET(1, &spec.cpus) && CPU_ISSET(2, &spec.cpus));
    assert_int_equal(affinity_parse("Disk", &spec, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid CPU affinity 'Disk'"));
}

/* Both vectors of the disk count, whichever file names their CPUs. */
static void test_disk_irqs(void **state)
{
    (void)state;
    put_irq(35, "effective_affinity_list", "1\n");
    put_irq(36, "smp_affinity_list", "3\n"); /* no effective_affinity_list */
    cpu_set_t cpus;
    char why[256] = "";
    char want[64];
    assert_int_equal(affinity_disk_cpus(sys_root, proc_root, makedev(254, 0), &cpus, why, sizeof why), 0);
    affinity_cpulist_format(&cpus, want, sizeof want);
    assert_string_equal(want, "1,3");
    /* A partition walks up to the same device. */
    assert_int_equal(affinity_disk_cpus(sys_root, proc_root, makedev(254, 1), &cpus, why, sizeof why), 0);
    affinity_cpulist_format(&cpus, want, sizeof want);
    assert_string_equal(want, "1,3");
}

/* The effective affinity wins over the configured mask. */
static void test_effective_first(void **state)
{
    (void)state;
    put_irq(35, "smp_affinity_list", "0-7\n");
    put_irq(35, "effective_affinity_list", "2\n");
    cpu_set_t cpus;
    char why[256], want[64];
    assert_int_equal(affinity_disk_cpus(sys_root, proc_root, makedev(254, 0), &cpus, why, sizeof why), 0);
    affinity_cpulist_format(&cpus, want, sizeof want);
    assert_string_equal(want, "2");
}

static void test_disk_not_found(void **state)
{
    (void)state;
    cpu_set_t cpus;
    char why[256];
    /* No such device (an overlay or tmpfs has an anonymous one). */
    assert_int_equal(affinity_disk_cpus(sys_root, proc_root, makedev(0, 42), &cpus, why, sizeof why), -1);
    assert_non_null(strstr(why, "not a block device"));
    /* A device with no interrupts anywhere up its path. */
    assert_int_equal(affinity_disk_cpus(sys_root, proc_root, makedev(7, 0), &cpus, why, sizeof why), -1);
    assert_non_null(strstr(why, "no interrupt found"));
    /* The disk's vectors exist but /proc has nothing for them. */
    assert_int_equal(affinity_disk_cpus(sys_root, proc_root, makedev(254, 0), &cpus, why, sizeof why), -1);
    assert_int_equal(CPU_COUNT(&cpus), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpulist),
        cmocka_unit_test(test_spec),
        cmocka_unit_test_setup_teardown(test_disk_irqs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_effective_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_not_found, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
