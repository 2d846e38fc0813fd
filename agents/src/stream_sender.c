/* The source's round sender: one thread per data channel for the length of a round. See
 * migration_source.h for the protocol. */
#include "ferry.pb-c.h"
#include "clock.h"
#include "crc32c.h"
#include "errbuf.h"
#include "log.h"
#include "migration_device_binding.h"
#include "migration_source.h"
#include "migration_source_impl.h"
#include "ram_populate.h"
#include "stream_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define PAGE FERRY_VM_PAGE_SIZE

struct channel_job {
	struct ferry_migration_source *s;
	const struct ferry_dirty_bitmap *bm;
	unsigned index;
	uint32_t round;
	bool final;
	const char *vcpu_state;
	struct ferry_round_stats stats;
	int rc, code;
	char err[FERRY_MIG_ERROR_MAX];
	uint64_t t0; /* when the channel's round began (CLOCK_MONOTONIC ns) */
	uint32_t zero_page_crc; /* CRC-32C of a page of zeros */
	uint8_t *buf;           /* a device chunk being sent */
	/* batch under construction: runs, and the data pages as iovecs into guest RAM with their CRCs */
	Ferry__V1__PageRun runs[FERRY_STREAM_CHUNK_PAGES];
	Ferry__V1__PageRun *run_ptrs[FERRY_STREAM_CHUNK_PAGES];
	struct iovec data[FERRY_STREAM_CHUNK_PAGES];
	uint32_t crcs[FERRY_STREAM_CHUNK_PAGES];      /* every page of the region, by page - first */
	uint32_t data_crcs[FERRY_STREAM_CHUNK_PAGES]; /* the data pages', in payload order */
};

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t acc = 0;
	for (size_t i = 0; i < PAGE / 8; i++)
		acc |= w[i];
	return acc == 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pace(struct ferry_migration_source *s, uint64_t bytes)
{
	pthread_mutex_lock(&s->bucket_lock);
	uint64_t wait = ferry_token_bucket_reserve(&s->bucket, bytes, now_ns());
	pthread_mutex_unlock(&s->bucket_lock);
	if (wait) {
		struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
}

static int fail(struct channel_job *j, int rc, int code, const char *what)
{
	j->rc = rc < 0 ? rc : -EIO;
	j->code = code;
	ferry_errbuf_set(j->err, sizeof j->err, "channel %u round %u: %s", j->index, j->round, what);
	return j->rc;
}

/* A send failed: the destination may have said why before it hung up (a checksum mismatch). */
static int peer_error(struct channel_job *j)
{
	struct ferry_frame f;
	if (ferry_stream_recv(j->s->fds[j->index], &f, 200) != 0)
		return 0;
	int found = 0;
	if (f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR) {
		const Ferry__V1__Error *e = (const Ferry__V1__Error *)f.msg;
		char what[FERRY_MIG_ERROR_MAX];
		snprintf(what, sizeof what, "destination refused: %.200s", e->message);
		fail(j, -EPROTO, e->code ? (int)e->code : FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL, what);
		found = 1;
	}
	ferry_frame_release(&f);
	return found;
}

static int io_fail(struct channel_job *j, int rc, const char *step)
{
	if ((rc == -EPIPE || rc == -ECONNRESET) && peer_error(j))
		return j->rc;
	char what[160];
	if (rc == -EPIPE || rc == -ECONNRESET) /* the migration's most likely failure: say it plainly */
		snprintf(what, sizeof what, "%s: the destination closed the channel (%s)", step, ferry_wire_strerror(rc));
	else
		snprintf(what, sizeof what, "%s: %s", step, ferry_wire_strerror(rc));
	return fail(j, rc, rc == -ETIMEDOUT ? FERRY__V1__ERROR_CODE__ERROR_CODE_TIMEOUT
					    : FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL, what);
}

/* Appends page p (zero or data) to the batch's runs; a data page also to its iovecs. */
static void add_page(struct channel_job *j, size_t *n_runs, size_t *n_data, uint64_t p, bool zero)
{
	Ferry__V1__PageRun *last = *n_runs ? &j->runs[*n_runs - 1] : NULL;
	if (last && last->zero == zero && last->first_page + last->count == p) {
		last->count++;
		if (!zero)
			j->data[*n_data - 1].iov_len += PAGE;
		return;
	}
	Ferry__V1__PageRun *run = &j->runs[*n_runs];
	ferry__v1__page_run__init(run);
	run->first_page = p;
	run->count = 1;
	run->zero = zero;
	j->run_ptrs[(*n_runs)++] = run;
	if (!zero)
		j->data[(*n_data)++] = (struct iovec){(void *)(j->s->ram + p * PAGE), PAGE};
}

/* FERRY_TEST_TEAR_PAGE: the guest is halfway through writing the page when it is sent (`before`:
 * between its checksum and its send), and finishes the write after. */
static void test_tear(struct channel_job *j, uint64_t first, uint64_t end, bool before)
{
	struct ferry_migration_source *s = j->s;
	if (j->round != 0 || !s->tear_page || s->tear_page - 1 < first || s->tear_page - 1 >= end)
		return;
	char err[FERRY_MIG_ERROR_MAX];
	int rc = ferry__source_write_page(s, s->tear_page - 1, before ? "tear" : "touch", err, sizeof err);
	ferry_log(rc ? FERRY_LOG_ERROR : FERRY_LOG_WARNING,
		  "msg=\"test fault: guest page %s\" migration_id=%s page=%llu%s%s",
		  before ? "half written after its checksum" : "written whole after its send", s->m->id,
		  (unsigned long long)(s->tear_page - 1), rc ? " error=" : "", rc ? err : "");
}

/* Sends the set pages of [first, end) as one batch (none if no page is set), straight from guest
 * RAM: each data page's CRC is taken here and the kernel copies the page during the send, so a
 * vCPU or device write in between makes that page arrive with a CRC that does not match. Such a
 * write came after the round's harvest re-armed tracking, so the page is sent again next round,
 * and the destination holds it suspect until then (staged_verify.h). */
static int send_region(struct channel_job *j, uint64_t first, uint64_t end, uint64_t *seq)
{
	struct ferry_migration_source *s = j->s;
	size_t n_runs = 0, n_data = 0;
	uint64_t pages = 0, zeros = 0;
	struct ferry_page_range r;
	for (uint64_t from = first; ferry_dirty_bitmap_next_run(j->bm, from, &r) && r.first < end;
	     from = r.first + r.count) {
		uint64_t stop = r.first + r.count < end ? r.first + r.count : end;
		const uint8_t *run = s->ram + r.first * PAGE;
		/* Round 0 reads every page, most never mapped in this process; later rounds read pages
		 * it mapped then (a populate would be a syscall that finds everything present). */
		if (j->round == 0 && stop - r.first >= FERRY_RAM_POPULATE_MIN_PAGES)
			(void)ferry_ram_populate(run, (size_t)(stop - r.first) * PAGE, false);
		/* Three pages at a time, at the instruction's full rate; the CRC also finds the zero
		 * pages (a page of zeros has the zero page's CRC, and a word test confirms it). */
		uint32_t *crcs = j->crcs + (r.first - first);
		ferry_crc32c_pages(run, (size_t)(stop - r.first), crcs);
		for (uint64_t p = r.first; p < stop; p++) {
			uint32_t crc = crcs[p - r.first];
			bool zero = crc == j->zero_page_crc && page_is_zero(s->ram + p * PAGE);
			add_page(j, &n_runs, &n_data, p, zero);
			if (zero)
				zeros++;
			else
				j->data_crcs[pages - zeros] = crc;
			pages++;
		}
		if (r.first + r.count >= end)
			break;
	}
	if (!n_runs)
		return 0;
	size_t bytes = (size_t)(pages - zeros) * PAGE;
	Ferry__V1__PageBatch b = FERRY__V1__PAGE_BATCH__INIT;
	b.round = j->round;
	b.batch_seq = ++*seq;
	b.n_runs = n_runs;
	b.runs = j->run_ptrs;
	b.n_page_crc32c = (size_t)(pages - zeros);
	b.page_crc32c = j->data_crcs;
	uint64_t nth = atomic_fetch_add(&s->batches_sent, 1) + 1;
	if (s->corrupt_batch && nth == s->corrupt_batch && b.n_page_crc32c) {
		/* As if the middle data page were damaged on the way: its CRC no longer matches it. */
		j->data_crcs[b.n_page_crc32c / 2] ^= 0x5a;
		ferry_log(FERRY_LOG_WARNING, "msg=\"test fault: corrupting a batch\" migration_id=%s batch=%llu",
			  s->m->id, (unsigned long long)nth);
	}
	test_tear(j, first, end, true);
	pace(s, bytes + 64);
	int rc = ferry_stream_sendv(s->fds[j->index], FERRY__V1__FRAME_TYPE__FRAME_TYPE_PAGE_BATCH, &b.base, j->data,
				    (int)n_data, FERRY_STREAM_IO_TIMEOUT_MS);
	test_tear(j, first, end, false);
	if (rc)
		return io_fail(j, rc, "sending a page batch");
	j->stats.batches++;
	j->stats.pages += pages;
	j->stats.zero_pages += zeros;
	j->stats.payload_bytes += bytes;
	atomic_fetch_add(&s->round_ram_bytes, bytes);
	return 0;
}

/* The frozen vCPUs as one VCPU_STATE frame: j->vcpu_state is the workload's `export` reply from
 * "vcpus=" on; the frame carries N and the BLOB, CRC-checked by the destination. Its length, or <0. */
static int send_vcpu_state(struct channel_job *j)
{
	char blob[FERRY_WORKLOAD_IPC_LINE_MAX];
	uint64_t vcpus = 0;
	if (ferry_workload_ipc_field_u64(j->vcpu_state, "vcpus", &vcpus) || vcpus == 0 || vcpus > UINT32_MAX ||
	    ferry_workload_ipc_field_str(j->vcpu_state, "state", blob, sizeof blob))
		return fail(j, -EPROTO, FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL,
			    "the workload's vCPU state has no vcpus= or state=");
	size_t len = strlen(blob);
	Ferry__V1__VcpuState v = FERRY__V1__VCPU_STATE__INIT;
	v.vcpus = (uint32_t)vcpus;
	v.state.data = (uint8_t *)blob;
	v.state.len = len;
	v.state_crc32c = ferry_crc32c(0, blob, len);
	if (j->s->corrupt_vcpu_state) {
		blob[len / 2] ^= 0x01; /* after the checksum: FERRY_TEST_CORRUPT_VCPU_STATE */
		ferry_log(FERRY_LOG_WARNING, "msg=\"test fault: corrupting the vCPU state\" migration_id=%s",
			  j->s->m->id);
	}
	int rc = ferry_stream_send(j->s->fds[j->index], FERRY__V1__FRAME_TYPE__FRAME_TYPE_VCPU_STATE, &v.base, NULL, 0,
				   FERRY_STREAM_IO_TIMEOUT_MS);
	return rc ? io_fail(j, rc, "sending the vCPU state") : (int)len;
}

/* A pre-copy round takes at most this much of one device's stream, so that a device dirtying its
 * state faster than we send cannot keep the round from ending. */
#define DEVICE_PRECOPY_ROUND_MAX (64ull << 20)

/* Channel 0, every round after the pages: what each device has to say now. Pre-copy rounds send
 * what the device offers (until "nothing now"); the final round (devices in STOP_COPY) sends each
 * stream to its end, closed by an empty chunk with end_of_stream. Adds the payload to *bytes. */
static int send_device_chunks(struct channel_job *j, uint64_t *bytes)
{
	struct ferry_migration_source *s = j->s;
	struct ferry_mig_device_binding *b = s->m->devices;
	size_t cap = (size_t)FERRY_STREAM_CHUNK_PAGES * PAGE;
	for (size_t i = 0; b && i < b->set.g.n; i++) {
		uint64_t sent = 0;
		while (j->final || sent < DEVICE_PRECOPY_ROUND_MAX) {
			struct ferry_mig_device_chunk c;
			char why[FERRY_MIG_ERROR_MAX];
			ssize_t n = ferry_mig_device_set_read(&b->set, i, j->buf, cap, &c, why, sizeof why);
			if (n == -ENOMSG)
				break;
			if (n < 0)
				return fail(j, (int)n, FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE, why);
			Ferry__V1__DeviceChunk d = FERRY__V1__DEVICE_CHUNK__INIT;
			d.device_id = b->peer[i];
			d.round = j->round;
			d.offset = c.offset;
			d.stop_copy = c.stop_copy;
			d.end_of_stream = c.end_of_stream;
			d.payload_crc32c = ferry_crc32c(0, j->buf, (size_t)n);
			pace(s, (uint64_t)n + 64);
			int rc = ferry_stream_send(s->fds[j->index], FERRY__V1__FRAME_TYPE__FRAME_TYPE_DEVICE_CHUNK, &d.base,
						   j->buf, (uint32_t)n, FERRY_STREAM_IO_TIMEOUT_MS);
			if (rc)
				return io_fail(j, rc, "sending a device chunk");
			sent += (uint64_t)n;
			*bytes += (uint64_t)n;
			atomic_fetch_add(&s->round_device_bytes, (uint64_t)n);
			if (c.end_of_stream)
				break;
		}
	}
	return 0;
}

/* Reads the channel's ROUND_ACK for this round; an ERROR from the destination fails the round. */
static int await_ack(struct channel_job *j)
{
	struct ferry_frame f;
	int rc = ferry_stream_recv(j->s->fds[j->index], &f, FERRY_STREAM_IO_TIMEOUT_MS);
	if (rc)
		return io_fail(j, rc, "waiting for ROUND_ACK");
	char what[FERRY_MIG_ERROR_MAX];
	if (f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR) {
		const Ferry__V1__Error *e = (const Ferry__V1__Error *)f.msg;
		snprintf(what, sizeof what, "destination refused: %.200s", e->message);
		int code = e->code ? (int)e->code : FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
		ferry_frame_release(&f);
		return fail(j, -EPROTO, code, what);
	}
	const Ferry__V1__RoundAck *a = (const Ferry__V1__RoundAck *)f.msg;
	bool ok = f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_ROUND_ACK && a->round == j->round &&
		  a->channel_index == j->index && a->batches == j->stats.batches && a->pages == j->stats.pages;
	ferry_frame_release(&f);
	if (!ok)
		return fail(j, -EPROTO, FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE,
			    "expected the ROUND_ACK of this round with matching counts");
	return 0;
}

static void *channel_main(void *arg)
{
	struct channel_job *j = arg;
	struct ferry_migration_source *s = j->s;
	uint64_t seq = 0, device_bytes = 0; /* DEVICE_CHUNK payload (channel 0); the vCPU state is not device bytes */
	j->t0 = now_ns();
	static const uint8_t zero_page[PAGE];
	j->zero_page_crc = ferry_crc32c(0, zero_page, PAGE);
	/* Pages go straight from guest RAM; only device state (channel 0) is read into a buffer. */
	j->buf = j->index == 0 ? malloc((size_t)FERRY_STREAM_CHUNK_PAGES * PAGE) : NULL;
	if (j->index == 0 && !j->buf) {
		fail(j, -ENOMEM, FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL, "no memory for a device-state buffer");
		return NULL;
	}
	uint64_t regions = (s->npages + FERRY_STREAM_CHUNK_PAGES - 1) / FERRY_STREAM_CHUNK_PAGES;
	for (uint64_t k = j->index; k < regions; k += s->n_channels) {
		if (ferry__source_aborted(s)) {
			fail(j, -ECANCELED, FERRY__V1__ERROR_CODE__ERROR_CODE_ABORTED, "aborted");
			goto out;
		}
		uint64_t first = k * FERRY_STREAM_CHUNK_PAGES;
		uint64_t end = first + FERRY_STREAM_CHUNK_PAGES < s->npages ? first + FERRY_STREAM_CHUNK_PAGES : s->npages;
		if (send_region(j, first, end, &seq))
			goto out;
	}
	uint64_t t_pages = now_ns(), t_devices = 0, t_vcpu = 0;
	if (j->index == 0 && send_device_chunks(j, &device_bytes) < 0)
		goto out;
	t_devices = now_ns();
	if (j->final && j->index == 0 && j->vcpu_state && send_vcpu_state(j) < 0)
		goto out;
	t_vcpu = now_ns();
	Ferry__V1__EndOfRound e = FERRY__V1__END_OF_ROUND__INIT;
	e.round = j->round;
	e.channel_index = j->index;
	e.batches = j->stats.batches;
	e.pages = j->stats.pages;
	e.zero_pages = j->stats.zero_pages;
	e.device_bytes = device_bytes;
	e.final = j->final;
	int rc = ferry_stream_send(s->fds[j->index], FERRY__V1__FRAME_TYPE__FRAME_TYPE_END_OF_ROUND, &e.base, NULL, 0,
				   FERRY_STREAM_IO_TIMEOUT_MS);
	if (rc) {
		io_fail(j, rc, "sending END_OF_ROUND");
		goto out;
	}
	if (await_ack(j) == 0 && j->final && j->index == 0) /* the downtime's share of each step */
		ferry_log(FERRY_LOG_INFO,
			  "msg=\"final round on channel 0\" migration_id=%s pages=%llu pages_ms=%.2f device_bytes=%llu "
			  "devices_ms=%.2f vcpu_ms=%.2f ack_ms=%.2f",
			  s->m->id, (unsigned long long)j->stats.pages, (t_pages - j->t0) / 1e6,
			  (unsigned long long)device_bytes, (t_devices - t_pages) / 1e6, (t_vcpu - t_devices) / 1e6,
			  (now_ns() - t_vcpu) / 1e6);
out:
	free(j->buf);
	j->buf = NULL;
	if (j->rc) /* wake the other channels of this round: the migration is failing */
		for (unsigned i = 0; i < s->n_channels; i++)
			shutdown(s->fds[i], SHUT_RDWR);
	return NULL;
}

/* Joins a channel thread of pre-copy round `round` (begun at t0), posting a mid-round report
 * every FERRY_MID_ROUND_REPORT_NS meanwhile: a long round under a cap is not silent. The final
 * round is the downtime and short: it is not reported until it ends. */
static void join_reporting(struct ferry_migration_source *s, pthread_t t, uint32_t round, uint64_t t0)
{
	for (;;) {
		uint64_t now = now_ns();
		uint64_t next = t0 + ((now - t0) / FERRY_MID_ROUND_REPORT_NS + 1) * FERRY_MID_ROUND_REPORT_NS;
		struct timespec rt;
		clock_gettime(CLOCK_REALTIME, &rt);
		uint64_t at = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec + (next - now);
		struct timespec deadline = {(time_t)(at / 1000000000ull), (long)(at % 1000000000ull)};
		if (pthread_timedjoin_np(t, NULL, &deadline) != ETIMEDOUT)
			return;
		ferry__source_report_mid_round(s, round, now_ns() - t0);
	}
}

int ferry_stream_send_round(struct ferry_migration_source *s, const struct ferry_dirty_bitmap *bm, uint32_t round,
			    bool final, const char *vcpu_state, struct ferry_round_stats *stats, int *code, char *err,
			    size_t errlen)
{
	struct channel_job *jobs = calloc(s->n_channels, sizeof *jobs);
	pthread_t threads[FERRY_MIG_MAX_CHANNELS];
	bool started[FERRY_MIG_MAX_CHANNELS] = {0};
	if (!jobs) {
		*code = FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
		ferry_errbuf_set(err, errlen, "no memory for round %u", round);
		return -ENOMEM;
	}
	int rc = 0;
	atomic_store(&s->round_ram_bytes, 0);
	atomic_store(&s->round_device_bytes, 0);
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < s->n_channels; i++) {
		jobs[i] = (struct channel_job){.s = s, .bm = bm, .index = i, .round = round, .final = final,
					       .vcpu_state = vcpu_state};
		if (pthread_create(&threads[i], NULL, channel_main, &jobs[i]) == 0)
			started[i] = true;
		else
			fail(&jobs[i], -EAGAIN, FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL, "cannot start a thread");
	}
	memset(stats, 0, sizeof *stats);
	for (unsigned i = 0; i < s->n_channels; i++) {
		if (started[i] && !final)
			join_reporting(s, threads[i], round, t0);
		else if (started[i])
			pthread_join(threads[i], NULL);
		stats->batches += jobs[i].stats.batches;
		stats->pages += jobs[i].stats.pages;
		stats->zero_pages += jobs[i].stats.zero_pages;
		stats->payload_bytes += jobs[i].stats.payload_bytes;
		/* The first failure names the cause; later ones are usually its echo (channels shut). */
		if (jobs[i].rc && !rc) {
			rc = jobs[i].rc;
			*code = jobs[i].code;
			ferry_errbuf_set(err, errlen, "%s", jobs[i].err);
		}
	}
	/* A channel whose peer sent an Error explains better than one that merely saw the close. */
	for (unsigned i = 0; i < s->n_channels; i++) {
		if (jobs[i].rc == -EPROTO) {
			*code = jobs[i].code;
			ferry_errbuf_set(err, errlen, "%s", jobs[i].err);
			break;
		}
	}
	free(jobs);
	return rc;
}
