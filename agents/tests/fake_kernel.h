/*
 * A scripted fake kernel behind struct ferry_syscalls. A test lists the calls it expects, in
 * order, each with the result to give; every call is checked against the next step (call kind,
 * fd, path, ioctl number, VFIO feature argsz/flags, integer argument, bytes in the argument or
 * buffer), and fk_expect_done() checks that nothing was left unconsumed. A mismatch is a test
 * failure and the call returns -EPROTO.
 */
#ifndef FERRY_FAKE_KERNEL_H
#define FERRY_FAKE_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "syscalls.h"

enum fk_call { FK_OPEN = 1, FK_CLOSE, FK_IOCTL, FK_READ, FK_WRITE, FK_POLL, FK_READLINK };

struct fk_step {
	enum fk_call call;
	const char *path;      /* OPEN, READLINK: the expected path */
	int fd;                /* CLOSE, IOCTL, READ, WRITE: the expected fd */
	unsigned long request; /* IOCTL: the expected number */
	/* IOCTL on a struct whose first two u32 are argsz and flags (VFIO_DEVICE_FEATURE, ...):
	 * checked when argsz != 0. */
	uint32_t argsz, flags;
	bool check_value; /* IOCTL taking an integer (or NULL): the arg must equal `value` */
	uintptr_t value;
	size_t len;       /* READ, WRITE: the expected length (0 = any) */
	/* Bytes the argument/buffer must hold at expect_off, and bytes the kernel writes back at
	 * out_off. With `deref`, both apply to the user pointer stored as a u64 at arg + ptr_off
	 * (DMA logging ranges and bitmap) instead of the argument itself. */
	const void *expect;
	size_t expect_len, expect_off;
	const void *out;
	size_t out_len, out_off;
	bool deref;
	size_t ptr_off;
	long ret; /* the result when err == 0 (an fd for OPEN, a count for READ/WRITE) */
	int err;  /* if non-zero the call fails with -err */
	const char *readlink_target; /* READLINK */
};

#define FK_MAX_STEPS 256

struct fake_kernel {
	struct fk_step steps[FK_MAX_STEPS];
	size_t n, pos;
	int mismatches;
	struct ferry_syscalls sys; /* hand &fk->sys to the code under test */
};

void fk_init(struct fake_kernel *fk);
/* Appends steps to the script. */
void fk_add(struct fake_kernel *fk, const struct fk_step *steps, size_t n);
#define FK_ADD(fk, ...)                                                                     \
	do {                                                                                \
		const struct fk_step fk_steps_[] = {__VA_ARGS__};                           \
		fk_add((fk), fk_steps_, sizeof fk_steps_ / sizeof fk_steps_[0]);            \
	} while (0)
/* Checks (as test expectations) that every step was consumed and nothing mismatched. */
void fk_expect_done(struct fake_kernel *fk);

#endif
