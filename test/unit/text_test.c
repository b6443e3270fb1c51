/* text_test.c: the one rule for showing outside text (p4_text_clean) and its helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first. */
#include <string.h>

#include <cmocka.h> /* after the four it needs */

#include <ctype.h>

#include "phase4/core/text.h"

/* p4_text_clean of the NUL-terminated s into a buffer of size bytes, checked for the invariants. */
static const char *clean(char *dst, size_t size, const char *s, unsigned flags)
{
    size_t n = p4_text_clean(dst, size, s, strlen(s), flags);

    assert_int_equal(n, strlen(dst));
    assert_true(n < size);
    assert_true(p4_text_utf8_valid(dst, n));
    return dst;
}

#define BIG 256

static void control_bytes_become_question_marks(void **state)
{
    char out[BIG];

    (void)state;
    assert_string_equal(clean(out, BIG, "\001a\033[31mb\007", 0), "?a?[31mb?");
    assert_string_equal(clean(out, BIG, "a\177b", 0), "a?b");
    /* C1 controls (U+0080 to U+009F) are controls too: one '?' for the character. */
    assert_string_equal(clean(out, BIG, "a\302\205b\302\233c", 0), "a?b?c");
    /* A NUL inside the n bytes is a control byte; the length ends the text. */
    assert_int_equal(p4_text_clean(out, BIG, "a\0b", 3, 0), 3);
    assert_string_equal(out, "a?b");
}

static void control_space_flag(void **state)
{
    char out[BIG];

    (void)state;
    assert_string_equal(clean(out, BIG, "\001a\033[31mb\007", P4_TEXT_CONTROL_SPACE), "a [31mb");
    /* DEL and C1 stay '?'. */
    assert_string_equal(clean(out, BIG, "a\177\302\205b", P4_TEXT_CONTROL_SPACE), "a??b");
}

static void white_space_makes_one_line(void **state)
{
    char out[BIG];

    (void)state;
    assert_string_equal(clean(out, BIG, "a\tb", 0), "a b");
    assert_string_equal(clean(out, BIG, "a\nb", 0), "a b");
    assert_string_equal(clean(out, BIG, "a\r\nb", 0), "a b");
    assert_string_equal(clean(out, BIG, "a\vb", 0), "a b");
    assert_string_equal(clean(out, BIG, "a\fb", 0), "a b");
    /* Line and paragraph separators end a line too. */
    assert_string_equal(clean(out, BIG, "a\342\200\250b\342\200\251c", 0), "a b c");
    /* Runs become one space, the ends are trimmed. */
    assert_string_equal(clean(out, BIG, " \t\n line one\n\n   line two \r\n", 0),
                        "line one line two");
    assert_string_equal(clean(out, BIG, " \t\r\n\v\f ", 0), "");
}

static void literal_flag_keeps_every_byte_in_place(void **state)
{
    char out[BIG];

    (void)state;
    assert_string_equal(clean(out, BIG, "a\tb", P4_TEXT_LITERAL), "a?b");
    assert_string_equal(clean(out, BIG, "a\vb", P4_TEXT_LITERAL), "a?b");
    assert_string_equal(clean(out, BIG, "1\r\n2", P4_TEXT_LITERAL), "1??2");
    assert_string_equal(clean(out, BIG, "  a  b  ", P4_TEXT_LITERAL), "  a  b  ");
    assert_string_equal(clean(out, BIG, "a\342\200\250b", P4_TEXT_LITERAL), "a?b");
}

static void invalid_utf8_becomes_question_marks(void **state)
{
    char out[BIG];

    (void)state;
    assert_string_equal(clean(out, BIG, "a\377b", 0), "a?b");
    assert_string_equal(clean(out, BIG, "a\200b", 0), "a?b");            /* stray continuation */
    assert_string_equal(clean(out, BIG, "\xc0\xaf", 0), "??");           /* overlong '/' */
    assert_string_equal(clean(out, BIG, "\xe0\x80\xaf", 0), "???");      /* overlong '/' */
    assert_string_equal(clean(out, BIG, "\xed\xa0\x80", 0), "???");      /* a surrogate */
    assert_string_equal(clean(out, BIG, "\xf4\x90\x80\x80", 0), "????"); /* past U+10FFFF */
    assert_string_equal(clean(out, BIG, "\xf5\x80\x80\x80", 0), "????");
    assert_string_equal(clean(out, BIG, "ab\xe2\x82", 0), "ab??"); /* cut short */
    assert_string_equal(clean(out, BIG, "\303a", 0), "?a");        /* no continuation */
    /* After a bad byte, reading starts again at the next one. */
    assert_string_equal(clean(out, BIG, "\xe2\xc3\xa9", 0), "?\xc3\xa9");
}

static void valid_utf8_is_kept(void **state)
{
    static const char text[] = "caf\xc3\xa9 \xe2\x82\xac 5 \xf0\x9f\x98\x80 \xe4\xb8\xad";
    char out[BIG];

    (void)state;
    assert_string_equal(clean(out, BIG, text, 0), text);
    assert_string_equal(clean(out, BIG, "\xc2\xa0", 0), "\xc2\xa0"); /* U+00A0, past the C1 range */
    /* In ASCII every byte from 0x80 up is '?'. */
    assert_string_equal(clean(out, BIG, "caf\xc3\xa9\x7f", P4_TEXT_ASCII), "caf???");
    assert_string_equal(clean(out, BIG, "\xe2\x80\xa8", P4_TEXT_ASCII), "???");
}

static void quoted_flag(void **state)
{
    char out[BIG];

    (void)state;
    assert_string_equal(clean(out, BIG, "a\"b\\c", 0), "a\"b\\c");
    assert_string_equal(clean(out, BIG, "a\"b\\c", P4_TEXT_QUOTED), "a?b?c");
}

static void a_cut_is_marked_and_bounded(void **state)
{
    char out[8];

    (void)state;
    assert_string_equal(clean(out, sizeof(out), "abcdefg", 0), "abcdefg"); /* fits exactly */
    assert_string_equal(clean(out, sizeof(out), "abcdefgh", 0), "abcd...");
    /* Spaces before the mark are dropped; spaces after the last word cause no cut. */
    assert_string_equal(clean(out, sizeof(out), "abc defgh", 0), "abc...");
    assert_string_equal(clean(out, sizeof(out), "abcdefg      ", 0), "abcdefg");
    /* The bytes given are the start of more. */
    assert_string_equal(clean(out, sizeof(out), "abc", P4_TEXT_MORE), "abc...");
    assert_string_equal(clean(out, sizeof(out), "abcdefg", P4_TEXT_MORE), "abcd...");
}

static void a_cut_never_splits_a_sequence(void **state)
{
    char out[8];

    (void)state;
    /* Room for 4 bytes before the mark: "aaa" and half an e-acute would be 4. */
    assert_string_equal(clean(out, sizeof(out), "aaa\xc3\xa9\xc3\xa9\xc3\xa9", 0), "aaa...");
    assert_string_equal(clean(out, sizeof(out), "aa\xc3\xa9\xc3\xa9\xc3\xa9", 0), "aa\xc3\xa9...");
    assert_string_equal(clean(out, sizeof(out), "a\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 0), "a...");
    assert_string_equal(clean(out, sizeof(out), "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 0),
                        "\xe2\x82\xac...");
    /* A sequence that fits at the end of the buffer stays whole. */
    assert_string_equal(clean(out, sizeof(out), "abc\xf0\x9f\x98\x80", 0), "abc\xf0\x9f\x98\x80");
}

static void small_buffers(void **state)
{
    char out[4] = "zzz";

    (void)state;
    assert_int_equal(p4_text_clean(out, 0, "abc", 3, 0), 0);
    assert_string_equal(out, "zzz"); /* nothing written */
    assert_string_equal(clean(out, 1, "abc", 0), "");
    assert_string_equal(clean(out, 3, "abc", 0), "ab"); /* no room for a mark */
    assert_string_equal(clean(out, 3, "a\xc3\xa9", 0), "a");
    assert_string_equal(clean(out, 4, "abcd", 0), "...");
    assert_string_equal(clean(out, 4, "abc", 0), "abc");
}

static void null_and_empty_input(void **state)
{
    char out[16] = "zzz";

    (void)state;
    assert_int_equal(p4_text_clean(out, sizeof(out), NULL, 5, 0), 0);
    assert_string_equal(out, "");
    (void)strcpy(out, "zzz");
    assert_int_equal(p4_text_clean(out, sizeof(out), "abc", 0, 0), 0);
    assert_string_equal(out, "");
    assert_string_equal(clean(out, sizeof(out), "", P4_TEXT_LITERAL), "");
}

static void cleaning_in_place(void **state)
{
    char buf[] = "  a\t\tb\xff\xc3\xa9 \x01  ";

    (void)state;
    assert_int_equal(p4_text_clean(buf, sizeof(buf), buf, strlen(buf), 0), 8);
    assert_string_equal(buf, "a b?\xc3\xa9 ?");
}

static void utf8_validity(void **state)
{
    (void)state;
    assert_true(p4_text_utf8_valid("", 0));
    assert_true(p4_text_utf8_valid(NULL, 0));
    assert_true(p4_text_utf8_valid("a\0b", 3));
    assert_true(p4_text_utf8_valid("p\xc3\xa4ss \xf0\x9f\x98\x80", 10));
    assert_false(p4_text_utf8_valid("s3cr\xff", 5));
    assert_false(p4_text_utf8_valid("\xc3", 1));
    assert_false(p4_text_utf8_valid("\xed\xbf\xbf", 3));
    assert_false(p4_text_utf8_valid("\xf0\x8f\xbf\xbf", 4));
}

static void line_and_column(void **state)
{
    static const char text[] = "ab\ncd\n\nef";
    size_t line, col;

    (void)state;
    p4_text_position(text, 0, &line, &col);
    assert_int_equal(line, 1);
    assert_int_equal(col, 1);
    p4_text_position(text, 4, &line, &col);
    assert_int_equal(line, 2);
    assert_int_equal(col, 2);
    p4_text_position(text, 7, &line, &col);
    assert_int_equal(line, 4);
    assert_int_equal(col, 1);
    p4_text_position(text, sizeof(text) - 1, &line, &col);
    assert_int_equal(line, 4);
    assert_int_equal(col, 3);
}

/* Every byte, against <ctype.h> in the "C" locale (the program never calls setlocale). */
static void ascii_classes_match_the_c_locale(void **state)
{
    (void)state;
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        bool ascii = b < 0x80;

        assert_int_equal(p4_ascii_digit(c), ascii && isdigit(b));
        assert_int_equal(p4_ascii_alpha(c), ascii && isalpha(b));
        assert_int_equal(p4_ascii_alnum(c), ascii && isalnum(b));
        assert_int_equal(p4_ascii_lower_alnum(c), ascii && (islower(b) || isdigit(b)));
        assert_int_equal(p4_ascii_hex(c), ascii && isxdigit(b));
        assert_int_equal(p4_ascii_lower_hex(c), ascii && isxdigit(b) && !isupper(b));
        assert_int_equal(p4_ascii_space(c), ascii && isspace(b));
        assert_int_equal(p4_ascii_to_lower(c), ascii ? (char)tolower(b) : c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(control_bytes_become_question_marks),
        cmocka_unit_test(control_space_flag),
        cmocka_unit_test(white_space_makes_one_line),
        cmocka_unit_test(literal_flag_keeps_every_byte_in_place),
        cmocka_unit_test(invalid_utf8_becomes_question_marks),
        cmocka_unit_test(valid_utf8_is_kept),
        cmocka_unit_test(quoted_flag),
        cmocka_unit_test(a_cut_is_marked_and_bounded),
        cmocka_unit_test(a_cut_never_splits_a_sequence),
        cmocka_unit_test(small_buffers),
        cmocka_unit_test(null_and_empty_input),
        cmocka_unit_test(cleaning_in_place),
        cmocka_unit_test(utf8_validity),
        cmocka_unit_test(line_and_column),
        cmocka_unit_test(ascii_classes_match_the_c_locale),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
