/* cpucount_test.c: cgroup CPU quotas read (v2 cpu.max, v1 CFS files) and the CPU count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the four it needs */

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "phase4/net/cpucount.h"

static long parse(const char *s)
{
    return p4_cpucount_quota_parse(s, strlen(s));
}

static void quotas_round_up(void **state)
{
    (void)state;
    assert_int_equal(parse("100000 100000\n"), 1);
    assert_int_equal(parse("150000 100000\n"), 2);
    assert_int_equal(parse("200000 100000"), 2);
    assert_int_equal(parse("50000 100000\n"), 1);
    assert_int_equal(parse("1 100000\n"), 1);
    assert_int_equal(parse("800000\t100000\n"), 8);
    /* cgroup v1's two files, joined */
    assert_int_equal(parse("250000 100000"), 3);
}

static void no_quota_is_zero(void **state)
{
    (void)state;
    assert_int_equal(parse("max 100000\n"), 0);
    assert_int_equal(parse("max 100000"), 0);
    assert_int_equal(parse("-1 100000\n"), 0);
}

static void garbage_is_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "\n",
        "max",
        "max\n",
        "150000",
        "150000\n",
        "150000 ",
        "150000 0\n",
        "0 100000\n",
        "-2 100000\n",
        "-10 100000\n",
        "maximum 100000\n",
        "150000 100000 7\n",
        "150000 100000\n\n",
        "150000  100000\n",
        " 150000 100000\n",
        "+150000 100000\n",
        "150000 -100000\n",
        "1.5 1\n",
        "abc def\n",
        "99999999999999999999 100000\n",
        "100000 99999999999999999999\n",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i]) != -1)
            fail_msg("'%s' was read as %ld CPUs", bad[i], parse(bad[i]));
    }
    assert_int_equal(p4_cpucount_quota_parse(NULL, 0), -1);
    /* Bytes past len are not read: "150000 100000" cut before its period. */
    assert_int_equal(p4_cpucount_quota_parse("150000 100000", 7), -1);
    /* A NUL inside is not the form. */
    assert_int_equal(p4_cpucount_quota_parse("150000\0100000", 13), -1);
}

/* A directory under /tmp holding the given files (name, content; NULL-terminated pairs). */
static void make_dir(char *dir, size_t size, const char *const *files)
{
    char path[PATH_MAX];

    (void)snprintf(dir, size, "/tmp/cpucount_test.XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (; files[0] != NULL; files += 2) {
        FILE *f;

        if (strchr(files[0], '/') != NULL) {
            (void)snprintf(path, sizeof(path), "%s/cpu", dir);
            assert_true(mkdir(path, 0700) == 0 || access(path, F_OK) == 0);
        }
        (void)snprintf(path, sizeof(path), "%s/%s", dir, files[0]);
        f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fputs(files[1], f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
    }
}

static void remove_dir(const char *dir, const char *const *files)
{
    char path[PATH_MAX];

    for (; files[0] != NULL; files += 2) {
        (void)snprintf(path, sizeof(path), "%s/%s", dir, files[0]);
        (void)unlink(path);
    }
    (void)snprintf(path, sizeof(path), "%s/cpu", dir);
    (void)rmdir(path);
    (void)rmdir(dir);
}

static int affinity(void)
{
    cpu_set_t set;

    assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
    return CPU_COUNT(&set);
}

/* The count under a cgroup directory holding files, checked against want (0: the affinity). */
static void count_with(const char *const *files, int want)
{
    char dir[64];
    int cpus = affinity();

    make_dir(dir, sizeof(dir), files);
    if (want == 0 || want > cpus)
        want = cpus;
    assert_int_equal(p4_cpucount(dir), want);
    remove_dir(dir, files);
}

static void count_is_affinity_capped_by_quota(void **state)
{
    static const char *const none[] = {NULL};
    static const char *const v2_one[] = {"cpu.max", "50000 100000\n", NULL};
    static const char *const v2_max[] = {"cpu.max", "max 100000\n", NULL};
    static const char *const v2_bad[] = {"cpu.max", "garbage\n", NULL};
    static const char *const v2_big[] = {"cpu.max", "100000000 100000\n", NULL};
    static const char *const v1_one[] = {"cpu.cfs_quota_us", "100000\n", "cpu.cfs_period_us",
                                         "100000\n", NULL};
    static const char *const v1_none[] = {"cpu.cfs_quota_us", "-1\n", "cpu.cfs_period_us",
                                          "100000\n", NULL};
    static const char *const v1_sub[] = {"cpu/cpu.cfs_quota_us", "20000\n", "cpu/cpu.cfs_period_us",
                                         "100000\n", NULL};

    (void)state;
    count_with(none, 0);
    count_with(v2_one, 1);
    count_with(v2_max, 0);
    count_with(v2_bad, 0);
    count_with(v2_big, 0);
    count_with(v1_one, 1);
    count_with(v1_none, 0);
    count_with(v1_sub, 1);
    assert_true(p4_cpucount(NULL) >= 1);
    assert_true(p4_cpucount("/no/such/dir") == affinity());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quotas_round_up),
        cmocka_unit_test(no_quota_is_zero),
        cmocka_unit_test(garbage_is_refused),
        cmocka_unit_test(count_is_affinity_capped_by_quota),
    };
    return cmocka_run_group_tests_name("cpucount", tests, NULL, NULL);
}
