#ifndef FERRY_ERRBUF_H
#define FERRY_ERRBUF_H

#include <stddef.h>

/*
 * Functions that can fail for reasons an operator must read take a caller's buffer
 * (`char *err, size_t errlen`) and fill it with one line of context: what failed, on what, why.
 * The return value stays a negative errno for code to branch on; the text is for people.
 */

/* printf into err (truncated to errlen); does nothing when err is NULL or errlen is 0. */
void ferry_errbuf_set(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
