/* helmstage_test.c: the manifest Secret's compression (p4_gzip), read back as gzip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#define ZLIB_CONST
#include <zlib.h>

#include "phase4/helmstage.h"

/* gunzip len bytes into a new NUL-terminated buffer of at most max bytes. */
static char *gunzip(const unsigned char *gz, size_t len, size_t max, size_t *out_len)
{
    z_stream z;
    char *out = calloc(1, max + 1);

    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK); /* gzip framing only */
    z.next_in = gz;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)max;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    (void)inflateEnd(&z);
    return out;
}

static void gzip_round_trips(void **state)
{
    const char *manifest = "---\n# Source: webapp/templates/service.yaml\napiVersion: v1\n"
                           "kind: Service\nmetadata:\n  name: web-webapp\n";
    size_t gz_len = 0, back_len = 0;
    unsigned char *gz;
    char *back;

    (void)state;
    gz = p4_gzip(manifest, strlen(manifest), &gz_len);
    assert_non_null(gz);
    assert_true(gz_len > 18);
    assert_int_equal(gz[0], 0x1f); /* a gzip member, as `gunzip` and Go's compress/gzip read */
    assert_int_equal(gz[1], 0x8b);
    back = gunzip(gz, gz_len, 4096, &back_len);
    assert_int_equal(back_len, strlen(manifest));
    assert_string_equal(back, manifest);
    free(back);
    free(gz);
}

static void gzip_of_nothing_and_of_much(void **state)
{
    size_t big = (size_t)4 << 20, gz_len = 0, back_len = 0;
    char *text = malloc(big), *back;
    unsigned char *gz;

    (void)state;
    gz = p4_gzip("", 0, &gz_len); /* helm may render no object */
    assert_non_null(gz);
    back = gunzip(gz, gz_len, 16, &back_len);
    assert_int_equal(back_len, 0);
    free(back);
    free(gz);
    for (size_t i = 0; i < big; i++) /* rendered manifests repeat themselves a lot */
        text[i] = "kind: ConfigMap\n"[i % 16];
    gz = p4_gzip(text, big, &gz_len);
    assert_non_null(gz);
    assert_true(gz_len < big / 100);
    back = gunzip(gz, gz_len, big, &back_len);
    assert_int_equal(back_len, big);
    assert_memory_equal(back, text, big);
    free(back);
    free(gz);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gzip_round_trips),
        cmocka_unit_test(gzip_of_nothing_and_of_much),
    };
    return cmocka_run_group_tests_name("helmstage", tests, NULL, NULL);
}
