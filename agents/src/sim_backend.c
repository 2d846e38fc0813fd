/* The `sim` backend: device_ops over the ferry-simdevd socket; see sim_backend.h. */
#include "sim_backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "errbuf.h"
#include "sim_protocol.h"

struct ferry_sim_device {
	struct ferry_device base; /* first: the ops see a struct ferry_device * */
	struct ferry_sim_address addr;
	int sock;
	uint64_t session; /* live data session, 0 = none */
	int poll_fd;      /* the session's poll handle, -1 = none */
	uint8_t *buf;     /* request/response payload */
	/* One request/response (and the use of buf and the session after it) at a time: the event
	 * loop (inventory refresh, guest-memory attach) and a migration's threads share the handle. */
	pthread_mutex_t lock;
};

static struct ferry_sim_device *sim(struct ferry_device *dev)
{
	return (struct ferry_sim_device *)dev;
}

__attribute__((format(printf, 3, 4))) static int fail(struct ferry_sim_device *d, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->base.error, sizeof d->base.error, fmt, ap);
	va_end(ap);
	return rc;
}

int ferry_sim_parse_address(const char *s, struct ferry_sim_address *out)
{
	memset(out, 0, sizeof *out);
	while (*s) {
		char *dst;
		size_t cap;
		if (strncmp(s, "socket=", 7) == 0) {
			s += 7, dst = out->socket_path, cap = sizeof out->socket_path;
		} else if (strncmp(s, "device=", 7) == 0) {
			s += 7, dst = out->device, cap = sizeof out->device;
		} else {
			return -EINVAL;
		}
		size_t len = strcspn(s, ",");
		if (len == 0 || len >= cap || dst[0])
			return -EINVAL;
		memcpy(dst, s, len);
		s += len;
		if (*s == ',')
			s++;
	}
	return out->socket_path[0] && out->device[0] ? 0 : -EINVAL;
}

static void drop_session(struct ferry_sim_device *d)
{
	if (d->poll_fd >= 0)
		close(d->poll_fd);
	d->poll_fd = -1;
	d->session = 0;
}

static int adopt_session(struct ferry_sim_device *d, uint64_t session)
{
	if (session == d->session)
		return 0;
	drop_session(d);
	if (session == 0)
		return 0;
	int fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK); /* count 1: permanently readable */
	if (fd < 0)
		return fail(d, -errno, "eventfd for data session %llu", (unsigned long long)session);
	d->session = session;
	d->poll_fd = fd;
	return 0;
}

/* One request/response. Returns the response's result; a failure's text goes to base.error. */
static int64_t call(struct ferry_sim_device *d, uint16_t op, uint64_t a, uint64_t b, const void *payload,
		    uint32_t len, int pass_fd, struct ferry_sim_msg *resp)
{
	struct ferry_sim_msg req = {.op = op, .payload_len = len, .a = a, .b = b};
	int rc = ferry_sim_send(d->sock, &req, payload, pass_fd);
	if (rc == 0)
		rc = ferry_sim_recv(d->sock, false, resp, d->buf, FERRY_SIM_MAX_PAYLOAD, NULL);
	if (rc < 0)
		return fail(d, rc, "ferry-simdevd at %s: %s", d->addr.socket_path, strerror(-rc));
	if (resp->result < 0) {
		int n = (int)(resp->payload_len < sizeof d->base.error - 1 ? resp->payload_len : sizeof d->base.error - 1);
		snprintf(d->base.error, sizeof d->base.error, "%.*s", n, (const char *)d->buf);
	} else {
		d->base.error[0] = '\0';
	}
	return resp->result;
}

static int sim_open(const struct ferry_device_open_args *args, struct ferry_device **out)
{
	*out = NULL;
	struct ferry_sim_device *d = calloc(1, sizeof *d);
	if (!d || !(d->buf = malloc(FERRY_SIM_MAX_PAYLOAD))) {
		free(d);
		ferry_errbuf_set(args->error, args->error_cap, "out of memory");
		return -ENOMEM;
	}
	d->base.ops = &ferry_sim_ops;
	pthread_mutex_init(&d->lock, NULL);
	d->poll_fd = -1;
	d->sock = -1;
	int rc;
	if (ferry_sim_parse_address(args->address, &d->addr) < 0) {
		ferry_errbuf_set(args->error, args->error_cap, "bad sim address '%s' (want socket=PATH,device=NAME)",
				 args->address);
		rc = -EINVAL;
		goto fail;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", d->addr.socket_path);
	d->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->sock < 0 || connect(d->sock, (struct sockaddr *)&sa, sizeof sa) < 0) {
		rc = -errno;
		ferry_errbuf_set(args->error, args->error_cap, "connect to ferry-simdevd at %s: %s", d->addr.socket_path,
				 strerror(-rc));
		goto fail;
	}
	struct ferry_sim_msg resp;
	rc = (int)call(d, FERRY_SIM_OP_OPEN, 0, 0, d->addr.device, (uint32_t)strlen(d->addr.device), -1, &resp);
	if (rc < 0) {
		ferry_errbuf_set(args->error, args->error_cap, "open sim device %s: %s", d->addr.device, d->base.error);
		goto fail;
	}
	*out = &d->base;
	return 0;
fail:
	if (d->sock >= 0)
		close(d->sock);
	pthread_mutex_destroy(&d->lock);
	free(d->buf);
	free(d);
	return rc;
}

static void sim_close(struct ferry_device *dev)
{
	struct ferry_sim_device *d = sim(dev);
	drop_session(d); /* the device keeps its session; only our handle goes */
	close(d->sock);
	pthread_mutex_destroy(&d->lock);
	free(d->buf);
	free(d);
}

static int sim_get_state(struct ferry_device *dev, uint32_t *state)
{
	struct ferry_sim_device *d = sim(dev);
	struct ferry_sim_msg r;
	int rc = (int)call(d, FERRY_SIM_OP_GET_STATE, 0, 0, NULL, 0, -1, &r);
	if (rc < 0)
		return rc;
	if (r.a >= FERRY_MIG_NR_STATES)
		return fail(d, -EPROTO, "sim device reports unknown state %llu", (unsigned long long)r.a);
	*state = (uint32_t)r.a;
	return adopt_session(d, r.b);
}

static int sim_probe(struct ferry_device *dev, struct ferry_mig_caps *caps)
{
	struct ferry_sim_device *d = sim(dev);
	struct ferry_sim_msg r;
	struct ferry_sim_wire_info wi;
	int rc = (int)call(d, FERRY_SIM_OP_PROBE, 0, 0, NULL, 0, -1, &r);
	if (rc < 0)
		return rc;
	if (r.payload_len != FERRY_SIM_WIRE_INFO_LEN || ferry_sim_info_decode(d->buf, &wi) < 0)
		return fail(d, -EPROTO, "malformed PROBE answer");
	caps->mig_flags = wi.mig_flags & FERRY_MIG_FLAGS_KNOWN;
	caps->dma_logging = wi.dma_logging != 0;
	caps->saving_layout_regions = wi.saving_layout_regions;
	uint32_t state; /* a restarted agent finds the device where it was left */
	return sim_get_state(dev, &state);
}

static int sim_set_state(struct ferry_device *dev, uint32_t target, int *data_fd)
{
	struct ferry_sim_device *d = sim(dev);
	struct ferry_sim_msg r;
	*data_fd = -1;
	int rc = (int)call(d, FERRY_SIM_OP_SET_STATE, target, 0, NULL, 0, -1, &r);
	if (rc < 0) {
		/* Like the kernel's reply, a failure says nothing about where the device is: read it. */
		char why[sizeof d->base.error];
		snprintf(why, sizeof why, "%s", d->base.error);
		uint32_t real;
		if (sim_get_state(dev, &real) == 0)
			fail(d, rc, "%s; device is in %s", why, ferry_mig_state_name(real));
		return rc;
	}
	uint32_t state; /* learn whether the session ended, continued or was replaced */
	if ((rc = sim_get_state(dev, &state)) < 0)
		return rc;
	if (r.a != 0) {
		if (d->session != r.a)
			return fail(d, -EPROTO, "session %llu opened but device reports %llu", (unsigned long long)r.a,
				    (unsigned long long)d->session);
		*data_fd = d->poll_fd;
	}
	return 0;
}

static int sim_complete_saving_layout(struct ferry_device *dev, uint64_t regions)
{
	struct ferry_sim_msg r;
	return (int)call(sim(dev), FERRY_SIM_OP_COMPLETE_LAYOUT, regions, 0, NULL, 0, -1, &r);
}

static ssize_t sim_read_data(struct ferry_device *dev, void *buf, size_t len)
{
	struct ferry_sim_device *d = sim(dev);
	struct ferry_sim_msg r;
	if (d->session == 0)
		return fail(d, -EBADF, "no data session to read");
	size_t want = len < FERRY_SIM_MAX_IO ? len : FERRY_SIM_MAX_IO;
	int64_t n = call(d, FERRY_SIM_OP_READ, d->session, want, NULL, 0, -1, &r);
	if (n < 0)
		return (ssize_t)n;
	if ((uint64_t)n != r.payload_len || r.payload_len > want)
		return fail(d, -EPROTO, "READ answered %lld bytes with a %u-byte payload", (long long)n, r.payload_len);
	memcpy(buf, d->buf, r.payload_len);
	return (ssize_t)n;
}

static int sim_write_data(struct ferry_device *dev, const void *buf, size_t len)
{
	struct ferry_sim_device *d = sim(dev);
	struct ferry_sim_msg r;
	if (d->session == 0)
		return fail(d, -EBADF, "no data session to write");
	for (size_t done = 0; done < len;) {
		uint32_t n = (uint32_t)(len - done < FERRY_SIM_MAX_IO ? len - done : FERRY_SIM_MAX_IO);
		int64_t rc = call(d, FERRY_SIM_OP_WRITE, d->session, 0, (const uint8_t *)buf + done, n, -1, &r);
		if (rc < 0)
			return (int)rc;
		if (rc != n)
			return fail(d, -EPROTO, "WRITE of %u bytes answered %lld", n, (long long)rc);
		done += n;
	}
	return 0;
}

static int sim_precopy_info(struct ferry_device *dev, struct ferry_precopy_info *info)
{
	struct ferry_sim_device *d = sim(dev);
	struct ferry_sim_msg r;
	if (d->session == 0)
		return fail(d, -EINVAL, "precopy info without a data session");
	int rc = (int)call(d, FERRY_SIM_OP_PRECOPY_INFO, d->session, 0, NULL, 0, -1, &r);
	if (rc == 0) {
		info->initial_bytes = r.a;
		info->dirty_bytes = r.b;
	}
	return rc;
}

static int sim_stop_copy_size(struct ferry_device *dev, uint64_t *bytes)
{
	struct ferry_sim_msg r;
	int rc = (int)call(sim(dev), FERRY_SIM_OP_STOP_COPY_SIZE, 0, 0, NULL, 0, -1, &r);
	if (rc == 0)
		*bytes = r.a;
	return rc;
}

static int sim_dma_log_start(struct ferry_device *dev, const struct ferry_dma_range *ranges, uint32_t n,
			     uint64_t *page_size)
{
	struct ferry_sim_device *d = sim(dev);
	struct ferry_sim_msg r;
	if ((uint64_t)n * 16 > FERRY_SIM_MAX_PAYLOAD)
		return fail(d, -E2BIG, "%u DMA log ranges", n);
	int rc = (int)call(d, FERRY_SIM_OP_DMA_LOG_START, *page_size, 0, ranges, n * 16, -1, &r);
	if (rc == 0)
		*page_size = r.a;
	return rc;
}

static int sim_dma_log_report(struct ferry_device *dev, uint64_t iova, uint64_t length, uint64_t page_size,
			      uint64_t *bitmap, size_t words)
{
	struct ferry_sim_device *d = sim(dev);
	struct ferry_sim_msg r;
	uint64_t pages = page_size ? length / page_size + (length % page_size != 0) : 0;
	size_t used = (size_t)((pages + 63) / 64);
	if (used > words)
		used = words;
	memset(bitmap, 0, used * sizeof *bitmap); /* the device only ORs bits in */
	uint64_t args[2] = {page_size, used};
	int rc = (int)call(d, FERRY_SIM_OP_DMA_LOG_REPORT, iova, length, args, sizeof args, -1, &r);
	if (rc == 0 && r.payload_len != used * 8)
		rc = fail(d, -EPROTO, "DMA log report of %zu words answered %u bytes", used, r.payload_len);
	if (rc < 0) {
		/* An unreadable log means nothing about what is clean: everything is dirty. */
		for (uint64_t k = 0; k < pages && k / 64 < words; k++)
			bitmap[k / 64] |= UINT64_C(1) << (k % 64);
		return rc;
	}
	memcpy(bitmap, d->buf, used * 8);
	return 0;
}

static int sim_dma_log_stop(struct ferry_device *dev)
{
	struct ferry_sim_msg r;
	return (int)call(sim(dev), FERRY_SIM_OP_DMA_LOG_STOP, 0, 0, NULL, 0, -1, &r);
}

static int sim_reset(struct ferry_device *dev)
{
	struct ferry_sim_msg r;
	int rc = (int)call(sim(dev), FERRY_SIM_OP_RESET, 0, 0, NULL, 0, -1, &r);
	if (rc == 0)
		drop_session(sim(dev));
	return rc;
}

static int sim_compat(struct ferry_device *dev, struct ferry_device_compat *out)
{
	struct ferry_sim_device *d = sim(dev);
	struct ferry_sim_msg r;
	struct ferry_sim_wire_info wi;
	int rc = (int)call(d, FERRY_SIM_OP_PROBE, 0, 0, NULL, 0, -1, &r);
	if (rc < 0)
		return rc;
	if (r.payload_len != FERRY_SIM_WIRE_INFO_LEN || ferry_sim_info_decode(d->buf, &wi) < 0)
		return fail(d, -EPROTO, "malformed PROBE answer");
	memset(out, 0, sizeof *out);
	out->vendor_id = wi.vendor_id;
	out->device_id = wi.device_id;
	snprintf(out->driver, sizeof out->driver, "%s", wi.driver);
	snprintf(out->migration_version, sizeof out->migration_version, "%s", wi.migration_version);
	return 0;
}

int ferry_sim_attach_memory(struct ferry_device *dev, int memfd, uint64_t size)
{
	struct ferry_sim_msg r;
	pthread_mutex_lock(&sim(dev)->lock);
	int rc = (int)call(sim(dev), FERRY_SIM_OP_ATTACH_MEMORY, memfd >= 0 ? size : 0, 0, NULL, 0, memfd, &r);
	pthread_mutex_unlock(&sim(dev)->lock);
	return rc;
}

int ferry_sim_set_faults(struct ferry_device *dev, const struct ferry_sim_faults *faults)
{
	struct ferry_sim_msg r;
	uint8_t p[FERRY_SIM_WIRE_FAULTS_LEN];
	ferry_sim_faults_encode(faults, p);
	pthread_mutex_lock(&sim(dev)->lock);
	int rc = (int)call(sim(dev), FERRY_SIM_OP_SET_FAULTS, 0, 0, p, sizeof p, -1, &r);
	pthread_mutex_unlock(&sim(dev)->lock);
	return rc;
}

int ferry_sim_state_crc(struct ferry_device *dev, uint32_t *crc)
{
	struct ferry_sim_msg r;
	pthread_mutex_lock(&sim(dev)->lock);
	int rc = (int)call(sim(dev), FERRY_SIM_OP_STATE_CRC, 0, 0, NULL, 0, -1, &r);
	pthread_mutex_unlock(&sim(dev)->lock);
	if (rc == 0)
		*crc = (uint32_t)r.a;
	return rc;
}

/* The ops as the table exports them: each holds the device's lock for the whole operation. */
#define LOCKED(ret, op, params, args)                 \
	static ret locked_##op params                 \
	{                                             \
		pthread_mutex_lock(&sim(dev)->lock);   \
		ret rc = sim_##op args;               \
		pthread_mutex_unlock(&sim(dev)->lock); \
		return rc;                            \
	}
LOCKED(int, probe, (struct ferry_device * dev, struct ferry_mig_caps *caps), (dev, caps))
LOCKED(int, get_state, (struct ferry_device * dev, uint32_t *state), (dev, state))
LOCKED(int, set_state, (struct ferry_device * dev, uint32_t target, int *data_fd), (dev, target, data_fd))
LOCKED(int, complete_saving_layout, (struct ferry_device * dev, uint64_t regions), (dev, regions))
LOCKED(ssize_t, read_data, (struct ferry_device * dev, void *buf, size_t len), (dev, buf, len))
LOCKED(int, write_data, (struct ferry_device * dev, const void *buf, size_t len), (dev, buf, len))
LOCKED(int, precopy_info, (struct ferry_device * dev, struct ferry_precopy_info *info), (dev, info))
LOCKED(int, stop_copy_size, (struct ferry_device * dev, uint64_t *bytes), (dev, bytes))
LOCKED(int, dma_log_start,
       (struct ferry_device * dev, const struct ferry_dma_range *ranges, uint32_t n, uint64_t *page_size),
       (dev, ranges, n, page_size))
LOCKED(int, dma_log_report,
       (struct ferry_device * dev, uint64_t iova, uint64_t length, uint64_t page_size, uint64_t *bitmap,
	size_t words),
       (dev, iova, length, page_size, bitmap, words))
LOCKED(int, dma_log_stop, (struct ferry_device * dev), (dev))
LOCKED(int, reset, (struct ferry_device * dev), (dev))
LOCKED(int, compat, (struct ferry_device * dev, struct ferry_device_compat *out), (dev, out))

const struct ferry_device_ops ferry_sim_ops = {
	.name = "sim",
	.open = sim_open,
	.close = sim_close,
	.probe = locked_probe,
	.get_state = locked_get_state,
	.set_state = locked_set_state,
	.complete_saving_layout = locked_complete_saving_layout,
	.read_data = locked_read_data,
	.write_data = locked_write_data,
	.precopy_info = locked_precopy_info,
	.stop_copy_size = locked_stop_copy_size,
	.dma_log_start = locked_dma_log_start,
	.dma_log_report = locked_dma_log_report,
	.dma_log_stop = locked_dma_log_stop,
	.reset = locked_reset,
	.compat = locked_compat,
};
