/*
 * The agent's one logger: logfmt lines on stderr, one per event.
 *
 *   ts=2026-11-25T10:00:00.123Z level=info msg="control link up" coordinator=10.0.0.1:7100
 *
 * The format string is everything after `level=...`, so callers write the msg and the keys:
 *   ferry_log(FERRY_LOG_INFO, "msg=\"control link up\" coordinator=%s", addr);
 * Keys are stable snake_case (host_id, migration_id, state, reason, ...) like ferryd's metadata.
 * Values that come from a peer or may hold spaces go through ferry_log_quote().
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stddef.h>

enum ferry_log_level {
	FERRY_LOG_TRACE = 0,
	FERRY_LOG_DEBUG = 1,
	FERRY_LOG_INFO = 2,
	FERRY_LOG_WARNING = 3,
	FERRY_LOG_ERROR = 4,
};

/* Lines below `level` are dropped. The default is FERRY_LOG_INFO. */
void ferry_log_set_level(enum ferry_log_level level);
int ferry_log_enabled(enum ferry_log_level level);

/* "trace|debug|info|warning|error" -> level. Returns 0, or -EINVAL for any other string. */
int ferry_log_level_parse(const char *name, enum ferry_log_level *out);
const char *ferry_log_level_name(enum ferry_log_level level);

/* Writes one line (with a single write(2), so lines from several threads do not interleave). */
void ferry_log(enum ferry_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes `s` into `buf` as a double-quoted logfmt value (\" \\ \n escaped, control bytes as \xNN,
 * truncated with "..." when it does not fit). Returns buf, so it can be an argument of ferry_log. */
const char *ferry_log_quote(const char *s, char *buf, size_t buflen);

#endif
