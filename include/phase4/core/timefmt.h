/*
 * timefmt.h: RFC 3339 timestamps, read and written once for every module.
 *
 * The API server writes metav1.Time as "2024-05-01T10:00:00Z" and MicroTime as
 * "2024-05-01T10:00:00.123456Z"; an exec credential plugin or a registry may write an offset
 * ("2024-05-01T12:00:00+02:00"). p4_timefmt_parse() reads all of them by one rule, as strict as
 * Go's time.Parse(time.RFC3339) that wrote them, so a timestamp means the same in every module
 * and a malformed one is refused rather than read as some other time. p4_timefmt_format()
 * writes the form the API server writes.
 *
 * Neither uses the locale, the local time zone or strptime/timegm; nothing here allocates.
 */
#ifndef PHASE4_TIMEFMT_H
#define PHASE4_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Room for "2024-05-01T10:00:00Z" and its NUL. */
#define P4_TIMEFMT_SIZE 21

/*
 * The RFC 3339 date-time s into microseconds since 1970-01-01T00:00:00Z (*usec). The form:
 * "YYYY-MM-DD" (four and two digits), 'T' or 't', "hh:mm:ss", an optional fraction ('.' and one
 * digit or more; digits past the sixth are dropped, not rounded), then 'Z', 'z' or an offset
 * "+hh:mm" / "-hh:mm", and nothing after it. A field out of range (month 13, February 30 outside
 * a leap year, hour 24, second 60, offset hour 24) is refused, as is a time before 1970 or from
 * the year 10000 on, once the offset is applied. Returns 0, or P4_ERR_PARSE (for a NULL s too)
 * with *usec unchanged.
 */
int p4_timefmt_parse(const char *s, int64_t *usec);

/*
 * t (seconds since 1970, UTC) as "2024-05-01T10:00:00Z" into buf of size bytes
 * (P4_TIMEFMT_SIZE is enough for any year up to 9999); "" when it does not fit.
 */
void p4_timefmt_format(time_t t, char *buf, size_t size);

#endif
