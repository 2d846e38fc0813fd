/* logfmt lines on stderr; see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum ferry_log_level min_level = FERRY_LOG_INFO;

static const char *const level_names[] = {"trace", "debug", "info", "warning", "error"};

void ferry_log_set_level(enum ferry_log_level level)
{
	min_level = level;
}

int ferry_log_enabled(enum ferry_log_level level)
{
	return level >= min_level;
}

int ferry_log_level_parse(const char *name, enum ferry_log_level *out)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum ferry_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *ferry_log_level_name(enum ferry_log_level level)
{
	if ((unsigned)level < sizeof level_names / sizeof level_names[0])
		return level_names[level];
	return "unknown";
}

void ferry_log(enum ferry_log_level level, const char *fmt, ...)
{
	if (!ferry_log_enabled(level))
		return;
	char line[2048];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof line, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 ferry_log_level_name(level));
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2)
		len = sizeof line - 2; /* truncated: still one line */
	line[len++] = '\n';
	int saved = errno; /* logging must not disturb a caller that reads errno afterwards */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
	errno = saved;
}

const char *ferry_log_quote(const char *s, char *buf, size_t buflen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (buflen < 6) { /* room for "" plus "..." is the least we accept */
		if (buflen)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		char esc[5];
		size_t k = 0;
		if (*p == '"' || *p == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)*p;
		} else if (*p == '\n') {
			esc[k++] = '\\';
			esc[k++] = 'n';
		} else if (*p < 0x20 || *p == 0x7f) {
			esc[k++] = '\\';
			esc[k++] = 'x';
			esc[k++] = hex[*p >> 4];
			esc[k++] = hex[*p & 15];
		} else {
			esc[k++] = (char)*p;
		}
		if (o + k + 2 > buflen) { /* keep room for the closing quote and NUL */
			o = o > buflen - 5 ? buflen - 5 : o;
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, esc, k);
		o += k;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
