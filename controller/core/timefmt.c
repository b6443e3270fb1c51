/* timefmt.c: RFC 3339 timestamps (see timefmt.h). */
#include "phase4/core/timefmt.h"

#include <stdbool.h>

#include "phase4/core/error.h"

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Exactly n decimal digits at *p into *v, moving *p past them; false (*p unmoved) otherwise. */
static bool digits(const char **p, int n, int64_t *v)
{
    int64_t x = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];

        if (c < '0' || c > '9')
            return false;
        x = x * 10 + (c - '0');
    }
    *p += n;
    *v = x;
    return true;
}

/* Whether *p is c (or, when c is a letter, its lowercase form too); moves past it if so. */
static bool sep(const char **p, char c)
{
    if (**p != c && !(c >= 'A' && c <= 'Z' && **p == c - 'A' + 'a'))
        return false;
    (*p)++;
    return true;
}

int p4_timefmt_parse(const char *s, int64_t *usec)
{
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t y, mo, d, h, mi, sec, micro = 0, oh = 0, om = 0, t;
    int sign = 0;
    bool leap;

    if (s == NULL || !digits(&s, 4, &y) || !sep(&s, '-') || !digits(&s, 2, &mo) || !sep(&s, '-') ||
        !digits(&s, 2, &d) || !sep(&s, 'T') || !digits(&s, 2, &h) || !sep(&s, ':') ||
        !digits(&s, 2, &mi) || !sep(&s, ':') || !digits(&s, 2, &sec))
        return P4_ERR_PARSE;
    if (sep(&s, '.')) {
        int n = 0;

        for (; *s >= '0' && *s <= '9'; s++, n++) {
            if (n < 6)
                micro = micro * 10 + (*s - '0');
        }
        if (n == 0)
            return P4_ERR_PARSE;
        for (; n < 6; n++)
            micro *= 10;
    }
    if (sep(&s, '+'))
        sign = 1;
    else if (sep(&s, '-'))
        sign = -1;
    else if (!sep(&s, 'Z'))
        return P4_ERR_PARSE;
    if (sign != 0 &&
        (!digits(&s, 2, &oh) || !sep(&s, ':') || !digits(&s, 2, &om) || oh > 23 || om > 59))
        return P4_ERR_PARSE;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (*s != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 59)
        return P4_ERR_PARSE;
    t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec - sign * (oh * 60 + om) * 60;
    /* From 1970-01-01 up to the end of 9999 in UTC, so it writes back with a four-digit year. */
    if (t < 0 || t >= days_from_civil(10000, 1, 1) * 86400)
        return P4_ERR_PARSE;
    *usec = t * 1000000 + micro;
    return 0;
}

void p4_timefmt_format(time_t t, char *buf, size_t size)
{
    struct tm tm;

    if (size == 0)
        return;
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        buf[0] = '\0';
}
