/* The sim backend against the real ferry-simdevd (built next to FERRY_AGENT_BIN): a source sequence
 * driven from the agent side, an agent crash in the middle of PRE_COPY and a re-open that reads the
 * state back, a destination that verifies and commits the stream, DMA into a memfd the test maps,
 * injected ERROR and reset, and a clean SIGTERM. */
#include "test.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim_backend.h"
#include "sim_stream.h"

#define STATE_BYTES (64u * 1024)
#define MEM_BYTES (256u * 1024)

static const char config_text[] =
	"host_id = host-t\n"
	"[device sim-src]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\ndriver = ferry-sim\n"
	"migration = stop_copy,p2p,pre_copy\ndma_logging = true\nmigration_version = ferry-sim/1\n"
	"stop_copy_bytes = 64KiB\n"
	"[device sim-dst]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\ndriver = ferry-sim\n"
	"migration = stop_copy,p2p,pre_copy\ndma_logging = true\nmigration_version = ferry-sim/1\n"
	"stop_copy_bytes = 64KiB\n";

struct daemon {
	char dir[64];
	char socket_path[96];
	pid_t pid;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static bool start_daemon(struct daemon *dm)
{
	const char *agent = getenv("FERRY_AGENT_BIN");
	if (!agent) {
		fprintf(stderr, "  FERRY_AGENT_BIN is not set\n");
		return false;
	}
	char bin[512], tmp[512];
	snprintf(tmp, sizeof tmp, "%s", agent);
	snprintf(bin, sizeof bin, "%s/ferry-simdevd", dirname(tmp));
	snprintf(dm->dir, sizeof dm->dir, "/tmp/ferry-simdevd-XXXXXX");
	if (!mkdtemp(dm->dir))
		return false;
	char conf[128];
	snprintf(conf, sizeof conf, "%s/agent.conf", dm->dir);
	snprintf(dm->socket_path, sizeof dm->socket_path, "%s/sim.sock", dm->dir);
	FILE *f = fopen(conf, "w");
	if (!f)
		return false;
	fputs(config_text, f);
	fclose(f);
	dm->pid = fork();
	if (dm->pid == 0) {
		execl(bin, bin, "--config", conf, "--socket", dm->socket_path, "--change-rate", "65536", "--dma-rate",
		      "1048576", "--log-level", "warning", (char *)NULL);
		_exit(127);
	}
	/* Bounded wait for the socket to appear. */
	for (int i = 0; i < 500; i++) {
		struct stat st;
		if (stat(dm->socket_path, &st) == 0)
			return true;
		int status;
		if (waitpid(dm->pid, &status, WNOHANG) == dm->pid) {
			fprintf(stderr, "  ferry-simdevd (%s) exited with status %d\n", bin, status);
			return false;
		}
		sleep_ms(10);
	}
	return false;
}

static int stop_daemon(struct daemon *dm)
{
	kill(dm->pid, SIGTERM);
	int status = -1;
	for (int i = 0; i < 500 && waitpid(dm->pid, &status, WNOHANG) == 0; i++)
		sleep_ms(10);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static struct ferry_device *open_dev(const struct daemon *dm, const char *name)
{
	char addr[256], err[256] = "";
	snprintf(addr, sizeof addr, "socket=%s,device=%s", dm->socket_path, name);
	struct ferry_device_open_args args = {.address = addr, .error = err, .error_cap = sizeof err};
	struct ferry_device *dev = NULL;
	int rc = ferry_sim_ops.open(&args, &dev);
	if (rc < 0)
		fprintf(stderr, "  open %s: %s\n", name, err);
	return dev;
}

/* Reads until -ENOMSG or end of stream, appending to *out. */
static ssize_t drain(struct ferry_device *dev, uint8_t **out, size_t *n)
{
	uint8_t buf[10000];
	ssize_t r;
	while ((r = dev->ops->read_data(dev, buf, sizeof buf)) > 0) {
		*out = realloc(*out, *n + (size_t)r);
		memcpy(*out + *n, buf, (size_t)r);
		*n += (size_t)r;
	}
	return r;
}

FERRY_TEST(sim_backend_survives_agent_crash_and_migrates)
{
	struct daemon dm;
	if (!start_daemon(&dm)) {
		EXPECT(!"ferry-simdevd started");
		return;
	}
	char err[256] = "";
	char addr[256];
	snprintf(addr, sizeof addr, "socket=%s,device=nope", dm.socket_path);
	struct ferry_device_open_args bad = {.address = addr, .error = err, .error_cap = sizeof err};
	struct ferry_device *none = NULL;
	EXPECT_EQ_INT(ferry_sim_ops.open(&bad, &none), -ENODEV);
	EXPECT(strstr(err, "no such sim device") != NULL);

	/* The "agent" that crashes: opens the source, starts PRE_COPY, reads a little, dies. */
	pid_t child = fork();
	if (child == 0) {
		struct ferry_device *d = open_dev(&dm, "sim-src");
		struct ferry_mig_caps caps;
		int fd = -1;
		uint8_t buf[1000];
		if (!d || d->ops->probe(d, &caps) < 0 || d->ops->set_state(d, FERRY_MIG_PRE_COPY, &fd) < 0 || fd < 0 ||
		    d->ops->read_data(d, buf, sizeof buf) != (ssize_t)sizeof buf)
			_exit(1);
		_exit(0); /* no close: a crash */
	}
	int status;
	EXPECT_EQ_INT(waitpid(child, &status, 0), child);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* The restarted agent re-opens the device and finds it as it was left. */
	struct ferry_device *src = open_dev(&dm, "sim-src");
	struct ferry_mig_caps caps;
	EXPECT_EQ_INT(src->ops->probe(src, &caps), 0);
	EXPECT_EQ_INT(caps.mig_flags, FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY);
	EXPECT(caps.dma_logging);
	EXPECT_EQ_U64(caps.saving_layout_regions, 0);
	uint32_t state = 0;
	EXPECT_EQ_INT(src->ops->get_state(src, &state), 0);
	EXPECT_EQ_INT(state, FERRY_MIG_PRE_COPY);
	struct ferry_precopy_info pi;
	EXPECT_EQ_INT(src->ops->precopy_info(src, &pi), 0); /* the live session was re-adopted */
	EXPECT_EQ_U64(pi.initial_bytes, FERRY_SIM_HEADER_LEN + 16 * FERRY_SIM_RECORD_HEAD + STATE_BYTES - 1000);
	struct ferry_device_compat compat;
	EXPECT_EQ_INT(src->ops->compat(src, &compat), 0);
	EXPECT_EQ_STR(compat.driver, "ferry-sim");
	EXPECT_EQ_STR(compat.migration_version, "ferry-sim/1");

	/* The crashed agent's stream is lost: abort (session ends) and migrate afresh. */
	int fd = -1;
	EXPECT_EQ_INT(src->ops->set_state(src, FERRY_MIG_RUNNING, &fd), 0);
	EXPECT_EQ_INT(fd, -1);
	EXPECT_EQ_INT(src->ops->set_state(src, FERRY_MIG_PRE_COPY, &fd), 0);
	EXPECT(fd >= 0);
	uint8_t *stream = NULL;
	size_t n = 0;
	EXPECT_EQ_INT(drain(src, &stream, &n), -ENOMSG);
	sleep_ms(20); /* the device keeps running: more dirty data */
	drain(src, &stream, &n);
	EXPECT_EQ_INT(src->ops->set_state(src, FERRY_MIG_PRE_COPY_P2P, &fd), 0);
	EXPECT_EQ_INT(src->ops->set_state(src, FERRY_MIG_STOP_COPY, &fd), 0);
	EXPECT_EQ_INT(fd, -1); /* the same session continues */
	EXPECT_EQ_INT(drain(src, &stream, &n), 0);
	EXPECT_EQ_INT(src->ops->precopy_info(src, &pi), -EINVAL);
	EXPECT_EQ_INT(src->ops->set_state(src, FERRY_MIG_STOP, &fd), 0);

	/* Destination: RUNNING -> RESUMING opens a session; RESUMING -> RUNNING commits the verified
	 * stream (the END record's checksum is the source's final state). */
	struct ferry_device *dst = open_dev(&dm, "sim-dst");
	EXPECT_EQ_INT(dst->ops->probe(dst, &caps), 0);
	EXPECT_EQ_INT(dst->ops->set_state(dst, FERRY_MIG_RESUMING, &fd), 0);
	EXPECT(fd >= 0);
	EXPECT_EQ_INT(dst->ops->write_data(dst, stream, n), 0);
	EXPECT_EQ_INT(dst->ops->set_state(dst, FERRY_MIG_RUNNING, &fd), 0);
	EXPECT_EQ_INT(dst->ops->get_state(dst, &state), 0);
	EXPECT_EQ_INT(state, FERRY_MIG_RUNNING);

	/* A truncated stream is refused at the commit; the device stays RESUMING until reset. */
	EXPECT_EQ_INT(dst->ops->set_state(dst, FERRY_MIG_RESUMING, &fd), 0);
	EXPECT_EQ_INT(dst->ops->write_data(dst, stream, n - 1), 0);
	EXPECT_EQ_INT(dst->ops->set_state(dst, FERRY_MIG_RUNNING, &fd), -EINVAL);
	EXPECT(strstr(ferry_device_error(dst), "RESUMING") != NULL);
	EXPECT_EQ_INT(dst->ops->get_state(dst, &state), 0);
	EXPECT_EQ_INT(state, FERRY_MIG_RESUMING);
	EXPECT_EQ_INT(dst->ops->reset(dst), 0);
	EXPECT_EQ_INT(dst->ops->get_state(dst, &state), 0);
	EXPECT_EQ_INT(state, FERRY_MIG_RUNNING);
	free(stream);

	/* Injected ERROR, left only by reset. */
	struct ferry_sim_faults f = {.fail_arc = true, .fail_arc_from = FERRY_MIG_RUNNING,
				     .fail_arc_to = FERRY_MIG_PRE_COPY, .fail_arc_mode = FERRY_SIM_FAIL_TO_ERROR};
	EXPECT_EQ_INT(ferry_sim_set_faults(dst, &f), 0);
	EXPECT_EQ_INT(dst->ops->set_state(dst, FERRY_MIG_PRE_COPY, &fd), -EIO);
	EXPECT(strstr(ferry_device_error(dst), "device is in ERROR") != NULL);
	EXPECT_EQ_INT(dst->ops->set_state(dst, FERRY_MIG_RUNNING, &fd), -EINVAL);
	EXPECT_EQ_INT(dst->ops->reset(dst), 0);
	EXPECT_EQ_INT(dst->ops->get_state(dst, &state), 0);
	EXPECT_EQ_INT(state, FERRY_MIG_RUNNING);

	dst->ops->close(dst);
	src->ops->close(src);
	EXPECT_EQ_INT(stop_daemon(&dm), 0);
	struct stat st;
	EXPECT(stat(dm.socket_path, &st) < 0); /* socket removed on SIGTERM */
	rmdir(dm.dir);
}

FERRY_TEST(sim_backend_dma_lands_in_the_vms_memfd)
{
	struct daemon dm;
	if (!start_daemon(&dm)) {
		EXPECT(!"ferry-simdevd started");
		return;
	}
	int memfd = memfd_create("guest", MFD_CLOEXEC);
	EXPECT_EQ_INT(ftruncate(memfd, MEM_BYTES), 0);
	uint8_t *view = mmap(NULL, MEM_BYTES, PROT_READ, MAP_SHARED, memfd, 0);
	EXPECT(view != MAP_FAILED);

	struct ferry_device *d = open_dev(&dm, "sim-src");
	struct ferry_mig_caps caps;
	EXPECT_EQ_INT(d->ops->probe(d, &caps), 0);
	struct ferry_dma_range r = {0, MEM_BYTES};
	uint64_t ps = 4096;
	EXPECT_EQ_INT(d->ops->dma_log_start(d, &r, 1, &ps), 0);
	EXPECT_EQ_INT(ferry_sim_attach_memory(d, memfd, MEM_BYTES), 0);
	close(memfd); /* the device holds its own mapping */

	/* 1 MiB/s of cache-line writes: wait (bounded) until the log shows some. */
	uint64_t bm[1] = {0}, seen = 0;
	for (int i = 0; i < 500 && !seen; i++) {
		sleep_ms(10);
		EXPECT_EQ_INT(d->ops->dma_log_report(d, 0, MEM_BYTES, 4096, bm, 1), 0);
		seen |= bm[0];
		for (int p = 0; p < 64; p++) {
			if (!((bm[0] >> p) & 1))
				continue;
			bool nonzero = false; /* a logged page really holds the device's write */
			for (size_t k = 0; k < 4096 && !nonzero; k++)
				nonzero = view[(size_t)p * 4096 + k] != 0;
			EXPECT(nonzero);
		}
	}
	EXPECT(seen != 0);
	uint64_t wide[2];
	EXPECT_EQ_INT(d->ops->dma_log_report(d, 0, MEM_BYTES, 2048, wide, 2), -EINVAL);
	EXPECT_EQ_U64(wide[0], UINT64_MAX); /* a failed report marks every page dirty */
	EXPECT_EQ_INT(d->ops->dma_log_stop(d), 0);
	d->ops->close(d);
	munmap(view, MEM_BYTES);
	EXPECT_EQ_INT(stop_daemon(&dm), 0);
	rmdir(dm.dir);
}
