/* ferry-simdevd's device host: sim models served over a unix socket; see sim_server.h. */
#include "sim_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "errbuf.h"
#include "log.h"
#include "sim_protocol.h"

#define TICK_MS 10 /* how often time passes for the models when nobody asks */
#define SOCKET_CHECK_NS 500000000u /* how often we look whether our socket file is still there */
/* A state replaced by a committed resume is freed only after this long without requests: the
 * resume is inside a migration's downtime, and unmapping 64 MiB there would lengthen it. */
#define RETIRED_FREE_IDLE_NS 250000000u

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ferry_sim_config_from_device(const struct ferry_device_info *d, const struct ferry_sim_rates *rates,
				 struct ferry_sim_config *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->vendor_id = d->vendor_id;
	out->device_id = d->device_id;
	snprintf(out->migration_version, sizeof out->migration_version, "%s", d->migration_version);
	out->mig_flags = d->migration_flags;
	out->dma_logging = d->dma_logging;
	out->saving_layout_regions = d->saving_layout_handshake ? FERRY_SIM_LAYOUT_REGIONS : 0;
	out->state_bytes = d->stop_copy_bytes ? d->stop_copy_bytes : FERRY_SIM_DEFAULT_STATE_BYTES;
	if (out->state_bytes > FERRY_SIM_MAX_STATE_BYTES) {
		ferry_errbuf_set(err, errlen, "device %s: stop_copy_bytes %llu exceeds the sim limit %llu", d->name,
				 (unsigned long long)out->state_bytes, (unsigned long long)FERRY_SIM_MAX_STATE_BYTES);
		return -EINVAL;
	}
	/* The device's own keys win over the command line's rates. */
	out->change_bytes_per_sec = d->sim.has_change_rate ? d->sim.change_rate : rates->change_bytes_per_sec;
	out->dma_bytes_per_sec = d->sim.has_dma_rate ? d->sim.dma_rate : rates->dma_bytes_per_sec;
	out->seed = d->sim.has_seed ? d->sim.seed : ferry_crc32c(0, d->name, strlen(d->name));
	out->dma_pattern = d->sim.dma_selfcheck ? FERRY_SIM_DMA_SELFCHECK : FERRY_SIM_DMA_RANDOM;
	out->dma_offset = d->sim.dma_offset;
	out->dma_length = d->sim.dma_length;
	return 0;
}

int ferry_sim_server_init(struct ferry_sim_server *s, const struct ferry_agent_config *cfg,
			  const struct ferry_sim_rates *rates, const char *socket_path, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	s->listen_fd = -1;
	for (int i = 0; i < FERRY_SIM_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	int rc;
	if (!(s->buf = malloc(FERRY_SIM_MAX_PAYLOAD))) {
		ferry_errbuf_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct ferry_device_info *d = &cfg->devices[i];
		if (d->backend != FERRY_BACKEND_SIM)
			continue;
		struct ferry_sim_server_device *sd = &s->devices[s->n_devices];
		struct ferry_sim_config mc;
		char why[160];
		if ((rc = ferry_sim_config_from_device(d, rates, &mc, err, errlen)) < 0)
			goto fail;
		if ((rc = ferry_sim_model_create(&mc, &sd->model, why, sizeof why)) < 0) {
			ferry_errbuf_set(err, errlen, "device %s: %s", d->name, why);
			goto fail;
		}
		snprintf(sd->name, sizeof sd->name, "%s", d->name);
		snprintf(sd->driver, sizeof sd->driver, "%s", d->driver);
		s->n_devices++;
	}
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof addr.sun_path) {
		ferry_errbuf_set(err, errlen, "socket path %s is too long", socket_path);
		rc = -ENAMETOOLONG;
		goto fail;
	}
	snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path);
	snprintf(s->socket_path, sizeof s->socket_path, "%s", socket_path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		rc = -errno;
		ferry_errbuf_set(err, errlen, "socket: %s", strerror(-rc));
		goto fail;
	}
	unlink(socket_path); /* a socket file left by a previous ferry-simdevd */
	if (bind(s->listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s->listen_fd, 16) < 0) {
		rc = -errno;
		ferry_errbuf_set(err, errlen, "listen on %s: %s", socket_path, strerror(-rc));
		goto fail;
	}
	struct stat st;
	if (stat(socket_path, &st) == 0) {
		s->socket_dev = st.st_dev;
		s->socket_ino = st.st_ino;
	}
	s->last_ns = now_ns();
	s->last_socket_check_ns = s->last_ns;
	return 0;
fail:
	ferry_sim_server_close(s);
	return rc;
}

/* True while the socket file at our path is still the one we bound. */
static bool socket_is_ours(const struct ferry_sim_server *s)
{
	struct stat st;
	return stat(s->socket_path, &st) == 0 && st.st_dev == s->socket_dev && st.st_ino == s->socket_ino;
}

void ferry_sim_server_close(struct ferry_sim_server *s)
{
	for (int i = 0; i < FERRY_SIM_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			close(s->clients[i].fd);
	for (size_t i = 0; i < s->n_devices; i++) {
		ferry_sim_model_destroy(s->devices[i].model);
		if (s->devices[i].mem)
			munmap(s->devices[i].mem, (size_t)s->devices[i].mem_len);
	}
	if (s->listen_fd >= 0) {
		if (socket_is_ours(s)) /* never remove a successor's socket */
			unlink(s->socket_path);
		close(s->listen_fd);
	}
	free(s->buf);
	memset(s, 0, sizeof *s);
	s->listen_fd = -1;
}

static void advance_all(struct ferry_sim_server *s)
{
	uint64_t now = now_ns();
	for (size_t i = 0; i < s->n_devices; i++)
		ferry_sim_model_advance(s->devices[i].model, now - s->last_ns);
	s->last_ns = now;
}

static int attach_memory(struct ferry_sim_server_device *d, int memfd, uint64_t size)
{
	void *mem = NULL;
	if (memfd >= 0) {
		if (size == 0 || size > SIZE_MAX)
			return -EINVAL;
		mem = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
		if (mem == MAP_FAILED)
			return -errno;
	}
	if (d->mem)
		munmap(d->mem, (size_t)d->mem_len);
	d->mem = mem;
	d->mem_len = mem ? size : 0;
	ferry_sim_model_attach_memory(d->model, mem, d->mem_len);
	return 0;
}

static void info_of(const struct ferry_sim_server_device *d, struct ferry_sim_wire_info *wi)
{
	const struct ferry_sim_config *c = ferry_sim_model_config(d->model);
	memset(wi, 0, sizeof *wi);
	wi->mig_flags = c->mig_flags;
	wi->dma_logging = c->dma_logging;
	wi->saving_layout_regions = c->saving_layout_regions;
	wi->vendor_id = c->vendor_id;
	wi->device_id = c->device_id;
	wi->state_bytes = c->state_bytes;
	snprintf(wi->driver, sizeof wi->driver, "%s", d->driver);
	snprintf(wi->migration_version, sizeof wi->migration_version, "%s", c->migration_version);
}

/* Runs one request on an opened device; fills *resp (and s->buf as its payload). */
static int64_t device_request(struct ferry_sim_server *s, struct ferry_sim_server_device *d,
			      const struct ferry_sim_msg *req, int fd, struct ferry_sim_msg *resp)
{
	struct ferry_sim_model *m = d->model;
	uint8_t *p = s->buf;
	switch (req->op) {
	case FERRY_SIM_OP_PROBE: {
		struct ferry_sim_wire_info wi;
		info_of(d, &wi);
		ferry_sim_info_encode(&wi, p);
		resp->payload_len = FERRY_SIM_WIRE_INFO_LEN;
		return 0;
	}
	case FERRY_SIM_OP_GET_STATE:
		resp->a = ferry_sim_model_state(m);
		resp->b = ferry_sim_model_session(m);
		return 0;
	case FERRY_SIM_OP_SET_STATE:
		return ferry_sim_model_set_state(m, (uint32_t)(req->a > UINT32_MAX ? UINT32_MAX : req->a), &resp->a);
	case FERRY_SIM_OP_COMPLETE_LAYOUT:
		return ferry_sim_model_complete_saving_layout(m, req->a);
	case FERRY_SIM_OP_READ: {
		size_t want = req->b < FERRY_SIM_MAX_IO ? (size_t)req->b : FERRY_SIM_MAX_IO;
		ssize_t n = ferry_sim_model_read(m, req->a, p, want);
		if (n > 0)
			resp->payload_len = (uint32_t)n;
		return n;
	}
	case FERRY_SIM_OP_WRITE:
		return ferry_sim_model_write(m, req->a, p, req->payload_len);
	case FERRY_SIM_OP_PRECOPY_INFO: {
		struct ferry_precopy_info pi;
		int rc = ferry_sim_model_precopy_info(m, req->a, &pi);
		resp->a = pi.initial_bytes;
		resp->b = pi.dirty_bytes;
		return rc;
	}
	case FERRY_SIM_OP_STOP_COPY_SIZE:
		resp->a = ferry_sim_model_stop_copy_size(m);
		return 0;
	case FERRY_SIM_OP_DMA_LOG_START: {
		uint32_t n = req->payload_len / 16;
		if (req->payload_len % 16)
			return -EINVAL;
		struct ferry_dma_range *r = calloc(n ? n : 1, sizeof *r);
		if (!r)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++) {
			memcpy(&r[i].iova, p + 16 * i, 8); /* little-endian host, as the header says */
			memcpy(&r[i].length, p + 16 * i + 8, 8);
		}
		uint64_t ps = req->a;
		int rc = ferry_sim_model_dma_log_start(m, r, n, &ps);
		free(r);
		resp->a = ps;
		return rc;
	}
	case FERRY_SIM_OP_DMA_LOG_REPORT: {
		uint64_t ps, words;
		if (req->payload_len != 16)
			return -EINVAL;
		memcpy(&ps, p, 8);
		memcpy(&words, p + 8, 8);
		if (words > FERRY_SIM_MAX_IO / 8)
			return -E2BIG;
		memset(p, 0, (size_t)words * 8);
		int rc = ferry_sim_model_dma_log_report(m, req->a, req->b, ps, (uint64_t *)(void *)p, (size_t)words);
		if (rc == 0)
			resp->payload_len = (uint32_t)(words * 8);
		return rc;
	}
	case FERRY_SIM_OP_DMA_LOG_STOP:
		return ferry_sim_model_dma_log_stop(m);
	case FERRY_SIM_OP_RESET:
		ferry_sim_model_reset(m);
		return 0;
	case FERRY_SIM_OP_ATTACH_MEMORY:
		return attach_memory(d, fd, req->a);
	case FERRY_SIM_OP_SET_FAULTS: {
		struct ferry_sim_faults f;
		if (req->payload_len != FERRY_SIM_WIRE_FAULTS_LEN || ferry_sim_faults_decode(p, &f) < 0)
			return -EINVAL;
		ferry_sim_model_set_faults(m, &f);
		return 0;
	}
	case FERRY_SIM_OP_STATE_CRC:
		resp->a = ferry_sim_model_state_crc(m);
		return 0;
	default:
		return -EINVAL;
	}
}

/* Handles one request on client c. Returns < 0 when the connection must close. */
static int serve_client(struct ferry_sim_server *s, struct ferry_sim_server_client *c)
{
	struct ferry_sim_msg req, resp = {0};
	int fd = -1;
	int rc = ferry_sim_recv(c->fd, true, &req, s->buf, FERRY_SIM_MAX_PAYLOAD, &fd);
	if (rc < 0) {
		if (rc != -ECONNRESET) {
			resp.result = rc;
			ferry_sim_send(c->fd, &resp, NULL, -1); /* best effort: say why, then close */
		}
		return rc;
	}
	advance_all(s);
	s->last_request_ns = s->last_ns;
	resp.op = req.op;
	const char *why = NULL;
	int64_t result;
	if (req.op == FERRY_SIM_OP_OPEN) {
		result = -ENODEV;
		why = "no such sim device";
		for (size_t i = 0; i < s->n_devices; i++)
			if (strlen(s->devices[i].name) == req.payload_len &&
			    memcmp(s->devices[i].name, s->buf, req.payload_len) == 0) {
				c->dev = (int)i;
				result = 0;
				why = NULL;
			}
	} else if (c->dev < 0) {
		result = -EBADF;
		why = "no device opened on this connection";
	} else {
		struct ferry_sim_server_device *d = &s->devices[c->dev];
		result = device_request(s, d, &req, fd, &resp);
		if (result < 0)
			why = ferry_sim_model_error(d->model)[0] ? ferry_sim_model_error(d->model) : strerror((int)-result);
	}
	if (fd >= 0)
		close(fd); /* ATTACH_MEMORY mapped it; the mapping keeps the memory */
	resp.result = (int32_t)result;
	if (why) {
		resp.payload_len = (uint32_t)strlen(why);
		memmove(s->buf, why, resp.payload_len);
	}
	return ferry_sim_send(c->fd, &resp, s->buf, -1);
}

int ferry_sim_server_run(struct ferry_sim_server *s, volatile sig_atomic_t *stop)
{
	while (!*stop) {
		struct pollfd pfd[1 + FERRY_SIM_MAX_CLIENTS];
		int slot[1 + FERRY_SIM_MAX_CLIENTS];
		nfds_t n = 0;
		pfd[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
		for (int i = 0; i < FERRY_SIM_MAX_CLIENTS; i++)
			if (s->clients[i].fd >= 0) {
				slot[n] = i;
				pfd[n++] = (struct pollfd){.fd = s->clients[i].fd, .events = POLLIN};
			}
		int r = poll(pfd, n, TICK_MS);
		if (r < 0 && errno != EINTR)
			return -errno;
		advance_all(s);
		if (s->last_ns - s->last_request_ns >= RETIRED_FREE_IDLE_NS)
			for (size_t i = 0; i < s->n_devices; i++)
				ferry_sim_model_free_retired(s->devices[i].model);
		if (s->last_ns - s->last_socket_check_ns >= SOCKET_CHECK_NS) {
			s->last_socket_check_ns = s->last_ns;
			if (!socket_is_ours(s))
				return FERRY_SIM_SERVER_ORPHANED;
		}
		if (r <= 0)
			continue;
		for (nfds_t k = 1; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			struct ferry_sim_server_client *c = &s->clients[slot[k]];
			if (serve_client(s, c) < 0) {
				close(c->fd); /* the agent went away: the device and its state stay */
				c->fd = -1;
				c->dev = -1;
			}
		}
		if (pfd[0].revents & POLLIN) {
			int cfd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd < 0)
				continue;
			int i = 0;
			while (i < FERRY_SIM_MAX_CLIENTS && s->clients[i].fd >= 0)
				i++;
			if (i == FERRY_SIM_MAX_CLIENTS) {
				ferry_log(FERRY_LOG_WARNING, "sim device connection refused: %d clients already", i);
				close(cfd);
				continue;
			}
			s->clients[i] = (struct ferry_sim_server_client){.fd = cfd, .dev = -1};
		}
	}
	return 0;
}
