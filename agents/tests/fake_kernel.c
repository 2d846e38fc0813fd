/* The scripted fake kernel; see fake_kernel.h. */
#include "fake_kernel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "test.h"

static const char *call_name(enum fk_call c)
{
	static const char *const names[] = {"?", "open", "close", "ioctl", "read", "write", "poll", "readlink"};
	return (unsigned)c < sizeof names / sizeof names[0] ? names[c] : "?";
}

static void mismatch(struct fake_kernel *fk, const char *what)
{
	fprintf(stderr, "  fake kernel: step %zu: %s\n", fk->pos, what);
	fk->mismatches++;
	ferry_test_failures++;
}

/* The next step, if it is of kind `c`; else records the mismatch and returns NULL. */
static const struct fk_step *next_step(struct fake_kernel *fk, enum fk_call c, int fd)
{
	char msg[160];
	if (fk->pos >= fk->n) {
		snprintf(msg, sizeof msg, "unexpected %s(fd %d) after the end of the script", call_name(c), fd);
		mismatch(fk, msg);
		return NULL;
	}
	const struct fk_step *s = &fk->steps[fk->pos];
	if (s->call != c) {
		snprintf(msg, sizeof msg, "expected %s, got %s(fd %d)", call_name(s->call), call_name(c), fd);
		mismatch(fk, msg);
		fk->pos = fk->n; /* the rest of the script is meaningless now */
		return NULL;
	}
	if (c != FK_OPEN && c != FK_READLINK && c != FK_POLL && s->fd != fd) {
		snprintf(msg, sizeof msg, "%s on fd %d, expected fd %d", call_name(c), fd, s->fd);
		mismatch(fk, msg);
	}
	return s;
}

static uint8_t *target_of(const struct fk_step *s, void *arg)
{
	if (!s->deref)
		return arg;
	uint64_t p;
	memcpy(&p, (uint8_t *)arg + s->ptr_off, sizeof p);
	return (uint8_t *)(uintptr_t)p;
}

static void check_bytes(struct fake_kernel *fk, const struct fk_step *s, const void *base)
{
	if (s->expect_len && (!base || memcmp((const uint8_t *)base + s->expect_off, s->expect, s->expect_len) != 0))
		mismatch(fk, "argument bytes differ from the script");
}

static long finish(struct fake_kernel *fk, const struct fk_step *s, void *base)
{
	if (s->out_len && base)
		memcpy((uint8_t *)base + s->out_off, s->out, s->out_len);
	fk->pos++;
	return s->err ? -s->err : s->ret;
}

static int fk_open(void *ctx, const char *path, int flags)
{
	struct fake_kernel *fk = ctx;
	const struct fk_step *s = next_step(fk, FK_OPEN, -1);
	if (!s)
		return -EPROTO;
	if (!s->path || strcmp(s->path, path) != 0) {
		char msg[200];
		snprintf(msg, sizeof msg, "open(\"%s\"), expected \"%s\"", path, s->path ? s->path : "");
		mismatch(fk, msg);
	}
	return (int)finish(fk, s, NULL);
}

static int fk_close(void *ctx, int fd)
{
	struct fake_kernel *fk = ctx;
	const struct fk_step *s = next_step(fk, FK_CLOSE, fd);
	return s ? (int)finish(fk, s, NULL) : -EPROTO;
}

static int fk_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	struct fake_kernel *fk = ctx;
	char msg[160];
	const struct fk_step *s = next_step(fk, FK_IOCTL, fd);
	if (!s)
		return -EPROTO;
	if (s->request != request) {
		snprintf(msg, sizeof msg, "ioctl 0x%lx, expected 0x%lx", request, s->request);
		mismatch(fk, msg);
	}
	if (s->check_value && (uintptr_t)arg != s->value) {
		snprintf(msg, sizeof msg, "ioctl arg %#lx, expected %#lx", (unsigned long)(uintptr_t)arg,
			 (unsigned long)s->value);
		mismatch(fk, msg);
	}
	if (s->argsz) {
		uint32_t hdr[2] = {0, 0};
		if (arg)
			memcpy(hdr, arg, sizeof hdr);
		if (hdr[0] != s->argsz || hdr[1] != s->flags) {
			snprintf(msg, sizeof msg, "argsz %u flags %#x, expected argsz %u flags %#x", hdr[0], hdr[1],
				 s->argsz, s->flags);
			mismatch(fk, msg);
		}
	}
	uint8_t *base = arg ? target_of(s, arg) : NULL;
	check_bytes(fk, s, base);
	return (int)finish(fk, s, base);
}

static ssize_t fk_read(void *ctx, int fd, void *buf, size_t len)
{
	struct fake_kernel *fk = ctx;
	const struct fk_step *s = next_step(fk, FK_READ, fd);
	if (!s)
		return -EPROTO;
	if ((s->len && s->len != len) || s->out_len > len)
		mismatch(fk, "read length differs from the script");
	return finish(fk, s, s->out_len > len ? NULL : buf);
}

static ssize_t fk_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct fake_kernel *fk = ctx;
	const struct fk_step *s = next_step(fk, FK_WRITE, fd);
	if (!s)
		return -EPROTO;
	if (s->len && s->len != len)
		mismatch(fk, "write length differs from the script");
	check_bytes(fk, s, buf);
	fk->pos++;
	return s->err ? -s->err : s->ret;
}

static int fk_poll(void *ctx, struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	struct fake_kernel *fk = ctx;
	const struct fk_step *s = next_step(fk, FK_POLL, -1);
	if (!s)
		return -EPROTO;
	for (nfds_t i = 0; i < nfds; i++)
		fds[i].revents = (short)(s->value & 0xffff);
	fk->pos++;
	return s->err ? -s->err : (int)s->ret;
}

static ssize_t fk_readlink(void *ctx, const char *path, char *buf, size_t cap)
{
	struct fake_kernel *fk = ctx;
	const struct fk_step *s = next_step(fk, FK_READLINK, -1);
	if (!s)
		return -EPROTO;
	if (!s->path || strcmp(s->path, path) != 0)
		mismatch(fk, "readlink path differs from the script");
	fk->pos++;
	if (s->err)
		return -s->err;
	size_t n = strlen(s->readlink_target);
	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(buf, s->readlink_target, n + 1);
	return (ssize_t)n;
}

void fk_init(struct fake_kernel *fk)
{
	memset(fk, 0, sizeof *fk);
	fk->sys = (struct ferry_syscalls){
		.ctx = fk,
		.open = fk_open,
		.close = fk_close,
		.ioctl = fk_ioctl,
		.read = fk_read,
		.write = fk_write,
		.poll = fk_poll,
		.readlink = fk_readlink,
	};
}

void fk_add(struct fake_kernel *fk, const struct fk_step *steps, size_t n)
{
	if (fk->n + n > FK_MAX_STEPS) {
		mismatch(fk, "script longer than FK_MAX_STEPS");
		return;
	}
	memcpy(&fk->steps[fk->n], steps, n * sizeof *steps);
	fk->n += n;
}

void fk_expect_done(struct fake_kernel *fk)
{
	if (fk->pos != fk->n)
		fprintf(stderr, "  fake kernel: %zu of %zu steps consumed; next expected: %s\n", fk->pos, fk->n,
			fk->pos < fk->n ? call_name(fk->steps[fk->pos].call) : "-");
	EXPECT_EQ_INT(fk->pos, fk->n);
	EXPECT_EQ_INT(fk->mismatches, 0);
}
