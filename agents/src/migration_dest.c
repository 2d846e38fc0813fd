/* The destination side of a migration; see migration_dest.h. */
#include "migration_dest.h"

#include "clock.h"
#include "crc32c.h"
#include "errbuf.h"
#include "log.h"
#include "migration_device_binding.h"
#include "migration_dest_ram.h"
#include "migration_devices.h"
#include "migration_source.h"
#include "ram_populate.h"
#include "staged_verify.h"
#include "stream_io.h"
#include "test_hooks.h"
#include "vm_registry.h"
#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE FERRY_VM_PAGE_SIZE
#define IO_TIMEOUT_MS 10000
#define VCPU_STATE_MAX 8192u

struct ferry_migration_dest {
	struct ferry_migration *m;
	uint64_t ram_bytes, npages;
	pid_t pid;     /* the incoming workload, 0 once reaped */
	uint64_t ready_deadline_ms;      /* registered and allocated by then (ferry_dest_ram_deadline_ms) */
	struct timespec ready_by;        /* the same deadline on CLOCK_REALTIME, for the receivers' waits */
	struct ferry_mig_device_hooks devices;
	pthread_cond_t ram_ready;
	uint8_t *ram;  /* (m->lock) shared mapping of the incoming memfd, NULL until registered */
	struct ferry_ram_alloc_plan alloc_plan; /* FERRY_DEST_ALLOC, FERRY_DEST_ALLOC_THREADS */
	struct ferry_dest_ram alloc;     /* allocates the mapped RAM before any STREAM_WELCOME */
	int alloc_fd;                    /* our dup of the memfd while allocating, -1 otherwise */
	bool allocated;                  /* (m->lock) the allocation ended, alloc_rc says how */
	int alloc_rc;                    /* (m->lock) */
	int fds[FERRY_MIG_MAX_CHANNELS]; /* (m->lock) -1 until the channel connects */
	pthread_t threads[FERRY_MIG_MAX_CHANNELS];
	bool started[FERRY_MIG_MAX_CHANNELS];
	unsigned finals;                 /* (m->lock) channels whose final round arrived */
	unsigned round_ends;             /* (m->lock) channels whose END_OF_ROUND of this round arrived */
	struct ferry_staged_verify staged; /* written pages, checked round by round (staged_verify.h) */
	pthread_mutex_t check_lock;      /* each round's check may run on another channel's thread */
	bool have_vcpu;                  /* (m->lock) */
	uint32_t vcpus;                  /* (m->lock) from VCPU_STATE */
	char vcpu_state[VCPU_STATE_MAX]; /* (m->lock) the BLOB of `start vcpus=N state=BLOB` */
	bool start_sent;                 /* event loop only */
	atomic_bool rx0_exited;          /* channel 0's receiver (the device streams' writer) returned */
	pthread_mutex_t write_lock;      /* one writer per channel socket at a time */
};

static void post(struct ferry_migration *m)
{
	struct ferry_mig_report r;
	ferry_migration_report_base(m, &r);
	ferry_mig_reporter_post(m->reporter, &r);
}

static int workload_binary(char *out, size_t cap)
{
	const char *env = getenv("FERRY_WORKLOAD_BIN");
	if (env && *env) {
		snprintf(out, cap, "%s", env);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n <= 0)
			return -errno;
		self[n] = '\0';
		snprintf(out, cap, "%s/ferry-workload", dirname(self));
	}
	return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

/* Launch words may only configure what the VM does, never who or where it is: the agent sets
 * identity, memory, vCPU count and incoming mode itself. Exact option names (no "--x=v", no
 * abbreviations getopt would accept); any other word starting with '-' is refused. */
static int launch_args_allowed(char *const *args, size_t n, char *err, size_t errlen)
{
	static const char *const options[] = {"--dirty-rate", "--pattern", "--seed", "--thp", "--log-level",
					      "--start-frozen"};
	if (n > FERRY_VM_LAUNCH_ARGS_MAX) {
		ferry_errbuf_set(err, errlen, "%zu launch arguments, at most %u", n, FERRY_VM_LAUNCH_ARGS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		bool ok = args[i][0] != '-' && args[i][0] != '\0';
		for (size_t k = 0; k < sizeof options / sizeof options[0] && !ok; k++)
			ok = strcmp(args[i], options[k]) == 0;
		if (!ok) {
			ferry_errbuf_set(err, errlen, "launch argument \"%.60s\" is not allowed for an incoming VM", args[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int ferry_migration_dest_prepare(struct ferry_migration *m, uint64_t ram_bytes, uint32_t vcpus,
				 char *const *launch_args, size_t n_launch_args, const char *vm_socket, uint64_t now_ms,
				 char *err, size_t errlen)
{
	char bin[PATH_MAX], control[FERRY_VM_CONTROL_PATH_MAX], dir[PATH_MAX], ram[32], ncpu[16];
	if (ram_bytes == 0 || ram_bytes % PAGE) {
		ferry_errbuf_set(err, errlen, "ram_bytes %llu is not a positive multiple of %u", (unsigned long long)ram_bytes,
				 PAGE);
		return -EINVAL;
	}
	if (vcpus == 0 || vcpus > FERRY_WORKLOAD_MAX_VCPUS) {
		ferry_errbuf_set(err, errlen, "vcpus %u is not in 1..%u", vcpus, FERRY_WORKLOAD_MAX_VCPUS);
		return -EINVAL;
	}
	int lrc = launch_args_allowed(launch_args, n_launch_args, err, errlen);
	if (lrc)
		return lrc;
	struct ferry_ram_alloc_plan plan;
	int prc = ferry_ram_alloc_plan_from_env(&plan, err, errlen);
	if (prc)
		return -ENOTSUP; /* this agent's environment, not the command, is wrong: INTERNAL */
	struct ferry_host_memory mem;
	ferry_host_memory_read(&mem, "/sys/fs/cgroup");
	prc = ferry_dest_ram_admit(ram_bytes, &mem, err, errlen);
	if (prc)
		return prc;
	if (workload_binary(bin, sizeof bin)) {
		ferry_errbuf_set(err, errlen, "no ferry-workload executable (next to the agent, or $FERRY_WORKLOAD_BIN)");
		return -ENOENT;
	}
	snprintf(dir, sizeof dir, "%s", vm_socket);
	int n = snprintf(control, sizeof control, "%s/incoming-%s.sock", dirname(dir), m->vm_id);
	if (n < 0 || (size_t)n >= sizeof control) {
		ferry_errbuf_set(err, errlen, "control socket path for %s is too long", m->vm_id);
		return -ENAMETOOLONG;
	}
	snprintf(ram, sizeof ram, "%llu", (unsigned long long)ram_bytes);
	snprintf(ncpu, sizeof ncpu, "%u", vcpus);
	const char *argv[16 + FERRY_VM_LAUNCH_ARGS_MAX] = {bin, "--incoming", "--vm-id", m->vm_id, "--ram", ram,
							    "--vcpus", ncpu, "--agent-socket", vm_socket, "--control",
							    control};
	size_t argc = 12;
	for (size_t i = 0; i < n_launch_args; i++)
		argv[argc++] = launch_args[i];
	argv[argc] = NULL;

	struct ferry_migration_dest *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->m = m;
	d->ram_bytes = ram_bytes;
	d->npages = ram_bytes / PAGE;
	d->alloc_plan = plan;
	d->alloc_fd = -1;
	for (unsigned i = 0; i < FERRY_MIG_MAX_CHANNELS; i++)
		d->fds[i] = -1;
	char name[FERRY_VM_ID_MAX + 16];
	snprintf(name, sizeof name, "ferry-written-%s", m->vm_id);
	int vrc = ferry_staged_verify_init(&d->staged, d->npages, name, err, errlen);
	if (vrc) {
		free(d);
		return vrc;
	}
	pthread_cond_init(&d->ram_ready, NULL);
	pthread_mutex_init(&d->write_lock, NULL);
	pthread_mutex_init(&d->check_lock, NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int rc = -errno;
		ferry_errbuf_set(err, errlen, "cannot start the incoming workload: %s", strerror(-rc));
		ferry_staged_verify_free(&d->staged);
		pthread_cond_destroy(&d->ram_ready);
		pthread_mutex_destroy(&d->write_lock);
		pthread_mutex_destroy(&d->check_lock);
		free(d);
		return rc;
	}
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL); /* the agent blocks SIGTERM for its signalfd */
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	d->pid = pid;
	uint64_t ready_ms = ferry_dest_ram_deadline_ms(ram_bytes);
	d->ready_deadline_ms = now_ms + ready_ms;
	d->ready_by = ferry_realtime_after_ms(ready_ms);
	ferry_log(FERRY_LOG_INFO, "msg=\"incoming workload started\" migration_id=%s vm_id=%s pid=%d ram_bytes=%llu",
		  m->id, m->vm_id, (int)pid, (unsigned long long)ram_bytes);
	if (m->devices) /* the hook list was empty: this cannot fail */
		(void)ferry_mig_device_set_register(&m->devices->set, &d->devices);
	m->dst = d;
	return 0;
}

static void shut_channels(struct ferry_migration_dest *d)
{
	pthread_mutex_lock(&d->m->lock);
	for (unsigned i = 0; i < FERRY_MIG_MAX_CHANNELS; i++)
		if (d->fds[i] >= 0)
			shutdown(d->fds[i], SHUT_RDWR);
	pthread_mutex_unlock(&d->m->lock);
}

/* Any failure: tell the source on this channel (best effort), discard, wake everybody. */
static void discard(struct ferry_migration_dest *d, int fd, int code, const char *why)
{
	struct ferry_migration *m = d->m;
	if (fd >= 0) {
		Ferry__V1__Error e = FERRY__V1__ERROR__INIT;
		e.code = (Ferry__V1__ErrorCode)code;
		e.message = (char *)why;
		e.migration_id = m->id;
		pthread_mutex_lock(&d->write_lock);
		(void)ferry_stream_send(fd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR, &e.base, NULL, 0, 1000);
		pthread_mutex_unlock(&d->write_lock);
	}
	if (ferry_migration_fire(m, FERRY_MIG_EV_FAILURE, code, why) != FERRY_MIG_INVALID) {
		ferry_log(FERRY_LOG_WARNING, "msg=\"incoming migration discarded\" migration_id=%s vm_id=%s reason=\"%s\"",
			  m->id, m->vm_id, why);
		post(m);
	}
	atomic_store(&d->alloc.stop, true); /* an allocation still running is of no use any more */
	shut_channels(d);
}

struct receiver {
	struct ferry_migration_dest *d;
	unsigned index;
	int fd;
	uint32_t round;
	uint64_t batches, pages, zero_pages;
	uint64_t device_bytes; /* DEVICE_CHUNK payload this round (channel 0) */
	uint32_t *page_crcs;   /* the current batch's data pages' CRC-32Cs, in payload order */
	size_t page_crcs_cap;
};

static void receiver_free(struct receiver *r)
{
	free(r->page_crcs);
	free(r);
}

/* Waits until the incoming RAM is mapped and allocated (or the migration ended, or the deadline
 * passed): the RAM, or NULL with a ferry.v1.ErrorCode in *code and the reason in why. */
static uint8_t *await_ram(struct ferry_migration_dest *d, int *code, char *why, size_t cap)
{
	pthread_mutex_lock(&d->m->lock);
	while (!(d->ram && d->allocated) && !ferry_mig_state_final(d->m->state))
		if (pthread_cond_timedwait(&d->ram_ready, &d->m->lock, &d->ready_by) == ETIMEDOUT)
			break;
	uint8_t *ram = d->ram && d->allocated && !d->alloc_rc ? d->ram : NULL;
	int alloc_rc = d->allocated ? d->alloc_rc : 0;
	bool ended = ferry_mig_state_final(d->m->state);
	pthread_mutex_unlock(&d->m->lock);
	if (ram)
		return ram;
	*code = FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY;
	if (alloc_rc) {
		snprintf(why, cap, "allocating %llu MiB of incoming guest RAM: %s", (unsigned long long)(d->ram_bytes >> 20),
			 strerror(-alloc_rc));
	} else if (ended) {
		*code = FERRY__V1__ERROR_CODE__ERROR_CODE_ABORTED;
		snprintf(why, cap, "the incoming migration ended before its guest RAM was ready");
	} else {
		*code = FERRY__V1__ERROR_CODE__ERROR_CODE_TIMEOUT;
		snprintf(why, cap, "the incoming guest RAM was not registered and allocated within %llu ms",
			 (unsigned long long)ferry_dest_ram_deadline_ms(d->ram_bytes));
	}
	return NULL;
}

/* Test-only fault (ferry_test_corrupt_page, test_hooks.h) for a pre-copy page: page N of round 0
 * arrives torn (its checksum matched, its own self-check does not): a byte flips right
 * after it landed, before its check, and the CRC taken on arrival (page_crcs, may be NULL) with it. */
static void test_corrupt_landed(uint8_t *ram, uint64_t first, uint64_t count, uint32_t *page_crcs)
{
	bool at_final;
	uint64_t n;
	if (!ferry_test_corrupt_page(&at_final, &n) || at_final || n < first || n >= first + count)
		return;
	ram[n * PAGE + 100] ^= 0x01;
	if (page_crcs)
		page_crcs[n - first] = ferry_crc32c(0, ram + n * PAGE, PAGE);
	ferry_log(FERRY_LOG_WARNING, "msg=\"test fault: guest page corrupted\" page=%llu round=0", (unsigned long long)n);
}

/* One PAGE_BATCH: its runs are checked against RAM and the payload length first, then each
 * non-zero run is read straight into guest RAM. */
static int on_batch(struct receiver *r, const Ferry__V1__PageBatch *b, uint32_t payload_len, char *why, size_t cap)
{
	struct ferry_migration_dest *d = r->d;
	if (b->round != r->round || b->batch_seq != r->batches + 1) {
		snprintf(why, cap, "channel %u: batch %llu of round %u out of order (expected %llu of round %u)", r->index,
			 (unsigned long long)b->batch_seq, b->round, (unsigned long long)r->batches + 1, r->round);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE;
	}
	uint64_t bytes = 0;
	for (size_t i = 0; i < b->n_runs; i++) {
		const Ferry__V1__PageRun *run = b->runs[i];
		if (run->count == 0 || run->first_page >= d->npages || run->count > d->npages - run->first_page) {
			snprintf(why, cap, "channel %u: page run %llu+%u is outside guest RAM", r->index,
				 (unsigned long long)run->first_page, run->count);
			return FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE;
		}
		if (!run->zero)
			bytes += (uint64_t)run->count * PAGE;
	}
	if (bytes != payload_len || b->n_page_crc32c != bytes / PAGE) {
		snprintf(why, cap, "channel %u: batch %llu carries %u payload bytes and %zu page checksums, its runs need "
			 "%llu bytes and %llu", r->index, (unsigned long long)b->batch_seq, payload_len, b->n_page_crc32c,
			 (unsigned long long)bytes, (unsigned long long)(bytes / PAGE));
		return FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE;
	}
	int code = 0;
	uint8_t *ram = await_ram(d, &code, why, cap);
	if (!ram)
		return code;
	bool mapped = d->alloc_plan.mode == FERRY_RAM_ALLOC_POPULATE || d->alloc_plan.mode == FERRY_RAM_ALLOC_BOTH;
	size_t data_pages = payload_len / PAGE;
	if (data_pages > r->page_crcs_cap) {
		uint32_t *grown = realloc(r->page_crcs, data_pages * sizeof *grown);
		if (!grown) {
			snprintf(why, cap, "no memory for the checksums of a %u-byte batch", payload_len);
			return FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
		}
		r->page_crcs = grown;
		r->page_crcs_cap = data_pages;
	}
	uint32_t *page_crc = r->page_crcs;
	const uint32_t *sent_crc = b->page_crc32c;
	for (size_t i = 0; i < b->n_runs; i++) {
		const Ferry__V1__PageRun *run = b->runs[i];
		uint8_t *dst = ram + run->first_page * PAGE;
		size_t len = (size_t)run->count * PAGE;
		if (run->zero) {
			if (r->round > 0) /* round 0 lands in fresh, zeroed memory: nothing to do */
				memset(dst, 0, len);
			r->zero_pages += run->count;
		} else {
			/* Round 0 writes into never-touched memory unless it was populated before the
			 * stream: then map the run at once rather than take a fault per page inside recv. */
			if (r->round == 0 && !mapped && run->count >= FERRY_RAM_POPULATE_MIN_PAGES)
				(void)ferry_ram_populate(dst, len, true);
			int rc = ferry_stream_read_payload(r->fd, dst, len, NULL, IO_TIMEOUT_MS);
			if (rc) {
				snprintf(why, cap, "channel %u: reading batch %llu: %s", r->index,
					 (unsigned long long)b->batch_seq, ferry_wire_strerror(rc));
				return FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
			}
			/* One pass: each page's CRC against the source's, kept for round 0's check
			 * (ferry_page_verify_crc). A mismatch is held suspect (staged_verify.h). */
			ferry_crc32c_pages(dst, run->count, page_crc);
			for (uint32_t k = 0; k < run->count; k++)
				if (page_crc[k] != sent_crc[k])
					ferry_staged_verify_mismatch(&d->staged, run->first_page + k);
			page_crc += run->count;
			sent_crc += run->count;
		}
		if (r->round > 0)
			ferry_staged_verify_mark(&d->staged, run->first_page, run->count);
		r->pages += run->count;
	}
	/* Round 0 (never the final round) is checked as it lands, while in cache; later rounds are
	 * small and checked at their end, the final one by the workload at start. */
	page_crc = r->page_crcs;
	for (size_t i = 0; r->round == 0 && i < b->n_runs; i++) {
		const Ferry__V1__PageRun *run = b->runs[i];
		test_corrupt_landed(ram, run->first_page, run->count, run->zero ? NULL : page_crc);
		ferry_staged_verify_landed(&d->staged, ram, run->first_page, run->count, run->zero ? NULL : page_crc);
		if (!run->zero)
			page_crc += run->count;
	}
	r->batches++;
	return 0;
}

/* DEVICE_CHUNK (channel 0): the devices go to RESUMING before the first byte is written; each
 * chunk is checked (round, device, checksum, offset) by the device set, which writes it. */
static int on_device_chunk(struct receiver *r, const Ferry__V1__DeviceChunk *c, uint32_t payload_len, char *why,
			   size_t cap)
{
	struct ferry_migration_dest *d = r->d;
	struct ferry_mig_device_binding *b = d->m->devices;
	int k = b ? ferry_mig_device_binding_find_peer(b, c->device_id) : -1;
	if (k < 0) {
		snprintf(why, cap, "device state for %.100s, which this migration does not carry", c->device_id);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE;
	}
	if (r->index != 0 || c->round != r->round) {
		snprintf(why, cap, "channel %u: device chunk of round %u (device chunks travel on channel 0, round %u)",
			 r->index, c->round, r->round);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE;
	}
	uint8_t *buf = payload_len ? malloc(payload_len) : NULL;
	uint32_t crc = 0;
	if (payload_len && !buf) {
		snprintf(why, cap, "no memory for a %u-byte device chunk", payload_len);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
	}
	int rc = payload_len ? ferry_stream_read_payload(r->fd, buf, payload_len, &crc, IO_TIMEOUT_MS) : 0;
	if (rc) {
		free(buf);
		snprintf(why, cap, "channel %u: reading a device chunk: %s", r->index, ferry_wire_strerror(rc));
		return FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
	}
	if (d->devices.started == 0 && (rc = ferry_mig_devices_resuming(&d->devices, why, cap)) < 0) {
		free(buf);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE;
	}
	rc = ferry_mig_device_set_write(&b->set, b->set.names[k], c->offset, c->stop_copy, c->end_of_stream,
					c->payload_crc32c, buf, payload_len, why, cap);
	free(buf);
	if (rc < 0)
		return rc == -EBADMSG ? FERRY__V1__ERROR_CODE__ERROR_CODE_CHECKSUM
		       : rc == -EPROTO ? FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE
				       : FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE;
	r->device_bytes += payload_len;
	return 0;
}

/* VCPU_STATE (final round, channel 0): the source's frozen vCPUs; a CRC mismatch discards. */
static int on_vcpu_state(struct receiver *r, const Ferry__V1__VcpuState *v, char *why, size_t cap)
{
	struct ferry_migration_dest *d = r->d;
	if (v->vcpus == 0 || v->state.len == 0 || v->state.len >= VCPU_STATE_MAX ||
	    memchr(v->state.data, ' ', v->state.len) || memchr(v->state.data, '\0', v->state.len) ||
	    memchr(v->state.data, '\n', v->state.len)) {
		snprintf(why, cap, "vCPU state of %u vCPUs and %zu bytes does not fit a `start` line", v->vcpus,
			 v->state.len);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE;
	}
	uint32_t crc = ferry_crc32c(0, v->state.data, v->state.len);
	if (crc != v->state_crc32c) {
		snprintf(why, cap, "channel %u: the vCPU state failed its checksum (crc32c %08x, sent %08x)", r->index,
			 crc, v->state_crc32c);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_CHECKSUM;
	}
	pthread_mutex_lock(&d->m->lock);
	d->vcpus = v->vcpus;
	memcpy(d->vcpu_state, v->state.data, v->state.len);
	d->vcpu_state[v->state.len] = '\0';
	d->have_vcpu = true;
	pthread_mutex_unlock(&d->m->lock);
	ferry_test_pause_point("vcpu_state", d->m->id);
	return 0;
}

/* Whether this END_OF_ROUND is the round's last: every other channel has acknowledged the round,
 * and the source sends nothing more until this channel does too (rounds never overlap). */
static bool last_of_round(struct ferry_migration_dest *d)
{
	pthread_mutex_lock(&d->m->lock);
	bool last = ++d->round_ends == d->m->channels;
	if (last)
		d->round_ends = 0;
	pthread_mutex_unlock(&d->m->lock);
	return last;
}

/* Test-only fault (ferry_test_corrupt_page, test_hooks.h) for the final round: a byte of its first
 * page goes bad after it arrived intact (past the stream's checksums), at the round's end. */
static void test_corrupt_page(struct ferry_migration_dest *d, uint8_t *ram, uint32_t round, bool final)
{
	bool at_final;
	uint64_t n, page = UINT64_MAX;
	if (!ferry_test_corrupt_page(&at_final, &n) || !at_final || !final)
		return;
	for (uint64_t p = 0; p < d->npages && page == UINT64_MAX; p++)
		if (ferry_dirty_words_test(d->staged.written, p))
			page = p;
	if (page >= d->npages)
		return;
	ram[page * PAGE + 100] ^= 0x01;
	ferry_log(FERRY_LOG_WARNING, "msg=\"test fault: guest page corrupted\" page=%llu round=%u",
		  (unsigned long long)page, round);
}

/* The round's staged verification (staged_verify.h), run while every receiver is idle: it delays
 * pre-copy, not the downtime. 0, or a ferry.v1.ErrorCode with the bad page in why: CHECKSUM for a
 * page damaged on the way, MEMORY for one that went bad here. */
static int check_round(struct ferry_migration_dest *d, uint32_t round, bool final, char *why, size_t cap)
{
	int code = 0;
	uint8_t *ram = await_ram(d, &code, why, cap);
	if (!ram)
		return code;
	struct ferry_round_check c;
	struct timespec t0, t1;
	pthread_mutex_lock(&d->check_lock);
	test_corrupt_page(d, ram, round, final);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = ferry_staged_verify_round(&d->staged, ram, final, &c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_mutex_unlock(&d->check_lock);
	long long us = (t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000;
	if (rc) {
		snprintf(why, cap, "round %u: %s", round, c.reason);
		return c.in_transit ? FERRY__V1__ERROR_CODE__ERROR_CODE_CHECKSUM : FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY;
	}
	ferry_log(FERRY_LOG_INFO,
		  "msg=\"round memory check\" migration_id=%s round=%u final=%d pages_checked=%llu deferred=%llu "
		  "mismatched=%llu resent=%llu check_us=%lld",
		  d->m->id, round, (int)final, (unsigned long long)c.checked, (unsigned long long)c.deferred,
		  (unsigned long long)c.mismatched, (unsigned long long)c.resent, us);
	return 0;
}

/* END_OF_ROUND: counts must match what arrived; then ROUND_ACK. Returns 1 after the final round. */
static int on_end_of_round(struct receiver *r, const Ferry__V1__EndOfRound *e, char *why, size_t cap, int *code)
{
	struct ferry_migration_dest *d = r->d;
	if (e->round != r->round || e->channel_index != r->index || e->batches != r->batches || e->pages != r->pages ||
	    e->device_bytes != r->device_bytes) {
		snprintf(why, cap,
			 "channel %u: END_OF_ROUND %u says %llu batches / %llu pages / %llu device bytes, %llu / %llu / %llu "
			 "arrived",
			 r->index, e->round, (unsigned long long)e->batches, (unsigned long long)e->pages,
			 (unsigned long long)e->device_bytes, (unsigned long long)r->batches, (unsigned long long)r->pages,
			 (unsigned long long)r->device_bytes);
		*code = FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE;
		return -1;
	}
	if (last_of_round(d) && (*code = check_round(d, e->round, e->final, why, cap)) != 0)
		return -1;
	Ferry__V1__RoundAck a = FERRY__V1__ROUND_ACK__INIT;
	a.round = r->round;
	a.channel_index = r->index;
	a.batches = r->batches;
	a.pages = r->pages;
	pthread_mutex_lock(&d->write_lock);
	int rc = ferry_stream_send(r->fd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ROUND_ACK, &a.base, NULL, 0, IO_TIMEOUT_MS);
	pthread_mutex_unlock(&d->write_lock);
	if (rc) {
		snprintf(why, cap, "channel %u: sending ROUND_ACK: %s", r->index, ferry_wire_strerror(rc));
		*code = FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
		return -1;
	}
	r->round++;
	r->batches = r->pages = r->zero_pages = r->device_bytes = 0;
	return e->final ? 1 : 0;
}

/* STREAM_WELCOME once the guest RAM is mapped and allocated: pre-copy starts on ready memory.
 * 0, or a ferry.v1.ErrorCode with the reason in why. */
static int welcome(struct receiver *r, char *why, size_t cap)
{
	int code = 0;
	if (!await_ram(r->d, &code, why, cap))
		return code;
	Ferry__V1__StreamWelcome w = FERRY__V1__STREAM_WELCOME__INIT;
	w.protocol_version = FERRY_STREAM_PROTOCOL_VERSION;
	w.channel_index = r->index;
	pthread_mutex_lock(&r->d->write_lock);
	int rc = ferry_stream_send(r->fd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_WELCOME, &w.base, NULL, 0,
				   IO_TIMEOUT_MS);
	pthread_mutex_unlock(&r->d->write_lock);
	if (rc) {
		snprintf(why, cap, "channel %u: sending STREAM_WELCOME: %s", r->index, ferry_wire_strerror(rc));
		return FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
	}
	ferry_log(FERRY_LOG_INFO, "msg=\"data channel welcomed\" migration_id=%s channel=%u", r->d->m->id, r->index);
	return 0;
}

static void *receiver_main(void *arg)
{
	struct receiver *r = arg;
	struct ferry_migration_dest *d = r->d;
	char why[FERRY_MIG_ERROR_MAX];
	int code = welcome(r, why, sizeof why);
	while (!code) {
		struct ferry_frame f;
		int rc = ferry_stream_recv(r->fd, &f, IO_TIMEOUT_MS);
		if (rc) {
			snprintf(why, sizeof why, "channel %u: %s", r->index, ferry_wire_strerror(rc));
			code = rc == -ETIMEDOUT ? FERRY__V1__ERROR_CODE__ERROR_CODE_TIMEOUT
						: (rc == FERRY_WIRE_EMESSAGE ? FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE
									     : FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL);
			break;
		}
		int done = 0;
		switch (f.type) {
		case FERRY__V1__FRAME_TYPE__FRAME_TYPE_PAGE_BATCH:
			code = on_batch(r, (const Ferry__V1__PageBatch *)f.msg, f.payload_len, why, sizeof why);
			break;
		case FERRY__V1__FRAME_TYPE__FRAME_TYPE_DEVICE_CHUNK:
			code = on_device_chunk(r, (const Ferry__V1__DeviceChunk *)f.msg, f.payload_len, why, sizeof why);
			break;
		case FERRY__V1__FRAME_TYPE__FRAME_TYPE_VCPU_STATE:
			code = on_vcpu_state(r, (const Ferry__V1__VcpuState *)f.msg, why, sizeof why);
			break;
		case FERRY__V1__FRAME_TYPE__FRAME_TYPE_END_OF_ROUND:
			done = on_end_of_round(r, (const Ferry__V1__EndOfRound *)f.msg, why, sizeof why, &code);
			break;
		default:
			snprintf(why, sizeof why, "channel %u: unexpected frame type %u", r->index, f.type);
			code = FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE;
			break;
		}
		ferry_frame_release(&f);
		if (code)
			break;
		if (done == 1) {
			pthread_mutex_lock(&d->m->lock);
			bool loaded = ++d->finals == d->m->channels && d->have_vcpu;
			pthread_mutex_unlock(&d->m->lock);
			if (r->index == 0)
				atomic_store(&d->rx0_exited, true);
			if (loaded && ferry_migration_fire(d->m, FERRY_MIG_EV_FINAL_RECEIVED, 0, NULL) != FERRY_MIG_INVALID)
				post(d->m); /* wakes the event loop, which starts the workload */
			receiver_free(r);
			return NULL;
		}
	}
	/* A channel that breaks after the VM resumed is of no consequence. */
	if (!ferry_mig_state_final(ferry_migration_state(d->m)))
		discard(d, code == FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL ? -1 : r->fd, code, why);
	if (r->index == 0)
		atomic_store(&d->rx0_exited, true);
	receiver_free(r);
	return NULL;
}

int ferry_migration_dest_accept(struct ferry_migration *m, const Ferry__V1__StreamHello *h, int fd, char *msg,
				size_t cap)
{
	struct ferry_migration_dest *d = m->dst;
	if (!ferry_migration_token_matches(m, h->token.data, h->token.len)) {
		snprintf(msg, cap, "wrong token for migration %.128s", m->id);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_TOKEN;
	}
	if (h->protocol_version != FERRY_STREAM_PROTOCOL_VERSION) {
		snprintf(msg, cap, "the source speaks data-stream protocol %u, this agent speaks %u: upgrade both agents "
			 "to the same release", h->protocol_version, FERRY_STREAM_PROTOCOL_VERSION);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION;
	}
	if (h->channel_count != m->channels || h->channel_index >= m->channels || h->page_size != PAGE ||
	    h->ram_bytes != d->ram_bytes) {
		snprintf(msg, cap, "channel %u of %u, page size %u, %llu bytes: prepared for %u channels of %llu bytes",
			 h->channel_index, h->channel_count, h->page_size, (unsigned long long)h->ram_bytes, m->channels,
			 (unsigned long long)d->ram_bytes);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE;
	}
	pthread_mutex_lock(&m->lock);
	bool used = d->started[h->channel_index] || ferry_mig_state_final(m->state);
	pthread_mutex_unlock(&m->lock);
	if (used) {
		snprintf(msg, cap, "token of migration %.128s already used for channel %u", m->id, h->channel_index);
		return FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_TOKEN;
	}
	struct receiver *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(msg, cap, "out of memory");
		return FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
	}
	*r = (struct receiver){.d = d, .index = h->channel_index, .fd = fd};
	ferry_stream_tune_socket(fd);
	pthread_mutex_lock(&m->lock);
	d->fds[h->channel_index] = fd;
	d->started[h->channel_index] = pthread_create(&d->threads[h->channel_index], NULL, receiver_main, r) == 0;
	bool ok = d->started[h->channel_index];
	pthread_mutex_unlock(&m->lock);
	if (!ok) {
		free(r);
		snprintf(msg, cap, "cannot start a receiver thread");
		return FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
	}
	ferry_migration_fire(m, FERRY_MIG_EV_CHANNEL_OPENED, 0, NULL);
	ferry_log(FERRY_LOG_INFO, "msg=\"data channel accepted\" migration_id=%s channel=%u of=%u", m->id,
		  h->channel_index, m->channels);
	return 0;
}

/* The allocation thread's end (migration_dest_ram.h): the receivers may welcome their channels. */
static void mark_allocated(struct ferry_migration_dest *d, int rc)
{
	pthread_mutex_lock(&d->m->lock);
	d->allocated = true;
	d->alloc_rc = rc;
	pthread_cond_broadcast(&d->ram_ready);
	pthread_mutex_unlock(&d->m->lock);
}

static void on_allocated(void *ctx, int rc, uint64_t ns)
{
	struct ferry_migration_dest *d = ctx;
	mark_allocated(d, rc);
	if (rc && rc != -ECANCELED) {
		char why[FERRY_MIG_ERROR_MAX];
		snprintf(why, sizeof why, "allocating %llu MiB of incoming guest RAM: %s",
			 (unsigned long long)(d->ram_bytes >> 20), strerror(-rc));
		discard(d, -1, FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY, why);
	}
}

static void map_ram(struct ferry_migration_dest *d, struct ferry_vm_listener *vms, uint64_t now_ms)
{
	const struct ferry_vm_entry *e = ferry_vm_registry_find(&vms->registry, d->m->vm_id);
	if (!e || !e->reg.incoming) {
		if (now_ms >= d->ready_deadline_ms)
			discard(d, -1, FERRY__V1__ERROR_CODE__ERROR_CODE_TIMEOUT,
				"the incoming workload did not register in time");
		return;
	}
	if (e->reg.ram_bytes != d->ram_bytes) {
		discard(d, -1, FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY, "the incoming VM registered another RAM size");
		return;
	}
	void *p = mmap(NULL, d->ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, e->memfd, 0);
	if (p == MAP_FAILED) {
		char why[128];
		snprintf(why, sizeof why, "cannot map the incoming guest RAM: %s", strerror(errno));
		discard(d, -1, FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY, why);
		return;
	}
	d->alloc_fd = fcntl(e->memfd, F_DUPFD_CLOEXEC, 0); /* the registry may close its fd meanwhile */
	pthread_mutex_lock(&d->m->lock);
	d->ram = p;
	pthread_mutex_unlock(&d->m->lock);
	int rc = d->alloc_fd < 0 ? -errno
				 : ferry_dest_ram_start(&d->alloc, &d->alloc_plan, d->alloc_fd, p, d->ram_bytes, d->m->id,
							on_allocated, d);
	if (rc) {
		char why[128];
		snprintf(why, sizeof why, "cannot allocate the incoming guest RAM: %s", strerror(-rc));
		mark_allocated(d, rc);
		discard(d, -1, FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL, why);
	}
}

static int channel0_fd(struct ferry_migration_dest *d)
{
	pthread_mutex_lock(&d->m->lock);
	int fd = d->fds[0];
	pthread_mutex_unlock(&d->m->lock);
	return fd;
}

static void send_start(struct ferry_migration_dest *d, struct ferry_vm_listener *vms)
{
	char err[FERRY_MIG_ERROR_MAX], blob[VCPU_STATE_MAX];
	d->start_sent = true;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = ferry_mig_devices_resume(&d->devices, err, sizeof err);
	if (rc) {
		discard(d, channel0_fd(d), FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE, err);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Part of the downtime: the devices' resume before the workload's `start`. */
	ferry_log(FERRY_LOG_INFO, "msg=\"devices resumed\" migration_id=%s resume_us=%lld", d->m->id,
		  (long long)(t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000);
	pthread_mutex_lock(&d->m->lock);
	unsigned vcpus = d->vcpus;
	memcpy(blob, d->vcpu_state, sizeof blob);
	pthread_mutex_unlock(&d->m->lock);
	rc = ferry_vm_listener_start(vms, d->m->vm_id, vcpus, blob, d->staged.fd, err, sizeof err);
	if (rc)
		discard(d, channel0_fd(d), FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL, err);
}

/* The workload answered `start` (or died): confirm to the source, or discard. */
static void check_started(struct ferry_migration_dest *d, struct ferry_vm_listener *vms)
{
	const struct ferry_vm_entry *e = ferry_vm_registry_find(&vms->registry, d->m->vm_id);
	if (e && e->started) {
		int64_t start_ns = ferry_realtime_ns();
		Ferry__V1__ResumeConfirm c = FERRY__V1__RESUME_CONFIRM__INIT;
		c.vcpu_start_unix_ns = start_ns;
		c.memory_verified = true;
		c.pages_verified = d->npages;
		pthread_mutex_lock(&d->write_lock);
		int rc = ferry_stream_send(channel0_fd(d), FERRY__V1__FRAME_TYPE__FRAME_TYPE_RESUME_CONFIRM, &c.base, NULL,
					   0, IO_TIMEOUT_MS);
		pthread_mutex_unlock(&d->write_lock);
		/* The VM runs here now whatever the source hears. A lost confirm makes the source roll back
		 * too (two running copies): logged loudly for the coordinator to reconcile. */
		if (rc)
			ferry_log(FERRY_LOG_ERROR, "msg=\"cannot send RESUME_CONFIRM\" migration_id=%s reason=\"%s\"",
				  d->m->id, ferry_wire_strerror(rc));
		ferry_migration_fire(d->m, FERRY_MIG_EV_STARTED, 0, NULL);
		/* The workload is this host's VM now, outliving this record: the VM listener reaps it. */
		if (d->pid > 0 && ferry_vm_listener_adopt_child(vms, d->m->vm_id, d->pid) == 0)
			d->pid = 0;
		struct ferry_mig_report rep; /* receivers are done: the devices are ours to read */
		ferry_migration_report_base(d->m, &rep);
		ferry_mig_device_binding_report(d->m->devices, &rep);
		ferry_mig_reporter_post(d->m->reporter, &rep);
		shut_channels(d);
		return;
	}
	const char *answer = e ? e->start_answer : "";
	if (!e && strcmp(vms->last_start_vm, d->m->vm_id) == 0)
		answer = vms->last_start_answer;
	if (answer[0] || !e) {
		char why[FERRY_MIG_ERROR_MAX];
		snprintf(why, sizeof why, "the incoming workload refused to start: %.200s", answer[0] ? answer : "it exited");
		discard(d, channel0_fd(d), FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY, why);
	}
}

/* A discarded migration resets the devices it put in RESUMING, once channel 0's receiver (their
 * writer) is gone; until then the next poll tries again. */
static void roll_back_devices(struct ferry_migration_dest *d)
{
	if (d->devices.started && (atomic_load(&d->rx0_exited) || !d->started[0]))
		ferry_mig_devices_rollback(&d->devices);
}

static void reap(struct ferry_migration_dest *d)
{
	if (d->pid > 0) {
		int status;
		if (waitpid(d->pid, &status, WNOHANG) == d->pid)
			d->pid = 0;
	}
}

void ferry_migration_dest_poll(struct ferry_migration *m, struct ferry_vm_listener *vms, uint64_t now_ms)
{
	struct ferry_migration_dest *d = m->dst;
	if (!d)
		return;
	enum ferry_migr_state st = ferry_migration_state(m);
	if (st == FERRY_MIG_DST_DISCARDED) {
		roll_back_devices(d);
		/* It never ran: nothing of it may survive. Killed once the devices are reset, because its
		 * exit is what publishes the next Inventory, which must show them RUNNING again. */
		if (d->pid > 0 && !d->devices.started)
			kill(d->pid, SIGKILL);
		reap(d);
		return;
	}
	reap(d);
	pthread_mutex_lock(&m->lock);
	bool mapped = d->ram != NULL;
	pthread_mutex_unlock(&m->lock);
	if (!mapped && !ferry_mig_state_final(st)) {
		map_ram(d, vms, now_ms);
	} else if (mapped && !ferry_mig_state_final(st) && now_ms >= d->ready_deadline_ms) {
		pthread_mutex_lock(&m->lock);
		bool allocated = d->allocated;
		pthread_mutex_unlock(&m->lock);
		if (!allocated)
			discard(d, -1, FERRY__V1__ERROR_CODE__ERROR_CODE_TIMEOUT,
				"the incoming guest RAM was not allocated in time");
	}
	if (st == FERRY_MIG_DST_LOADED && !d->start_sent)
		send_start(d, vms);
	else if (st == FERRY_MIG_DST_LOADED && d->start_sent)
		check_started(d, vms);
}

int ferry_migration_dest_abort(struct ferry_migration *m, const char *reason)
{
	if (ferry_migration_fire(m, FERRY_MIG_EV_ABORT, FERRY__V1__ERROR_CODE__ERROR_CODE_ABORTED, reason) ==
	    FERRY_MIG_INVALID)
		return -EALREADY;
	post(m);
	shut_channels(m->dst);
	return 0;
}

int ferry_migration_dest_idle(struct ferry_migration *m)
{
	struct ferry_migration_dest *d = m->dst;
	if (!d)
		return 1;
	enum ferry_migr_state st = ferry_migration_state(m);
	return ferry_mig_state_final(st) && (st == FERRY_MIG_DST_RESUMED || d->pid == 0);
}

void ferry_migration_dest_free(struct ferry_migration *m)
{
	struct ferry_migration_dest *d = m->dst;
	if (!d)
		return;
	if (!ferry_mig_state_final(ferry_migration_state(m)))
		ferry_migration_fire(m, FERRY_MIG_EV_ABORT, FERRY__V1__ERROR_CODE__ERROR_CODE_ABORTED, "agent stopping");
	shut_channels(d);
	ferry_dest_ram_join(&d->alloc);
	if (d->alloc_fd >= 0)
		close(d->alloc_fd);
	for (unsigned i = 0; i < FERRY_MIG_MAX_CHANNELS; i++)
		if (d->started[i])
			pthread_join(d->threads[i], NULL);
	if (ferry_migration_state(m) != FERRY_MIG_DST_RESUMED && d->devices.started)
		ferry_mig_devices_rollback(&d->devices); /* every receiver is joined: nobody writes any more */
	if (ferry_migration_state(m) == FERRY_MIG_DST_DISCARDED && d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, NULL, 0);
	}
	for (unsigned i = 0; i < FERRY_MIG_MAX_CHANNELS; i++)
		if (d->fds[i] >= 0)
			close(d->fds[i]);
	if (d->ram)
		munmap(d->ram, d->ram_bytes);
	ferry_staged_verify_free(&d->staged);
	pthread_cond_destroy(&d->ram_ready);
	pthread_mutex_destroy(&d->write_lock);
	pthread_mutex_destroy(&d->check_lock);
	free(d);
	m->dst = NULL;
}
