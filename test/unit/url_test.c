/*
 * url_test.c: URLs shown without user information, in one URL and in free text; where
 * credentials may go (TLS, or plain HTTP when insecure; the same origin only); bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include "phase4/core/url.h"

static const char *scrub(const char *in, char *out, size_t size)
{
    size_t n = p4_url_scrub(in, strlen(in), out, size);

    assert_int_equal(n, strlen(out));
    assert_true(n < size);
    return out;
}

static void user_information_is_not_shown(void **state)
{
    char b[256];

    (void)state;
    p4_url_display("https://user:pa55word@charts.example.com/stable", b, sizeof(b));
    assert_string_equal(b, "https://***@charts.example.com/stable");
    p4_url_display("oci://token@registry.example.com:5000/charts", b, sizeof(b));
    assert_string_equal(b, "oci://***@registry.example.com:5000/charts");
    p4_url_display("https://charts.example.com/stable", b, sizeof(b));
    assert_string_equal(b, "https://charts.example.com/stable");
    p4_url_display(NULL, b, sizeof(b));
    assert_string_equal(b, "");
    /* A password with '/', '?' or '#' in it, unescaped, is still found. */
    p4_url_display("https://user:pa/ss?w#rd@host/x", b, sizeof(b));
    assert_string_equal(b, "https://***@host/x");
    /* A port, then an '@' in the path: no user information. */
    p4_url_display("https://host:8443/@scope/pkg", b, sizeof(b));
    assert_string_equal(b, "https://host:8443/@scope/pkg");
    p4_url_display("oci://host/chart@sha256:abc", b, sizeof(b));
    assert_string_equal(b, "oci://host/chart@sha256:abc");
}

static void every_url_in_free_text(void **state)
{
    char b[256];

    (void)state;
    assert_string_equal(
        scrub("Error: looks like \"http://u:p@h/c\" is not valid; see https://a:b@h2/", b,
              sizeof(b)),
        "Error: looks like \"http://***@h/c\" is not valid; see https://***@h2/");
    assert_string_equal(scrub("mail me@example.com, x://", b, sizeof(b)),
                        "mail me@example.com, x://");
    /* Whatever stands before "://". */
    assert_string_equal(scrub("://u@h and 1http://x@y", b, sizeof(b)),
                        "://***@h and 1http://***@y");
    /* The mark is longer than "a@": the text grows, within the buffer. */
    assert_string_equal(scrub("http://a@h", b, sizeof(b)), "http://***@h");
}

static void a_cut_never_shows_user_information(void **state)
{
    char b[16];

    (void)state;
    /* The URL with its mark does not fit: the text is cut before the URL. */
    assert_string_equal(scrub("see http://user:secret@host/", b, sizeof(b)), "see http://***@");
    assert_string_equal(scrub("see you http://user:secret@host/", b, sizeof(b)), "see you http");
    assert_string_equal(scrub("0123456789abcdefghij", b, sizeof(b)), "0123456789abcde");
    assert_int_equal(p4_url_scrub("abc", 3, b, 0), 0);
    assert_int_equal(p4_url_scrub("abc", 3, b, 1), 0);
    assert_string_equal(b, "");
}

static void credentials_go_over_tls_unless_insecure(void **state)
{
    (void)state;
    assert_true(p4_url_credentials_allowed("https://charts.example.com/", false));
    assert_true(p4_url_credentials_allowed("HTTPS://charts.example.com/", false));
    assert_false(p4_url_credentials_allowed("http://charts.example.com/", false));
    assert_true(p4_url_credentials_allowed("http://charts.example.com/", true));
    assert_false(p4_url_credentials_allowed("ftp://charts.example.com/", true));
    assert_false(p4_url_credentials_allowed("httpx://h/", true));
    assert_false(p4_url_credentials_allowed(NULL, true));
    assert_true(p4_url_plain_http("Http://h"));
    assert_false(p4_url_plain_http("https://h"));
    assert_false(p4_url_plain_http(NULL));
    assert_true(p4_url_has_userinfo("http://u@h"));
    assert_false(p4_url_has_userinfo("http://h/u@x"));
    assert_false(p4_url_has_userinfo("not a url"));
    assert_false(p4_url_has_userinfo(NULL));
}

static void same_origin(void **state)
{
    (void)state;
    assert_true(p4_url_same_origin("https://charts.example.com/stable",
                                   "https://CHARTS.example.com:443/stable/web-1.0.tgz"));
    assert_true(p4_url_same_origin("http://h:80/a", "http://h/b?x"));
    assert_true(p4_url_same_origin("http://[::1]:8080/a", "http://[::1]:8080"));
    /* Another scheme, host or port. */
    assert_false(p4_url_same_origin("https://h/a", "http://h/a"));
    assert_false(p4_url_same_origin("https://h/a", "https://h.evil.example/a"));
    assert_false(p4_url_same_origin("https://h/a", "https://h:8443/a"));
    assert_false(p4_url_same_origin("http://127.0.0.1:8080/", "http://localhost:8080/"));
    /* User information of its own, or no host: never. */
    assert_false(p4_url_same_origin("https://h/a", "https://u@h/a"));
    assert_false(p4_url_same_origin("https://h/a", "https:///a"));
    assert_false(p4_url_same_origin("https://h:/a", "https://h:/a"));
    assert_false(p4_url_same_origin("https://h:99999/a", "https://h:99999/a"));
    assert_false(p4_url_same_origin("https://h:8x/a", "https://h:8x/a"));
    assert_false(p4_url_same_origin("https://[::1/a", "https://[::1/a"));
    assert_false(p4_url_same_origin("h/a", "h/a"));
    assert_false(p4_url_same_origin(NULL, "https://h"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(user_information_is_not_shown),
        cmocka_unit_test(every_url_in_free_text),
        cmocka_unit_test(a_cut_never_shows_user_information),
        cmocka_unit_test(credentials_go_over_tls_unless_insecure),
        cmocka_unit_test(same_origin),
    };
    return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
