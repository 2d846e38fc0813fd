/* The vfio backend against the scripted fake kernel: exact syscall sequences for open, probe, the
 * source and destination migration sequences, every kernel errno at every step, read-back after a
 * failed SET, reset from ERROR, data_fd out of sync, DMA logging and the compat descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "fake_kernel.h"
#include "test.h"
#include "vfio_backend.h"
#include "vfio_uapi.h"

enum { DEV = 10, IOMMU = 11, CONTAINER = 12, GROUP = 13, DATA = 20, DATA2 = 30 };
enum {
	E = FERRY_MIG_ERROR,
	S = FERRY_MIG_STOP,
	R = FERRY_MIG_RUNNING,
	SC = FERRY_MIG_STOP_COPY,
	RS = FERRY_MIG_RESUMING,
	RP = FERRY_MIG_RUNNING_P2P,
	PC = FERRY_MIG_PRE_COPY,
	PP = FERRY_MIG_PRE_COPY_P2P,
};
#define ALL_CAPS (FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY)
#define CDEV_ADDR "cdev=/dev/vfio/devices/vfio3,pci=0000:3b:00.1"

static const int kernel_errnos[] = {EINVAL, ENOTTY, EIO, ENOMEM, EBUSY, EFAULT, ENODEV};
#define NERRNOS (sizeof kernel_errnos / sizeof kernel_errnos[0])

static struct fake_kernel fk;

/* Kernel replies need storage that outlives the step builders. */
static struct vfio_device_feature_mig_state replies[64];
static size_t nreplies;
static uint64_t u64s[64];
static size_t nu64s;

static const void *mig_state(uint32_t state, int fd)
{
	replies[nreplies] = (struct vfio_device_feature_mig_state){.device_state = state, .data_fd = fd};
	return &replies[nreplies++];
}

static const void *u64(uint64_t v)
{
	u64s[nu64s] = v;
	return &u64s[nu64s++];
}

#define FEATURE(flags_, psize_)                                                                          \
	.call = FK_IOCTL, .fd = DEV, .request = VFIO_DEVICE_FEATURE, .argsz = 8 + (psize_), .flags = (flags_)
#define GET_STATE_FLAGS (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE)
#define SET_STATE_FLAGS (VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE)

static struct fk_step get_state_ok(uint32_t state)
{
	return (struct fk_step){FEATURE(GET_STATE_FLAGS, 8), .out = mig_state(state, -1), .out_len = 8, .out_off = 8};
}

static struct fk_step get_state_fails(int err)
{
	return (struct fk_step){FEATURE(GET_STATE_FLAGS, 8), .err = err};
}

/* SET `target`: the request must carry {target, -1}; the reply carries `fd`. */
static struct fk_step set_state_ok(uint32_t target, int fd)
{
	return (struct fk_step){FEATURE(SET_STATE_FLAGS, 8), .expect = mig_state(target, -1), .expect_len = 8,
				.expect_off = 8, .out = mig_state(target, fd), .out_len = 8, .out_off = 8};
}

static struct fk_step set_state_fails(uint32_t target, int err)
{
	struct fk_step s = set_state_ok(target, -1);
	s.err = err;
	return s;
}

static struct fk_step close_fd(int fd)
{
	return (struct fk_step){.call = FK_CLOSE, .fd = fd};
}

static struct fk_step reset_step(int err)
{
	return (struct fk_step){.call = FK_IOCTL, .fd = DEV, .request = VFIO_DEVICE_RESET, .check_value = true,
				.value = 0, .err = err};
}

static struct fk_step read_step(int fd, const void *bytes, size_t n, int err)
{
	return (struct fk_step){.call = FK_READ, .fd = fd, .out = bytes, .out_len = n, .ret = (long)n, .err = err};
}

static void script_open_cdev(void)
{
	FK_ADD(&fk, {.call = FK_OPEN, .path = "/dev/vfio/devices/vfio3", .ret = DEV},
	       {.call = FK_OPEN, .path = "/dev/iommu", .ret = IOMMU},
	       {.call = FK_IOCTL, .fd = DEV, .request = VFIO_DEVICE_BIND_IOMMUFD, .argsz = 16, .flags = 0,
		.expect = u64(IOMMU), .expect_len = 4, .expect_off = 8},
	       {.call = FK_IOCTL, .fd = IOMMU, .request = IOMMU_IOAS_ALLOC, .argsz = 12, .flags = 0,
		.out = u64(5), .out_len = 4, .out_off = 8},
	       {.call = FK_IOCTL, .fd = DEV, .request = VFIO_DEVICE_ATTACH_IOMMUFD_PT, .argsz = 12, .flags = 0,
		.expect = u64(5), .expect_len = 4, .expect_off = 8});
}

static void script_probe(uint32_t flags, uint32_t state)
{
	FK_ADD(&fk, {FEATURE(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, 8), .out = u64(flags), .out_len = 8,
		     .out_off = 8},
	       get_state_ok(state),
	       {FEATURE(VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, 0)});
}

static void script_close(void)
{
	FK_ADD(&fk, close_fd(DEV), close_fd(IOMMU));
}

/* A fresh fake kernel and a device opened through the cdev path and probed in `state`. */
static struct ferry_device *open_probed(uint32_t flags, uint32_t state)
{
	fk_init(&fk);
	nreplies = nu64s = 0;
	script_open_cdev();
	script_probe(flags, state);
	struct ferry_device_open_args args = {.address = CDEV_ADDR, .sys = &fk.sys};
	struct ferry_device *dev = NULL;
	EXPECT_EQ_INT(ferry_vfio_ops.open(&args, &dev), 0);
	if (!dev)
		abort();
	struct ferry_mig_caps caps;
	EXPECT_EQ_INT(dev->ops->probe(dev, &caps), 0);
	EXPECT_EQ_INT(caps.mig_flags, flags);
	EXPECT(caps.dma_logging);
	return dev;
}

/* Closes dev (the backend closes the device and the iommufd) and checks that the script was used
 * up. */
static void close_checked(struct ferry_device *dev)
{
	script_close();
	ferry_vfio_ops.close(dev);
	fk_expect_done(&fk);
}

static int set(struct ferry_device *dev, uint32_t target)
{
	int fd = -2;
	int rc = dev->ops->set_state(dev, target, &fd);
	if (rc == 0)
		EXPECT(fd >= -1);
	return rc;
}

/* ---------------------------------------------------------------- addresses and open */

FERRY_TEST(vfio_parse_address_forms)
{
	struct ferry_vfio_address a;
	EXPECT_EQ_INT(ferry_vfio_parse_address(CDEV_ADDR, &a), 0);
	EXPECT(a.cdev);
	EXPECT_EQ_STR(a.cdev_path, "/dev/vfio/devices/vfio3");
	EXPECT_EQ_STR(a.pci, "0000:3b:00.1");
	EXPECT_EQ_INT(ferry_vfio_parse_address("group=12,pci=0000:3b:00.1", &a), 0);
	EXPECT(!a.cdev);
	EXPECT_EQ_INT(a.group, 12);
	const char *bad[] = {"", "pci=0000:3b:00.1", "group=12", "cdev=/x,group=1,pci=a", "group=-1,pci=a",
			     "group=1x,pci=a", "group=1,pci=../../x", "bogus=1,pci=a", "cdev=,pci=a"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		EXPECT_EQ_INT(ferry_vfio_parse_address(bad[i], &a), -EINVAL);
}

FERRY_TEST(vfio_open_cdev_binds_iommufd_and_close_releases_everything)
{
	fk_init(&fk);
	script_open_cdev();
	script_close();
	struct ferry_device_open_args args = {.address = CDEV_ADDR, .sys = &fk.sys};
	struct ferry_device *dev = NULL;
	EXPECT_EQ_INT(ferry_vfio_ops.open(&args, &dev), 0);
	EXPECT(dev && dev->ops == &ferry_vfio_ops);
	ferry_vfio_ops.close(dev);
	fk_expect_done(&fk);
}

/* Every errno at every step of the cdev open: surfaced as is, and exactly the fds opened so far
 * are closed (device first). */
FERRY_TEST(vfio_open_cdev_failure_at_each_step_closes_what_was_opened)
{
	for (size_t step = 0; step < 5; step++) {
		for (size_t e = 0; e < NERRNOS; e++) {
			fk_init(&fk);
			nu64s = 0;
			script_open_cdev();
			fk.steps[step].err = kernel_errnos[e];
			fk.n = step + 1;
			if (step >= 1)
				FK_ADD(&fk, close_fd(DEV));
			if (step >= 2)
				FK_ADD(&fk, close_fd(IOMMU));
			char why[160] = "";
			struct ferry_device_open_args args = {.address = CDEV_ADDR, .sys = &fk.sys, .error = why,
							      .error_cap = sizeof why};
			struct ferry_device *dev = (struct ferry_device *)&fk;
			EXPECT_EQ_INT(ferry_vfio_ops.open(&args, &dev), -kernel_errnos[e]);
			EXPECT(dev == NULL);
			EXPECT(why[0] != '\0');
			fk_expect_done(&fk);
		}
	}
}

static void script_open_group(void)
{
	FK_ADD(&fk, {.call = FK_OPEN, .path = "/dev/vfio/vfio", .ret = CONTAINER},
	       {.call = FK_IOCTL, .fd = CONTAINER, .request = VFIO_GET_API_VERSION, .check_value = true, .value = 0,
		.ret = VFIO_API_VERSION},
	       {.call = FK_IOCTL, .fd = CONTAINER, .request = VFIO_CHECK_EXTENSION, .check_value = true,
		.value = VFIO_TYPE1v2_IOMMU, .ret = 1},
	       {.call = FK_OPEN, .path = "/dev/vfio/12", .ret = GROUP},
	       {.call = FK_IOCTL, .fd = GROUP, .request = VFIO_GROUP_GET_STATUS, .argsz = 8, .flags = 0,
		.out = u64(VFIO_GROUP_FLAGS_VIABLE), .out_len = 4, .out_off = 4},
	       {.call = FK_IOCTL, .fd = GROUP, .request = VFIO_GROUP_SET_CONTAINER, .expect = u64(CONTAINER),
		.expect_len = 4},
	       {.call = FK_IOCTL, .fd = CONTAINER, .request = VFIO_SET_IOMMU, .check_value = true,
		.value = VFIO_TYPE1v2_IOMMU},
	       {.call = FK_IOCTL, .fd = GROUP, .request = VFIO_GROUP_GET_DEVICE_FD, .expect = "0000:3b:00.1",
		.expect_len = 13, .ret = DEV});
}

FERRY_TEST(vfio_open_group_path_and_close)
{
	fk_init(&fk);
	script_open_group();
	FK_ADD(&fk, close_fd(DEV), close_fd(GROUP), close_fd(CONTAINER));
	struct ferry_device_open_args args = {.address = "group=12,pci=0000:3b:00.1", .sys = &fk.sys};
	struct ferry_device *dev = NULL;
	EXPECT_EQ_INT(ferry_vfio_ops.open(&args, &dev), 0);
	ferry_vfio_ops.close(dev);
	fk_expect_done(&fk);
}

FERRY_TEST(vfio_open_group_refuses_bad_api_missing_type1v2_and_unviable_group)
{
	struct {
		size_t step;
		long ret;
		const void *out;
		int want;
	} cases[] = {
		{1, 7, NULL, -EPROTO},              /* unknown VFIO API version */
		{2, 0, NULL, -EOPNOTSUPP},          /* no type1v2 IOMMU */
		{4, 0, "\0\0\0\0\0\0\0\0", -EPERM}, /* group flags without VIABLE */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fk_init(&fk);
		script_open_group();
		fk.steps[cases[i].step].ret = cases[i].ret;
		if (cases[i].out)
			fk.steps[cases[i].step].out = cases[i].out;
		fk.n = cases[i].step + 1;
		if (cases[i].step >= 3)
			FK_ADD(&fk, close_fd(GROUP));
		FK_ADD(&fk, close_fd(CONTAINER));
		struct ferry_device_open_args args = {.address = "group=12,pci=0000:3b:00.1", .sys = &fk.sys};
		struct ferry_device *dev = NULL;
		EXPECT_EQ_INT(ferry_vfio_ops.open(&args, &dev), cases[i].want);
		fk_expect_done(&fk);
	}
}

/* ---------------------------------------------------------------- probe */

FERRY_TEST(vfio_probe_reads_flags_state_and_dma_logging)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, PC); /* a restarted agent finds PRE_COPY */
	/* No fd is held for that PRE_COPY session (it was the old agent's), so reads are refused. */
	char buf[8];
	EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), -EBADF);
	close_checked(dev);
}

FERRY_TEST(vfio_probe_enotty_means_no_migration_and_no_logging)
{
	fk_init(&fk);
	script_open_cdev();
	FK_ADD(&fk, {FEATURE(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, 8), .err = ENOTTY},
	       {FEATURE(VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, 0), .err = ENOTTY});
	script_close();
	struct ferry_device_open_args args = {.address = CDEV_ADDR, .sys = &fk.sys};
	struct ferry_device *dev = NULL;
	EXPECT_EQ_INT(ferry_vfio_ops.open(&args, &dev), 0);
	struct ferry_mig_caps caps = {.mig_flags = 99, .dma_logging = true};
	EXPECT_EQ_INT(dev->ops->probe(dev, &caps), 0);
	EXPECT_EQ_INT(caps.mig_flags, 0);
	EXPECT(!ferry_mig_caps_migratable(&caps));
	EXPECT(!caps.dma_logging);
	EXPECT_EQ_INT(set(dev, S), -EINVAL); /* nothing to request, and no syscall for it */
	ferry_vfio_ops.close(dev);
	fk_expect_done(&fk);
}

FERRY_TEST(vfio_probe_surfaces_other_errors)
{
	for (size_t e = 0; e < NERRNOS; e++) {
		for (size_t step = 0; step < 3; step++) {
			if (kernel_errnos[e] == ENOTTY && step != 1)
				continue; /* ENOTTY on those two means "unsupported", tested above */
			fk_init(&fk);
			nu64s = nreplies = 0;
			script_open_cdev();
			script_probe(ALL_CAPS, R);
			fk.steps[5 + step].err = kernel_errnos[e];
			fk.n = 5 + step + 1;
			script_close();
			struct ferry_device_open_args args = {.address = CDEV_ADDR, .sys = &fk.sys};
			struct ferry_device *dev = NULL;
			EXPECT_EQ_INT(ferry_vfio_ops.open(&args, &dev), 0);
			struct ferry_mig_caps caps;
			EXPECT_EQ_INT(dev->ops->probe(dev, &caps), -kernel_errnos[e]);
			EXPECT(ferry_device_error(dev)[0] != '\0');
			ferry_vfio_ops.close(dev);
			fk_expect_done(&fk);
		}
	}
}

FERRY_TEST(vfio_set_state_before_probe_is_refused_without_syscalls)
{
	fk_init(&fk);
	script_open_cdev();
	script_close();
	struct ferry_device_open_args args = {.address = CDEV_ADDR, .sys = &fk.sys};
	struct ferry_device *dev = NULL;
	EXPECT_EQ_INT(ferry_vfio_ops.open(&args, &dev), 0);
	EXPECT_EQ_INT(set(dev, S), -EINVAL);
	ferry_vfio_ops.close(dev);
	fk_expect_done(&fk);
}

/* ---------------------------------------------------------------- the source sequence */

static const char chunk_a[100] = "pre-copy device state";
static const char chunk_b[50] = "stop-copy device state";

/* RUNNING -> PRE_COPY -> STOP_COPY -> STOP with reads; `fail_at` (1-based) makes that kernel call
 * fail with `err` instead, 0 = none. Returns after the failure is checked. */
/* The end of a sequence run, whichever step it stopped at: the device is where the kernel said;
 * GET confirms it, and the session is still held exactly when the state still has one. */
static void finish_sequence(struct ferry_device *dev, uint32_t state, bool holding)
{
	FK_ADD(&fk, get_state_ok(state));
	uint32_t now = 99;
	EXPECT_EQ_INT(dev->ops->get_state(dev, &now), 0);
	EXPECT_EQ_INT(now, state);
	if (holding)
		FK_ADD(&fk, close_fd(DATA));
	close_checked(dev);
}

static void run_source(int fail_at, int err)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	int call = 0;
	bool holding = false;
	uint32_t state = R;
#define STEP_FAILS() (++call == fail_at)

	/* 1: RUNNING -> PRE_COPY returns the saving fd */
	if (STEP_FAILS()) {
		FK_ADD(&fk, set_state_fails(PC, err), get_state_ok(R));
		EXPECT_EQ_INT(set(dev, PC), -err);
		goto done;
	}
	FK_ADD(&fk, set_state_ok(PC, DATA));
	int fd = -2;
	EXPECT_EQ_INT(dev->ops->set_state(dev, PC, &fd), 0);
	EXPECT_EQ_INT(fd, DATA);
	holding = true;
	state = PC;

	/* 2: precopy info, flags zeroed on the way in and ignored on the way out */
	struct vfio_precopy_info pi_in = {.argsz = 24, .flags = 0};
	static const struct vfio_precopy_info pi_out = {.argsz = 24, .flags = 0xdeadbeef, .initial_bytes = 4096,
							.dirty_bytes = 512};
	struct ferry_precopy_info info = {0};
	if (STEP_FAILS()) {
		FK_ADD(&fk, {.call = FK_IOCTL, .fd = DATA, .request = VFIO_MIG_GET_PRECOPY_INFO, .argsz = 24, .flags = 0,
			     .err = err});
		EXPECT_EQ_INT(dev->ops->precopy_info(dev, &info), -err);
		goto done;
	}
	FK_ADD(&fk, {.call = FK_IOCTL, .fd = DATA, .request = VFIO_MIG_GET_PRECOPY_INFO, .argsz = 24, .flags = 0,
		     .expect = &pi_in, .expect_len = 8, .out = &pi_out, .out_len = sizeof pi_out});
	EXPECT_EQ_INT(dev->ops->precopy_info(dev, &info), 0);
	EXPECT_EQ_U64(info.initial_bytes, 4096);
	EXPECT_EQ_U64(info.dirty_bytes, 512);

	/* 3: pre-copy reads: data, then ENOMSG and a 0-byte read both mean "nothing now" */
	char buf[256];
	if (STEP_FAILS()) {
		FK_ADD(&fk, read_step(DATA, NULL, 0, err));
		EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), err == ENOMSG ? -ENOMSG : -err);
		goto done;
	}
	FK_ADD(&fk, read_step(DATA, chunk_a, sizeof chunk_a, 0), read_step(DATA, NULL, 0, ENOMSG),
	       read_step(DATA, NULL, 0, 0));
	EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), sizeof chunk_a);
	EXPECT(memcmp(buf, chunk_a, sizeof chunk_a) == 0);
	EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), -ENOMSG);
	EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), -ENOMSG);

	/* 4: stop-copy size */
	uint64_t size = 0;
	if (STEP_FAILS()) {
		FK_ADD(&fk, {FEATURE(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, 8), .err = err});
		EXPECT_EQ_INT(dev->ops->stop_copy_size(dev, &size), -err);
		goto done;
	}
	FK_ADD(&fk, {FEATURE(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, 8), .out = u64(1 << 20),
		     .out_len = 8, .out_off = 8});
	EXPECT_EQ_INT(dev->ops->stop_copy_size(dev, &size), 0);
	EXPECT_EQ_U64(size, 1 << 20);

	/* 5: PRE_COPY -> STOP_COPY keeps the same fd (reply -1) */
	if (STEP_FAILS()) {
		FK_ADD(&fk, set_state_fails(SC, err), get_state_ok(PC));
		EXPECT_EQ_INT(set(dev, SC), -err);
		goto done;
	}
	FK_ADD(&fk, set_state_ok(SC, -1));
	EXPECT_EQ_INT(dev->ops->set_state(dev, SC, &fd), 0);
	EXPECT_EQ_INT(fd, -1);
	state = SC;

	/* 6: stop-copy reads until the real end of stream */
	if (STEP_FAILS()) {
		FK_ADD(&fk, read_step(DATA, NULL, 0, err));
		EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), err == ENOMSG ? -EPROTO : -err);
		goto done;
	}
	FK_ADD(&fk, read_step(DATA, chunk_b, sizeof chunk_b, 0), read_step(DATA, NULL, 0, 0));
	EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), sizeof chunk_b);
	EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), 0);

	/* 7: STOP_COPY -> STOP ends the session: the backend closes the fd */
	if (STEP_FAILS()) {
		FK_ADD(&fk, set_state_fails(S, err), get_state_ok(SC));
		EXPECT_EQ_INT(set(dev, S), -err);
		goto done;
	}
	FK_ADD(&fk, set_state_ok(S, -1), close_fd(DATA));
	EXPECT_EQ_INT(set(dev, S), 0);
	holding = false;
	state = S;
done:
	finish_sequence(dev, state, holding);
#undef STEP_FAILS
}

FERRY_TEST(vfio_source_sequence_running_precopy_stopcopy_stop)
{
	run_source(0, 0);
}

FERRY_TEST(vfio_source_sequence_each_errno_at_each_step)
{
	for (int at = 1; at <= 7; at++)
		for (size_t e = 0; e < NERRNOS; e++)
			run_source(at, kernel_errnos[e]);
	run_source(3, ENOMSG); /* "nothing now" in PRE_COPY */
	run_source(6, ENOMSG); /* a kernel bug in STOP_COPY: -EPROTO */
}

/* ---------------------------------------------------------------- the destination sequence */

static const char stream[300] = "device state stream";

static void run_destination(int fail_at, int err)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, S);
	int call = 0;
	bool holding = false;
	uint32_t state = S;
#define STEP_FAILS() (++call == fail_at)
	/* 1: STOP -> RESUMING returns the write fd */
	if (STEP_FAILS()) {
		FK_ADD(&fk, set_state_fails(RS, err), get_state_ok(S));
		EXPECT_EQ_INT(set(dev, RS), -err);
		goto done;
	}
	FK_ADD(&fk, set_state_ok(RS, DATA));
	int fd = -2;
	EXPECT_EQ_INT(dev->ops->set_state(dev, RS, &fd), 0);
	EXPECT_EQ_INT(fd, DATA);
	holding = true;
	state = RS;

	/* 2: the whole stream, in as many writes as the kernel takes */
	if (STEP_FAILS()) {
		FK_ADD(&fk, {.call = FK_WRITE, .fd = DATA, .len = sizeof stream, .ret = 100},
		       {.call = FK_WRITE, .fd = DATA, .len = sizeof stream - 100, .err = err});
		EXPECT_EQ_INT(dev->ops->write_data(dev, stream, sizeof stream), -err);
		goto done;
	}
	FK_ADD(&fk, {.call = FK_WRITE, .fd = DATA, .len = sizeof stream, .expect = stream, .expect_len = 100, .ret = 100},
	       {.call = FK_WRITE, .fd = DATA, .len = sizeof stream - 100, .expect = stream + 100, .expect_len = 200,
		.ret = 200});
	EXPECT_EQ_INT(dev->ops->write_data(dev, stream, sizeof stream), 0);

	/* 3: RESUMING -> STOP: the commit point; the session ends, the fd is closed */
	if (STEP_FAILS()) {
		FK_ADD(&fk, set_state_fails(S, err), get_state_ok(RS));
		EXPECT_EQ_INT(set(dev, S), -err);
		goto done;
	}
	FK_ADD(&fk, set_state_ok(S, -1), close_fd(DATA));
	EXPECT_EQ_INT(set(dev, S), 0);
	holding = false;
	state = S;

	/* 4: STOP -> RUNNING (the kernel walks STOP -> RUNNING_P2P -> RUNNING) */
	if (STEP_FAILS()) {
		FK_ADD(&fk, set_state_fails(R, err), get_state_ok(RP)); /* stopped half way */
		EXPECT_EQ_INT(set(dev, R), -err);
		state = RP;
		goto done;
	}
	FK_ADD(&fk, set_state_ok(R, -1));
	EXPECT_EQ_INT(set(dev, R), 0);
	state = R;
done:
	finish_sequence(dev, state, holding);
#undef STEP_FAILS
}

FERRY_TEST(vfio_destination_sequence_stop_resuming_stop_running)
{
	run_destination(0, 0);
}

FERRY_TEST(vfio_destination_sequence_each_errno_at_each_step)
{
	for (int at = 1; at <= 4; at++)
		for (size_t e = 0; e < NERRNOS; e++)
			run_destination(at, kernel_errnos[e]);
}

FERRY_TEST(vfio_write_that_makes_no_progress_fails)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, S);
	FK_ADD(&fk, set_state_ok(RS, DATA), {.call = FK_WRITE, .fd = DATA, .ret = 0});
	EXPECT_EQ_INT(set(dev, RS), 0);
	EXPECT_EQ_INT(dev->ops->write_data(dev, stream, 10), -EIO);
	FK_ADD(&fk, close_fd(DATA));
	close_checked(dev);
}

/* ---------------------------------------------------------------- read-back after a failed SET */

/* PRE_COPY -> STOP fails after the first arc (PRE_COPY -> RUNNING): the GET finds RUNNING, so the
 * saving session is dead and its fd is closed; the next request starts from RUNNING. */
FERRY_TEST(vfio_failed_set_found_in_intermediate_state)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	FK_ADD(&fk, set_state_ok(PC, DATA), set_state_fails(S, EIO), get_state_ok(R), close_fd(DATA));
	EXPECT_EQ_INT(set(dev, PC), 0);
	EXPECT_EQ_INT(set(dev, S), -EIO);
	EXPECT(strstr(ferry_device_error(dev), "RUNNING") != NULL);
	/* From RUNNING a PRE_COPY request is a real arc again (in PRE_COPY it would be a no-op). */
	FK_ADD(&fk, set_state_ok(PC, DATA2));
	int fd;
	EXPECT_EQ_INT(dev->ops->set_state(dev, PC, &fd), 0);
	EXPECT_EQ_INT(fd, DATA2);
	FK_ADD(&fk, close_fd(DATA2));
	close_checked(dev);
}

FERRY_TEST(vfio_failed_set_found_in_original_state_keeps_the_session)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	FK_ADD(&fk, set_state_ok(PC, DATA), set_state_fails(SC, EBUSY), get_state_ok(PC),
	       read_step(DATA, chunk_a, 10, 0));
	EXPECT_EQ_INT(set(dev, PC), 0);
	EXPECT_EQ_INT(set(dev, SC), -EBUSY);
	char buf[16];
	EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), 10);
	FK_ADD(&fk, close_fd(DATA));
	close_checked(dev);
}

/* The failed SET left the device in ERROR: the backend resets it (-> RUNNING, session dead). */
FERRY_TEST(vfio_failed_set_found_in_error_resets)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	FK_ADD(&fk, set_state_ok(PC, DATA), set_state_fails(SC, EIO), get_state_ok(E), reset_step(0), close_fd(DATA));
	EXPECT_EQ_INT(set(dev, PC), 0);
	EXPECT_EQ_INT(set(dev, SC), -EIO);
	EXPECT(strstr(ferry_device_error(dev), "reset") != NULL);
	FK_ADD(&fk, get_state_ok(R));
	uint32_t now;
	EXPECT_EQ_INT(dev->ops->get_state(dev, &now), 0);
	EXPECT_EQ_INT(now, R);
	close_checked(dev);
}

/* ERROR and the reset fails too: the original errno is returned, nothing more is requested
 * until an explicit reset succeeds. */
FERRY_TEST(vfio_failed_set_error_and_failed_reset_then_explicit_reset)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	FK_ADD(&fk, set_state_ok(PC, DATA), set_state_fails(SC, ENOMEM), get_state_ok(E), reset_step(EIO),
	       close_fd(DATA));
	EXPECT_EQ_INT(set(dev, PC), 0);
	EXPECT_EQ_INT(set(dev, SC), -ENOMEM);
	EXPECT_EQ_INT(set(dev, S), -EINVAL); /* from ERROR: no path, no syscall */
	FK_ADD(&fk, reset_step(EIO));
	EXPECT_EQ_INT(dev->ops->reset(dev), -EIO);
	FK_ADD(&fk, reset_step(0), set_state_ok(S, -1));
	EXPECT_EQ_INT(dev->ops->reset(dev), 0);
	EXPECT_EQ_INT(set(dev, S), 0); /* RUNNING -> STOP after the reset */
	close_checked(dev);
}

FERRY_TEST(vfio_failed_set_and_failed_get_distrusts_the_state)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	FK_ADD(&fk, set_state_ok(PC, DATA), set_state_fails(SC, EIO), get_state_fails(EIO), close_fd(DATA));
	EXPECT_EQ_INT(set(dev, PC), 0);
	EXPECT_EQ_INT(set(dev, SC), -EIO);
	EXPECT_EQ_INT(set(dev, R), -EINVAL); /* state unknown: only reset or a successful GET helps */
	FK_ADD(&fk, get_state_ok(PC), set_state_ok(R, -1));
	uint32_t now;
	EXPECT_EQ_INT(dev->ops->get_state(dev, &now), 0);
	EXPECT_EQ_INT(set(dev, R), 0);
	close_checked(dev);
}

/* ---------------------------------------------------------------- reset, fds, refused requests */

FERRY_TEST(vfio_reset_from_error_returns_to_running_and_kills_the_session)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, S);
	/* The device failed on its own; ERROR ends the session (only a reset leaves ERROR). */
	FK_ADD(&fk, set_state_ok(RS, DATA), get_state_ok(E), close_fd(DATA));
	EXPECT_EQ_INT(set(dev, RS), 0);
	uint32_t now;
	EXPECT_EQ_INT(dev->ops->get_state(dev, &now), 0);
	EXPECT_EQ_INT(now, E);
	EXPECT_EQ_INT(set(dev, S), -EINVAL);
	FK_ADD(&fk, reset_step(0), set_state_ok(PC, DATA2));
	EXPECT_EQ_INT(dev->ops->reset(dev), 0);
	EXPECT_EQ_INT(set(dev, PC), 0);
	FK_ADD(&fk, close_fd(DATA2));
	close_checked(dev);
}

/* An asynchronous reset put the device in RUNNING behind our back; the next request returns a
 * new fd while we hold the old one: close the new one, -EBADF (QEMU's "data_fd out of sync"). */
FERRY_TEST(vfio_data_fd_out_of_sync_closes_the_new_fd)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	FK_ADD(&fk, set_state_ok(PC, DATA), set_state_ok(SC, DATA2), close_fd(DATA2));
	EXPECT_EQ_INT(set(dev, PC), 0);
	EXPECT_EQ_INT(set(dev, SC), -EBADF);
	EXPECT(strstr(ferry_device_error(dev), "out of sync") != NULL);
	FK_ADD(&fk, close_fd(DATA));
	close_checked(dev);
}

FERRY_TEST(vfio_get_state_after_async_reset_drops_the_dead_session)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	FK_ADD(&fk, set_state_ok(PC, DATA), get_state_ok(R), close_fd(DATA));
	EXPECT_EQ_INT(set(dev, PC), 0);
	uint32_t now;
	EXPECT_EQ_INT(dev->ops->get_state(dev, &now), 0);
	char buf[4];
	EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), -EBADF);
	close_checked(dev);
}

FERRY_TEST(vfio_kernel_protocol_violations_on_data_fd)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	/* An opening arc without an fd, then an fd on an arc that opens nothing. */
	FK_ADD(&fk, set_state_ok(PC, -1), set_state_ok(R, -1), set_state_ok(S, DATA2), close_fd(DATA2));
	EXPECT_EQ_INT(set(dev, PC), -EPROTO);
	EXPECT_EQ_INT(set(dev, R), 0);
	EXPECT_EQ_INT(set(dev, S), -EPROTO);
	close_checked(dev);
}

FERRY_TEST(vfio_never_requests_blocked_or_unsupported_arcs)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, SC);
	EXPECT_EQ_INT(set(dev, PC), -EINVAL);
	EXPECT_EQ_INT(set(dev, PP), -EINVAL);
	EXPECT(strstr(ferry_device_error(dev), "blocked") != NULL);
	EXPECT_EQ_INT(set(dev, E), -EINVAL);
	EXPECT_EQ_INT(set(dev, SC), 0); /* already there: nothing to do */
	close_checked(dev);

	dev = open_probed(FERRY_MIG_FLAG_STOP_COPY, R);
	EXPECT_EQ_INT(set(dev, RP), -EINVAL);
	EXPECT_EQ_INT(set(dev, PC), -EINVAL);
	EXPECT_EQ_INT(set(dev, 42), -EINVAL);
	close_checked(dev);
}

FERRY_TEST(vfio_precopy_info_and_reads_outside_a_session_are_refused)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	struct ferry_precopy_info info;
	char buf[4];
	EXPECT_EQ_INT(dev->ops->precopy_info(dev, &info), -EINVAL);
	EXPECT_EQ_INT(dev->ops->read_data(dev, buf, sizeof buf), -EBADF);
	EXPECT_EQ_INT(dev->ops->write_data(dev, buf, sizeof buf), -EBADF);
	EXPECT_EQ_INT(dev->ops->complete_saving_layout(dev, 0), 0);
	EXPECT_EQ_INT(dev->ops->complete_saving_layout(dev, 1), -EOPNOTSUPP);
	close_checked(dev);
}

/* ---------------------------------------------------------------- DMA logging */

FERRY_TEST(vfio_dma_log_start_sends_ranges_and_adopts_page_size)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	static const struct ferry_dma_range ranges[2] = {{0, 1 << 30}, {1ull << 32, 1 << 30}};
	static const uint64_t ctl_in[2] = {4096, 2}; /* page_size, num_ranges | reserved 0 */
	FK_ADD(&fk, {FEATURE(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, 24), .expect = ctl_in,
		     .expect_len = 16, .expect_off = 8, .out = u64(8192), .out_len = 8, .out_off = 8},
	       {FEATURE(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, 24), .deref = true,
		.ptr_off = 24, .expect = ranges, .expect_len = sizeof ranges, .err = EBUSY});
	uint64_t page = 4096;
	EXPECT_EQ_INT(dev->ops->dma_log_start(dev, ranges, 2, &page), 0);
	EXPECT_EQ_U64(page, 8192);
	page = 4096;
	EXPECT_EQ_INT(dev->ops->dma_log_start(dev, ranges, 2, &page), -EBUSY);
	EXPECT_EQ_U64(page, 4096);
	FK_ADD(&fk, {FEATURE(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, 0)},
	       {FEATURE(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, 0), .err = ENOTTY});
	EXPECT_EQ_INT(dev->ops->dma_log_stop(dev), 0);
	EXPECT_EQ_INT(dev->ops->dma_log_stop(dev), -ENOTTY);
	close_checked(dev);
}

/* 70 pages: the report zeroes the bitmap first (the kernel only ORs), and a failed report marks
 * exactly those 70 pages dirty. */
FERRY_TEST(vfio_dma_log_report_zeroes_first_and_failure_means_all_dirty)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	static const uint64_t rep_in[3] = {0x100000, 70 * 4096, 4096};
	static const uint64_t kernel_bits[2] = {0x5, 0x20};
	FK_ADD(&fk, {FEATURE(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, 32), .expect = rep_in,
		     .expect_len = 24, .expect_off = 8},
	       {FEATURE(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, 32), .deref = true,
		.ptr_off = 32, .out = kernel_bits, .out_len = sizeof kernel_bits},
	       {FEATURE(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, 32), .err = EIO});
	uint64_t bitmap[3] = {~0ull, ~0ull, 0};
	EXPECT_EQ_INT(dev->ops->dma_log_report(dev, 0x100000, 70 * 4096, 4096, bitmap, 3), 0);
	EXPECT_EQ_U64(bitmap[0], 0); /* stale bits cleared, nothing was dirty */
	EXPECT_EQ_U64(bitmap[1], 0);
	EXPECT_EQ_INT(dev->ops->dma_log_report(dev, 0x100000, 70 * 4096, 4096, bitmap, 3), 0);
	EXPECT_EQ_U64(bitmap[0], 0x5);
	EXPECT_EQ_U64(bitmap[1], 0x20);
	EXPECT_EQ_INT(dev->ops->dma_log_report(dev, 0x100000, 70 * 4096, 4096, bitmap, 3), -EIO);
	EXPECT_EQ_U64(bitmap[0], ~0ull);
	EXPECT_EQ_U64(bitmap[1], 0x3f);
	EXPECT_EQ_U64(bitmap[2], 0);
	/* Refused locally, no syscall: a page size that is not a power of two, a bitmap too small. */
	EXPECT_EQ_INT(dev->ops->dma_log_report(dev, 0, 4096 * 3, 3000, bitmap, 3), -EINVAL);
	EXPECT_EQ_INT(dev->ops->dma_log_report(dev, 0, 4096ull * 64 * 3 + 4096, 4096, bitmap, 3), -EINVAL);
	close_checked(dev);
}

/* ---------------------------------------------------------------- compatibility descriptor */

static void script_sysfs_file(const char *path, const char *content, int fd)
{
	FK_ADD(&fk, {.call = FK_OPEN, .path = path, .ret = fd},
	       {.call = FK_READ, .fd = fd, .out = content, .out_len = strlen(content), .ret = (long)strlen(content)},
	       {.call = FK_READ, .fd = fd, .ret = 0}, close_fd(fd));
}

FERRY_TEST(vfio_compat_reads_ids_and_driver_from_sysfs)
{
	struct ferry_device *dev = open_probed(ALL_CAPS, R);
	script_sysfs_file("/sys/bus/pci/devices/0000:3b:00.1/vendor", "0x15b3\n", 40);
	script_sysfs_file("/sys/bus/pci/devices/0000:3b:00.1/device", "0x101e\n", 41);
	FK_ADD(&fk, {.call = FK_READLINK, .path = "/sys/bus/pci/devices/0000:3b:00.1/driver",
		     .readlink_target = "../../../../bus/pci/drivers/mlx5_vfio_pci"});
	struct ferry_device_compat c;
	EXPECT_EQ_INT(dev->ops->compat(dev, &c), 0);
	EXPECT_EQ_INT(c.vendor_id, 0x15b3);
	EXPECT_EQ_INT(c.device_id, 0x101e);
	EXPECT_EQ_STR(c.driver, "mlx5_vfio_pci");
	EXPECT_EQ_STR(c.migration_version, "vfio-v2/mlx5_vfio_pci");

	script_sysfs_file("/sys/bus/pci/devices/0000:3b:00.1/vendor", "garbage\n", 42);
	EXPECT_EQ_INT(dev->ops->compat(dev, &c), -EPROTO);
	script_sysfs_file("/sys/bus/pci/devices/0000:3b:00.1/vendor", "0x15b3\n", 43);
	script_sysfs_file("/sys/bus/pci/devices/0000:3b:00.1/device", "0x101e\n", 44);
	FK_ADD(&fk, {.call = FK_READLINK, .path = "/sys/bus/pci/devices/0000:3b:00.1/driver", .err = ENOENT});
	EXPECT_EQ_INT(dev->ops->compat(dev, &c), -ENOENT); /* no driver bound */
	close_checked(dev);
}
