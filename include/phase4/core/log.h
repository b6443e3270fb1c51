/*
 * log.h: structured logs, one line per event, as logfmt or JSON.
 *
 *   p4_log(P4_LOG_INFO, "reconciled", "key", "shop/web", "result", "ok", P4_LOG_END);
 *   level=info msg=reconciled key=shop/web result=ok
 *
 * Arguments after the message are key/value string pairs ending with P4_LOG_END.
 * Values are quoted and escaped as needed; a value is never used as a format.
 * Never pass a secret (token, key, password, pull-secret content) as a value.
 * main calls p4_log_setup once before the loop starts; the settings are the
 * one piece of process-wide state, read-only afterwards.
 */
#ifndef PHASE4_LOG_H
#define PHASE4_LOG_H

#include <stdio.h>

enum p4_log_level { P4_LOG_DEBUG, P4_LOG_INFO, P4_LOG_WARN, P4_LOG_ERROR };

/* out is borrowed and must outlive logging; NULL means stderr. */
void p4_log_setup(enum p4_log_level min, int json, FILE *out);
/* "debug", "info", "warn" or "error" → level; returns -1 for anything else. */
int p4_log_level_parse(const char *name);
int p4_log_enabled(enum p4_log_level level);
/* Ends the key/value list; a typed NULL, as a variadic sentinel must be. */
#define P4_LOG_END ((const char *)NULL)

void p4_log(enum p4_log_level level, const char *msg, ...) __attribute__((sentinel));

#endif
