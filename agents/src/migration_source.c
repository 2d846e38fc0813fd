/* The source side of a migration; see migration_source.h. */
#include "migration_source.h"

#include "clock.h"
#include "cutover_rule.h"
#include "errbuf.h"
#include "ferry.pb-c.h"
#include "log.h"
#include "migration_dest_ram.h"
#include "migration_device_binding.h"
#include "migration_source_impl.h"
#include "stream_io.h"
#include "test_hooks.h"
#include "workload_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WORKLOAD_TIMEOUT_MS 5000
#define PAGE FERRY_VM_PAGE_SIZE

bool ferry__source_aborted(struct ferry_migration_source *s)
{
	pthread_mutex_lock(&s->m->lock);
	bool a = s->abort;
	pthread_mutex_unlock(&s->m->lock);
	return a;
}

/* `attach` on the workload's control socket, for guest RAM's address in the workload and a fresh
 * userfaultfd (*uffd, -1 if the workload gave none; ours to close). */
static int workload_attach(const char *control, uint64_t ram_bytes, uint64_t *base, int *uffd, char *err,
			   size_t errlen)
{
	*uffd = -1;
	int fd;
	int rc = ferry_workload_ipc_connect(control, &fd);
	if (rc) {
		ferry_errbuf_set(err, errlen, "cannot reach the workload at %s: %s", control, strerror(-rc));
		return rc;
	}
	struct ferry_workload_attach a;
	rc = ferry_workload_ipc_attach(fd, &a, WORKLOAD_TIMEOUT_MS, err, errlen);
	close(fd);
	if (rc)
		return rc;
	close(a.memfd); /* the registry's memfd is the one we map */
	if (a.ram_bytes != ram_bytes) {
		if (a.uffd >= 0)
			close(a.uffd);
		ferry_errbuf_set(err, errlen, "workload reports %llu bytes of RAM, registered %llu",
				 (unsigned long long)a.ram_bytes, (unsigned long long)ram_bytes);
		return -EPROTO;
	}
	*base = a.base;
	*uffd = a.uffd;
	return 0;
}

/* Channel sockets have one owner, the worker (or, before it starts, the event loop): only the
 * owner closes them, and it does so under m->lock so that another thread's shutdown() (abort), also
 * under m->lock, never lands on a descriptor number the kernel already reused. */
static void close_channels(struct ferry_migration_source *s)
{
	pthread_mutex_lock(&s->m->lock);
	for (unsigned i = 0; i < FERRY_MIG_MAX_CHANNELS; i++) {
		if (s->fds[i] >= 0)
			close(s->fds[i]);
		s->fds[i] = -1;
	}
	pthread_mutex_unlock(&s->m->lock);
}

/* Wakes whoever blocks on a channel; from any thread, the fds stay open. Caller holds m->lock. */
static void shutdown_channels_locked(struct ferry_migration_source *s)
{
	for (unsigned i = 0; i < FERRY_MIG_MAX_CHANNELS; i++)
		if (s->fds[i] >= 0)
			shutdown(s->fds[i], SHUT_RDWR);
}

static void source_release(struct ferry_migration_source *s)
{
	close_channels(s);
	ferry_dirty_tracker_close(s->tracker);
	s->tracker = NULL;
	if (s->ram)
		munmap((void *)s->ram, s->ram_bytes);
	s->ram = NULL;
}

int ferry_migration_source_prepare(struct ferry_migration *m, const struct ferry_vm_entry *vm,
				   const char *destination_address, char *err, size_t errlen)
{
	if (vm->reg.incoming && !vm->started) {
		ferry_errbuf_set(err, errlen, "VM %s is still arriving here (incoming, not started yet)", vm->reg.vm_id);
		return -EINVAL;
	}
	if (vm->uffd < 0) {
		ferry_errbuf_set(err, errlen, "VM %s has no userfaultfd for dirty tracking", vm->reg.vm_id);
		return -EINVAL;
	}
	int fresh_uffd = -1;
	struct ferry_migration_source *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->m = m;
	for (unsigned i = 0; i < FERRY_MIG_MAX_CHANNELS; i++)
		s->fds[i] = -1;
	snprintf(s->destination, sizeof s->destination, "%s", destination_address);
	snprintf(s->control_path, sizeof s->control_path, "%s", vm->reg.control);
	s->pid = vm->reg.pid;
	s->ram_bytes = vm->reg.ram_bytes;
	s->npages = s->ram_bytes / PAGE;
	pthread_mutex_init(&s->bucket_lock, NULL);
	s->corrupt_batch = ferry_test_corrupt_batch();
	uint64_t tear;
	s->tear_page = ferry_test_tear_page(&tear) ? tear + 1 : 0;
	s->corrupt_vcpu_state = ferry_test_corrupt_vcpu_state();

	int rc = workload_attach(s->control_path, s->ram_bytes, &s->base, &fresh_uffd, err, errlen);
	if (rc)
		goto fail;
	void *ram = mmap(NULL, s->ram_bytes, PROT_READ, MAP_SHARED, vm->memfd, 0);
	if (ram == MAP_FAILED) {
		rc = -errno;
		ferry_errbuf_set(err, errlen, "cannot map the guest RAM of %s: %s", vm->reg.vm_id, strerror(-rc));
		goto fail;
	}
	s->ram = ram;
	/* This migration's own userfaultfd: the registered one serves a single tracker, so it is only
	 * the fallback for a workload that hands over none on attach. The tracker keeps a dup. */
	rc = ferry_dirty_tracker_open(s->pid, fresh_uffd >= 0 ? fresh_uffd : vm->uffd, s->base, s->ram_bytes,
				      &s->tracker, err, errlen);
	if (rc)
		goto fail;
	if (fresh_uffd >= 0)
		close(fresh_uffd);
	if (m->devices) /* the hook list was empty: this cannot fail */
		(void)ferry_mig_device_set_register(&m->devices->set, &s->devices);
	m->src = s;
	return 0;
fail:
	if (fresh_uffd >= 0)
		close(fresh_uffd);
	source_release(s);
	pthread_mutex_destroy(&s->bucket_lock);
	free(s);
	return rc;
}

/* One command on the workload's control socket; 0 when the reply starts with `expect`. */
static int workload_command(struct ferry_migration_source *s, const char *cmd, const char *expect, char *reply,
			    size_t cap, char *err, size_t errlen)
{
	int fd;
	int rc = ferry_workload_ipc_connect(s->control_path, &fd);
	if (!rc) {
		rc = ferry_workload_ipc_command(fd, cmd, reply, cap, WORKLOAD_TIMEOUT_MS);
		close(fd);
	}
	if (rc) {
		ferry_errbuf_set(err, errlen, "workload `%s`: %s", cmd, strerror(-rc));
		return rc;
	}
	if (strncmp(reply, expect, strlen(expect)) != 0) {
		ferry_errbuf_set(err, errlen, "workload `%s` answered: %.180s", cmd, reply);
		return -EPROTO;
	}
	return 0;
}

int ferry__source_write_page(struct ferry_migration_source *s, uint64_t page, const char *how, char *err,
			     size_t errlen)
{
	char cmd[40], expect[16], reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	snprintf(cmd, sizeof cmd, "%s %llu", how, (unsigned long long)page);
	snprintf(expect, sizeof expect, "ok %s", how);
	return workload_command(s, cmd, expect, reply, sizeof reply, err, errlen);
}

static int connect_channels(struct ferry_migration_source *s, char *err, size_t errlen)
{
	struct ferry_migration *m = s->m;
	for (unsigned i = 0; i < s->n_channels; i++) {
		int fd = -1;
		int rc = ferry_net_connect(s->destination, FERRY_STREAM_IO_TIMEOUT_MS, &fd);
		pthread_mutex_lock(&m->lock);
		s->fds[i] = rc ? -1 : fd;
		bool aborted = s->abort;
		if (aborted && !rc)
			shutdown(fd, SHUT_RDWR); /* an abort that came while we connected */
		pthread_mutex_unlock(&m->lock);
		if (rc) {
			ferry_errbuf_set(err, errlen, "channel %u: cannot connect to %s: %s", i, s->destination,
					 strerror(-rc));
			return rc;
		}
		ferry_stream_tune_socket(s->fds[i]);
		Ferry__V1__StreamHello h = FERRY__V1__STREAM_HELLO__INIT;
		h.protocol_version = FERRY_STREAM_PROTOCOL_VERSION;
		h.migration_id = m->id;
		h.token.data = m->token;
		h.token.len = m->token_len;
		h.channel_index = i;
		h.channel_count = s->n_channels;
		h.page_size = PAGE;
		h.ram_bytes = s->ram_bytes;
		rc = ferry_stream_send(s->fds[i], FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_HELLO, &h.base, NULL, 0,
				       FERRY_STREAM_IO_TIMEOUT_MS);
		struct ferry_frame f = {0};
		if (!rc)
			rc = ferry_stream_recv(s->fds[i], &f, (int)ferry_dest_ram_deadline_ms(s->ram_bytes));
		if (rc) {
			ferry_errbuf_set(err, errlen, "channel %u: handshake with %s: %s", i, s->destination,
					 ferry_wire_strerror(rc));
			return rc;
		}
		if (f.type != FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_WELCOME) {
			const Ferry__V1__Error *e = (const Ferry__V1__Error *)f.msg;
			ferry_errbuf_set(err, errlen, "channel %u: destination refused: %.200s", i,
					 f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR ? e->message : "unexpected frame");
			ferry_frame_release(&f);
			return -ECONNREFUSED;
		}
		ferry_frame_release(&f);
	}
	return 0;
}

static void report(struct ferry_migration_source *s, uint32_t round, const struct ferry_round_stats *st,
		   uint64_t dirty_pages, uint64_t round_ns, uint64_t expected_us, uint64_t actual_us)
{
	struct ferry_mig_report r;
	ferry_migration_report_base(s->m, &r);
	r.round = round;
	r.ram_bytes_sent = s->ram_bytes_sent;
	r.pages_dirtied = dirty_pages;
	r.dirty_bytes_remaining = dirty_pages * PAGE;
	if (round_ns) {
		r.dirty_rate_bytes_per_sec = (uint64_t)((double)dirty_pages * PAGE * 1e9 / (double)round_ns);
		r.bandwidth_bytes_per_sec = (uint64_t)((double)st->payload_bytes * 1e9 / (double)round_ns);
	}
	r.expected_downtime_us = expected_us;
	r.actual_downtime_us = actual_us;
	ferry_mig_device_binding_report(s->m->devices, &r);
	ferry_mig_reporter_post(s->m->reporter, &r);
	s->last_report = r;
	s->have_last_report = true;
	ferry_log(FERRY_LOG_INFO,
		  "msg=\"round ended\" migration_id=%s round=%u pages=%llu zero_pages=%llu payload_bytes=%llu "
		  "round_ms=%.1f dirty_pages=%llu bandwidth_mib_s=%.1f expected_downtime_us=%llu",
		  s->m->id, round, (unsigned long long)st->pages, (unsigned long long)st->zero_pages,
		  (unsigned long long)st->payload_bytes, round_ns / 1e6, (unsigned long long)dirty_pages,
		  r.bandwidth_bytes_per_sec / 1048576.0, (unsigned long long)expected_us);
}

/* A round in flight so far: round, bytes sent (cumulative, as the end-of-round report counts
 * them: RAM in ram_bytes_sent, devices in device_bytes_sent) and the round's bandwidth so far.
 * Pages dirtied, dirty bytes remaining, dirty rate, expected downtime and the per-device figures
 * repeat the last end-of-round report (0 and none in round 0): nothing new is known of them until
 * the round ends and the dirty log is harvested. The device state is not read here: channel 0
 * may be reading the device's stream meanwhile. */
void ferry__source_report_mid_round(struct ferry_migration_source *s, uint32_t round, uint64_t elapsed_ns)
{
	struct ferry_mig_report r;
	ferry_migration_report_base(s->m, &r);
	if (s->have_last_report) {
		const struct ferry_mig_report *l = &s->last_report;
		r.pages_dirtied = l->pages_dirtied;
		r.dirty_bytes_remaining = l->dirty_bytes_remaining;
		r.dirty_rate_bytes_per_sec = l->dirty_rate_bytes_per_sec;
		r.expected_downtime_us = l->expected_downtime_us;
		r.n_devices = l->n_devices;
		memcpy(r.devices, l->devices, sizeof r.devices);
	}
	r.round = round;
	r.mid_round = true;
	uint64_t ram = atomic_load(&s->round_ram_bytes), dev = atomic_load(&s->round_device_bytes);
	r.ram_bytes_sent = s->ram_bytes_sent + ram;
	r.device_bytes_in_round = dev;
	r.bandwidth_bytes_per_sec = elapsed_ns ? (uint64_t)((double)(ram + dev) * 1e9 / (double)elapsed_ns) : 0;
	ferry_mig_reporter_post(s->m->reporter, &r);
}

/* The cut-over rule (cutover_rule.h), applied the moment a round ends, with the policy and any
 * ForceCutover as they are now. */
static enum ferry_cutover_decision decide_cutover(struct ferry_migration_source *s, struct ferry_cutover_input *in)
{
	pthread_mutex_lock(&s->m->lock);
	in->budget_us = (uint64_t)s->policy.max_downtime_ms * 1000;
	in->max_rounds = s->policy.max_rounds;
	in->force = s->force_cutover;
	pthread_mutex_unlock(&s->m->lock);
	return ferry_cutover_decide(in);
}

/* Waits for the destination's RESUME_CONFIRM; its vCPU start time, or a negative error. */
static int await_confirm(struct ferry_migration_source *s, int64_t *vcpu_start_ns, int *code, char *err, size_t errlen)
{
	struct ferry_frame f;
	int rc = ferry_stream_recv(s->fds[0], &f, FERRY_STREAM_CONFIRM_TIMEOUT_MS);
	if (rc) {
		*code = rc == -ETIMEDOUT ? FERRY__V1__ERROR_CODE__ERROR_CODE_TIMEOUT : FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
		ferry_errbuf_set(err, errlen, "waiting for RESUME_CONFIRM: %s", ferry_wire_strerror(rc));
		return rc;
	}
	const Ferry__V1__ResumeConfirm *c = (const Ferry__V1__ResumeConfirm *)f.msg;
	if (f.type != FERRY__V1__FRAME_TYPE__FRAME_TYPE_RESUME_CONFIRM || !c->memory_verified) {
		*code = f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR ? (int)((const Ferry__V1__Error *)f.msg)->code
									  : FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE;
		ferry_errbuf_set(err, errlen, "destination did not confirm a verified resume: %.160s",
				 f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR ? ((const Ferry__V1__Error *)f.msg)->message
										  : "unexpected frame");
		ferry_frame_release(&f);
		return -EPROTO;
	}
	*vcpu_start_ns = c->vcpu_start_unix_ns;
	ferry_frame_release(&f);
	return 0;
}

static void *worker_main(void *arg)
{
	struct ferry_migration_source *s = arg;
	struct ferry_migration *m = s->m;
	char err[FERRY_MIG_ERROR_MAX] = "", reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	int code = FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL;
	bool frozen = false;
	struct ferry_dirty_bitmap bm = {0};
	struct ferry_round_stats st = {0};
	uint32_t round = 0;
	int64_t freeze_ns = 0, start_ns = 0;
	uint64_t dirty = 0;
	bool extra_round_taken = false; /* the cut-over rule's one extra round (cutover_rule.h) */

	int rc = ferry_dirty_bitmap_init(&bm, s->npages);
	if (!rc)
		rc = connect_channels(s, err, sizeof err);
	if (!rc)
		rc = ferry_dirty_tracker_start(s->tracker, err, sizeof err);
	if (rc)
		goto fail;
	/* Device DMA is logged from before round 0 reads RAM, as CPU writes are tracked. */
	rc = ferry_mig_dma_log_start(&s->dma, m->devices, s->ram_bytes, err, sizeof err);
	if (!rc)
		rc = ferry_mig_devices_precopy_start(&s->devices, err, sizeof err);
	if (rc) {
		code = FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE;
		goto fail;
	}
	ferry_dirty_bitmap_set_range(&bm, 0, s->npages); /* round 0: all of RAM */
	for (;; round++) {
		uint64_t ns0;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ns0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		rc = ferry_stream_send_round(s, &bm, round, false, NULL, &st, &code, err, sizeof err);
		if (rc)
			goto fail;
		s->ram_bytes_sent += st.payload_bytes;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t round_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - ns0;
		ferry_dirty_bitmap_clear_all(&bm);
		int64_t got = ferry_dirty_tracker_harvest(s->tracker, &bm, err, sizeof err);
		if (got < 0) {
			rc = (int)got;
			code = FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY;
			goto fail;
		}
		if ((rc = ferry_mig_dma_log_collect(&s->dma, &bm, NULL, err, sizeof err)) < 0) {
			code = FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE;
			goto fail;
		}
		dirty = ferry_dirty_bitmap_count(&bm);
		double bw = round_ns ? (double)(st.payload_bytes + st.batches * 64) * 1e9 / (double)round_ns : 0;
		uint64_t device_bytes = ferry_mig_devices_stop_copy_bytes(&s->devices);
		struct ferry_cutover_input in = {
			.round = round,
			.round_us = round_ns / 1000,
			.ram_us = bw > 0 ? (uint64_t)((double)(dirty * PAGE) * 1e6 / bw) : UINT64_MAX / 4,
			.device_us = bw > 0 ? (uint64_t)((double)device_bytes * 1e6 / bw) : UINT64_MAX / 4,
			.extra_round_taken = extra_round_taken,
		};
		enum ferry_cutover_decision decision = decide_cutover(s, &in);
		bool cut = ferry_cutover_decision_cuts(decision);
		uint64_t expected_us = ferry_cutover_expected_us(&in);
		if (decision == FERRY_CUTOVER_ONE_MORE) {
			extra_round_taken = true;
			ferry_log(FERRY_LOG_INFO,
				  "msg=\"estimate fits the budget, one more round\" migration_id=%s round=%u "
				  "expected_downtime_us=%llu predicted_next_us=%llu",
				  m->id, round, (unsigned long long)expected_us,
				  (unsigned long long)ferry_cutover_predicted_next_us(&in));
		}
		ferry_migration_fire(m, cut ? FERRY_MIG_EV_ROUND_CONVERGED : FERRY_MIG_EV_ROUND_CONTINUE, 0, NULL);
		report(s, round, &st, dirty, round_ns, expected_us, 0);
		if (ferry__source_aborted(s)) {
			rc = -ECANCELED;
			code = FERRY__V1__ERROR_CODE__ERROR_CODE_ABORTED;
			snprintf(err, sizeof err, "aborted");
			goto fail;
		}
		if (cut)
			break;
	}

	/* Cutover: from here until the confirm, the VM runs nowhere. */
	rc = workload_command(s, "freeze", "ok frozen", reply, sizeof reply, err, sizeof err);
	if (rc)
		goto fail;
	frozen = true;
	freeze_ns = ferry_realtime_ns();
	int64_t t_devices = 0, t_harvest = 0, t_export = 0, t_acked = 0, t_stopped = 0; /* cutover steps, for the log */
	rc = ferry_mig_devices_cutover(&s->devices, err, sizeof err);
	t_devices = ferry_realtime_ns();
	if (rc) {
		code = FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE;
		goto fail;
	}
	int64_t got = ferry_dirty_tracker_harvest(s->tracker, &bm, err, sizeof err);
	if (got < 0) {
		rc = (int)got;
		code = FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY;
		goto fail;
	}
	/* The devices are quiesced: what they wrote since the last round is all they wrote. */
	if ((rc = ferry_mig_dma_log_collect(&s->dma, &bm, NULL, err, sizeof err)) < 0) {
		code = FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE;
		goto fail;
	}
	t_harvest = ferry_realtime_ns();
	rc = workload_command(s, "export", "ok export", reply, sizeof reply, err, sizeof err);
	t_export = ferry_realtime_ns();
	if (rc)
		goto fail;
	const char *state = strstr(reply, "vcpus=");
	if (!state) {
		rc = -EPROTO;
		snprintf(err, sizeof err, "workload export reply has no vcpus=: %.160s", reply);
		goto fail;
	}
	round++;
	rc = ferry_stream_send_round(s, &bm, round, true, state, &st, &code, err, sizeof err);
	if (rc)
		goto fail;
	s->ram_bytes_sent += st.payload_bytes;
	/* The final round ends at its ROUND_ACKs: from here the destination resumes and starts. */
	t_acked = ferry_realtime_ns();
	/* Every device stream ended in the final round: the saving sessions end (STOP_COPY -> STOP). */
	if (m->devices && (rc = ferry_mig_device_set_stop(&m->devices->set, err, sizeof err)) < 0) {
		code = FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE;
		goto fail;
	}
	t_stopped = ferry_realtime_ns();
	ferry_migration_fire(m, FERRY_MIG_EV_FINAL_SENT, 0, NULL);
	rc = await_confirm(s, &start_ns, &code, err, sizeof err);
	if (rc)
		goto fail;
	ferry_migration_fire(m, FERRY_MIG_EV_CONFIRMED, 0, NULL);
	/* The destination runs the VM: release ours. */
	if (workload_command(s, "quit", "ok bye", reply, sizeof reply, err, sizeof err))
		ferry_log(FERRY_LOG_WARNING, "msg=\"cannot release the source workload\" migration_id=%s reason=\"%s\"",
			  m->id, err);
	uint64_t downtime_us = start_ns > freeze_ns ? (uint64_t)(start_ns - freeze_ns) / 1000 : 0;
	/* Where the downtime went: devices to STOP_COPY, last harvest, vCPU export, final round
	 * (pages + stop-copy device state, until acknowledged), then the destination until its vCPUs
	 * started (device resume, memory check, start). The source's devices leaving STOP_COPY
	 * (device_stop_ms) runs meanwhile, beside the destination's part, and is logged apart. */
	ferry_log(FERRY_LOG_INFO,
		  "msg=\"cutover timing\" migration_id=%s final_pages=%llu devices_ms=%.1f harvest_ms=%.1f export_ms=%.1f "
		  "final_round_ms=%.1f destination_start_ms=%.1f device_stop_ms=%.1f",
		  m->id, (unsigned long long)st.pages, (t_devices - freeze_ns) / 1e6, (t_harvest - t_devices) / 1e6,
		  (t_export - t_harvest) / 1e6, (t_acked - t_export) / 1e6, (start_ns - t_acked) / 1e6,
		  (t_stopped - t_acked) / 1e6);
	ferry_log(FERRY_LOG_INFO, "msg=\"migration completed\" migration_id=%s vm_id=%s rounds=%u downtime_us=%llu "
		  "ram_bytes_sent=%llu", m->id, m->vm_id, round + 1, (unsigned long long)downtime_us,
		  (unsigned long long)s->ram_bytes_sent);
	report(s, round, &st, 0, 0, 0, downtime_us);
	goto out;
fail:
	if (ferry__source_aborted(s)) {
		/* What the channels saw (a socket we shut down ourselves) is only the echo of the abort. */
		char seen[FERRY_MIG_ERROR_MAX / 2];
		ferry_errbuf_set(seen, sizeof seen, "%s", err);
		pthread_mutex_lock(&m->lock);
		ferry_errbuf_set(err, sizeof err, "aborted by the coordinator: %s (in round %u: %s)",
				 s->abort_reason[0] ? s->abort_reason : "no reason given", round, seen);
		pthread_mutex_unlock(&m->lock);
		code = FERRY__V1__ERROR_CODE__ERROR_CODE_ABORTED;
	}
	pthread_mutex_lock(&m->lock);
	shutdown_channels_locked(s);
	pthread_mutex_unlock(&m->lock);
	ferry_mig_dma_log_stop(&s->dma);
	ferry_mig_devices_rollback(&s->devices);
	if (frozen) {
		char terr[200];
		if (workload_command(s, "thaw", "ok running", reply, sizeof reply, terr, sizeof terr))
			ferry_log(FERRY_LOG_ERROR, "msg=\"cannot thaw the source workload\" migration_id=%s reason=\"%s\"",
				  m->id, terr);
	}
	ferry_migration_fire(m, code == FERRY__V1__ERROR_CODE__ERROR_CODE_ABORTED ? FERRY_MIG_EV_ABORT
										   : FERRY_MIG_EV_FAILURE,
			     code, err);
	ferry_log(FERRY_LOG_WARNING, "msg=\"migration rolled back\" migration_id=%s vm_id=%s reason=\"%s\"", m->id,
		  m->vm_id, err);
	report(s, round, &st, dirty, 0, 0, 0);
out:
	ferry_mig_dma_log_stop(&s->dma);
	ferry_dirty_bitmap_free(&bm);
	source_release(s);
	atomic_store(&s->worker_done, true);
	return NULL;
}

static void apply_policy(struct ferry_mig_policy *to, const struct ferry_mig_policy *p)
{
	if (p->max_downtime_ms)
		to->max_downtime_ms = p->max_downtime_ms;
	if (p->bandwidth_bytes_per_sec)
		to->bandwidth_bytes_per_sec = p->bandwidth_bytes_per_sec;
	if (p->max_rounds)
		to->max_rounds = p->max_rounds;
	if (p->throttle_percent)
		to->throttle_percent = p->throttle_percent;
}

int ferry_migration_source_start(struct ferry_migration *m, const struct ferry_mig_policy *policy, char *err,
				 size_t errlen)
{
	struct ferry_migration_source *s = m->src;
	s->policy = (struct ferry_mig_policy){.max_downtime_ms = FERRY_MIG_DEFAULT_MAX_DOWNTIME_MS,
					      .max_rounds = FERRY_MIG_DEFAULT_MAX_ROUNDS};
	apply_policy(&s->policy, policy);
	s->n_channels = m->channels ? m->channels : FERRY_STREAM_DEFAULT_CHANNELS;
	if (policy->channels)
		s->n_channels = policy->channels;
	if (s->n_channels > FERRY_MIG_MAX_CHANNELS)
		s->n_channels = FERRY_MIG_MAX_CHANNELS;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t rate = s->policy.bandwidth_bytes_per_sec;
	/* A tenth of a second of burst, at least one batch, so pacing is smooth at any cap. */
	uint64_t burst = rate / 10 > (uint64_t)FERRY_STREAM_CHUNK_PAGES * PAGE ? rate / 10
									   : (uint64_t)FERRY_STREAM_CHUNK_PAGES * PAGE;
	ferry_token_bucket_init(&s->bucket, rate, burst, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	if (pthread_create(&s->worker, NULL, worker_main, s) != 0) {
		ferry_errbuf_set(err, errlen, "cannot start the migration thread");
		return -EAGAIN;
	}
	s->worker_started = true;
	return 0;
}

void ferry_migration_source_adjust(struct ferry_migration *m, const struct ferry_mig_policy *policy)
{
	struct ferry_migration_source *s = m->src;
	pthread_mutex_lock(&m->lock);
	apply_policy(&s->policy, policy);
	uint64_t rate = s->policy.bandwidth_bytes_per_sec;
	pthread_mutex_unlock(&m->lock);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&s->bucket_lock);
	ferry_token_bucket_set_rate(&s->bucket, rate, (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	pthread_mutex_unlock(&s->bucket_lock);
}

void ferry_migration_source_force_cutover(struct ferry_migration *m)
{
	pthread_mutex_lock(&m->lock);
	m->src->force_cutover = true;
	pthread_mutex_unlock(&m->lock);
}

void ferry_migration_source_abort(struct ferry_migration *m, const char *reason)
{
	struct ferry_migration_source *s = m->src;
	pthread_mutex_lock(&m->lock);
	if (!s->abort)
		snprintf(s->abort_reason, sizeof s->abort_reason, "%s", reason ? reason : "");
	s->abort = true;
	/* Wake a worker blocked on a channel; it rolls back and reports. Under the lock the worker
	 * cannot be closing these fds (close_channels), and closed ones read -1. */
	if (s->worker_started)
		shutdown_channels_locked(s);
	pthread_mutex_unlock(&m->lock);
	if (!s->worker_started) {
		ferry_migration_fire(m, FERRY_MIG_EV_ABORT, FERRY__V1__ERROR_CODE__ERROR_CODE_ABORTED, reason);
		source_release(s);
	}
}

void ferry_migration_source_free(struct ferry_migration *m)
{
	struct ferry_migration_source *s = m->src;
	if (!s)
		return;
	if (s->worker_started)
		pthread_join(s->worker, NULL);
	source_release(s);
	pthread_mutex_destroy(&s->bucket_lock);
	free(s);
	m->src = NULL;
}
