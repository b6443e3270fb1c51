/*
 * report_fuzz.c: libFuzzer target for the report of a Phase4Deployment's status (report.h).
 *
 * Input layout: the whole input is an API answer's bytes. They are read as the command reads
 * them (p4_report_read: metadata shallowly, status parsed alone) and, when that succeeds,
 * rendered with and without emoji; then parsed whole with cJSON_ParseWithLength (never read past
 * size) and rendered as any JSON value.
 * Invariants: p4_report_read returns a tree or NULL with a P4_ERR_PARSE error; the text is
 * NUL-terminated at its length, valid UTF-8, holds no control byte but '\n' (no escape sequence
 * reaches a terminal) and, with P4_REPORT_ASCII, only printable ASCII; it ends in a newline;
 * the outcome is p4_report_outcome's and one of the four.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phase4/core/text.h"
#include "phase4/reconciler/report.h"

static void check(const cJSON *obj, unsigned flags)
{
    struct p4_buf out = {0};
    enum p4_report_outcome o = p4_report_render(obj, flags, &out);

    if (o != p4_report_outcome(obj) || (o != P4_REPORT_SUCCESSFUL && o != P4_REPORT_FAILED &&
                                        o != P4_REPORT_STALLED && o != P4_REPORT_IN_PROGRESS))
        abort();
    if (out.data == NULL || strlen(out.data) != out.len || out.len == 0 ||
        out.data[out.len - 1] != '\n' || !p4_text_utf8_valid(out.data, out.len))
        abort();
    for (size_t i = 0; i < out.len; i++) {
        unsigned char b = (unsigned char)out.data[i];
        if (b != '\n' && (b < 0x20 || b == 0x7f || ((flags & P4_REPORT_ASCII) && b >= 0x80)))
            abort();
        /* C1 controls (U+0080 to U+009F) are escape sequences on some terminals. */
        if (b == 0xc2 && i + 1 < out.len && (unsigned char)out.data[i + 1] <= 0x9f &&
            (unsigned char)out.data[i + 1] >= 0x80)
            abort();
    }
    free(out.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct p4_error err = {0};
    cJSON *obj = p4_report_read((const char *)data, size, &err);

    if (obj == NULL && err.code != P4_ERR_PARSE)
        abort();
    if (obj != NULL) {
        check(obj, 0);
        check(obj, P4_REPORT_ASCII);
        cJSON_Delete(obj);
    }
    obj = cJSON_ParseWithLength((const char *)data, size);
    check(obj, 0);
    check(obj, P4_REPORT_ASCII);
    cJSON_Delete(obj);
    return 0;
}
