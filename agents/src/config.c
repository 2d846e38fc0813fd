/* Agent config file parser; the format is described in config.h and examples/ferry-agent.conf. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_value.h"

#define CONFIG_MAX_FILE_BYTES (1u << 20) /* a config of 64 devices is a few KiB */
#define WHY_MAX 192
#define QUOTE_MAX 64 /* longest key or header quoted back in an error */

struct span {
	const char *p;
	size_t n;
};

struct config_parser;
typedef int (*key_apply_fn)(struct config_parser *p, struct span v, char *why, size_t whylen);

enum key_scope { SCOPE_TOP, SCOPE_DEVICE };

/* Device keys that only one backend understands; the backend may be set after them in the
 * section, so this is checked when the section ends. */
enum key_backend { ANY_BACKEND = 0, SIM_ONLY = FERRY_BACKEND_SIM, VFIO_ONLY = FERRY_BACKEND_VFIO };

struct key_spec {
	const char *name;
	enum key_scope scope;
	bool required;
	key_apply_fn apply;
	enum key_backend only;
};

#define N_KEYS 24 /* entries of key_specs below */

struct config_parser {
	const char *file;
	unsigned line;
	struct ferry_agent_config *cfg;
	char *err;
	size_t errlen;
	struct ferry_device_info *dev;          /* current [device] section, NULL at top level */
	unsigned dev_line;                      /* its header line, where missing keys are reported */
	unsigned dev_lines[FERRY_MAX_DEVICES];  /* header line of every device, for duplicates */
	unsigned key_line[N_KEYS];              /* line each key was set on in this section, 0 = unset */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static struct span trim(struct span s)
{
	while (s.n > 0 && is_blank(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && is_blank(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool span_is(struct span s, const char *word)
{
	return strlen(word) == s.n && memcmp(s.p, word, s.n) == 0;
}

/* Writes "FILE:LINE: KEY: REASON" and returns -1, so callers can `return fail(...)`. */
static int fail(struct config_parser *p, struct span key, const char *why)
{
	snprintf(p->err, p->errlen, "%s:%u: %.*s: %s", p->file, p->line,
		 (int)(key.n < QUOTE_MAX ? key.n : QUOTE_MAX), key.p, why);
	return -1;
}

/* ---- what each key does with its value ---- */

static int apply_host_id(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_copy(v.p, v.n, p->cfg->host_id, sizeof p->cfg->host_id, why, whylen);
}

static int apply_coordinator(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	if (ferry__value_host_port(v.p, v.n, false, why, whylen) < 0)
		return -EINVAL;
	return ferry__value_copy(v.p, v.n, p->cfg->coordinator, sizeof p->cfg->coordinator, why, whylen);
}

static int apply_data_listen(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	if (ferry__value_host_port(v.p, v.n, true, why, whylen) < 0)
		return -EINVAL;
	return ferry__value_copy(v.p, v.n, p->cfg->data_listen, sizeof p->cfg->data_listen, why, whylen);
}

static int apply_log_level(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	if (ferry__value_log_level(v.p, v.n, why, whylen) < 0)
		return -EINVAL;
	return ferry__value_copy(v.p, v.n, p->cfg->log_level, sizeof p->cfg->log_level, why, whylen);
}

/* An absolute unix socket path: it must fit a sockaddr_un, and a relative one would depend on
 * the agent's working directory, which workloads cannot know. */
static int apply_vm_socket(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	if (v.p[0] != '/') {
		snprintf(why, whylen, "must be an absolute path");
		return -EINVAL;
	}
	return ferry__value_copy(v.p, v.n, p->cfg->vm_socket, sizeof p->cfg->vm_socket, why, whylen);
}

/* An absolute path: the agent and ferry-simdevd may run in different working directories. */
static int apply_absolute_path(struct span v, char *dst, size_t dstsize, char *why, size_t whylen)
{
	if (v.p[0] != '/') {
		snprintf(why, whylen, "must be an absolute path");
		return -EINVAL;
	}
	return ferry__value_copy(v.p, v.n, dst, dstsize, why, whylen);
}

static int apply_sim_socket(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return apply_absolute_path(v, p->cfg->sim_socket, sizeof p->cfg->sim_socket, why, whylen);
}

static int apply_simdevd(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return apply_absolute_path(v, p->cfg->simdevd, sizeof p->cfg->simdevd, why, whylen);
}

static int apply_address(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_copy(v.p, v.n, p->dev->address, sizeof p->dev->address, why, whylen);
}

static int apply_state_change_rate(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	p->dev->sim.has_change_rate = true;
	return ferry__value_rate(v.p, v.n, &p->dev->sim.change_rate, why, whylen);
}

static int apply_dma_write_rate(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	p->dev->sim.has_dma_rate = true;
	return ferry__value_rate(v.p, v.n, &p->dev->sim.dma_rate, why, whylen);
}

static int apply_dma_pattern(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	if (span_is(v, "random") || span_is(v, "selfcheck")) {
		p->dev->sim.dma_selfcheck = span_is(v, "selfcheck");
		return 0;
	}
	snprintf(why, whylen, "expected random or selfcheck, not '%.*s'", (int)(v.n < QUOTE_MAX ? v.n : QUOTE_MAX), v.p);
	return -EINVAL;
}

/* A size in whole 4 KiB pages: DMA windows are IOVA mappings, which are page-granular. */
static int apply_page_size_value(struct span v, uint64_t *out, char *why, size_t whylen)
{
	int rc = ferry__value_size(v.p, v.n, out, why, whylen);
	if (rc == 0 && *out % 4096) {
		snprintf(why, whylen, "%llu bytes is not a multiple of 4 KiB", (unsigned long long)*out);
		return -EINVAL;
	}
	return rc;
}

static int apply_dma_offset(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return apply_page_size_value(v, &p->dev->sim.dma_offset, why, whylen);
}

static int apply_dma_length(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return apply_page_size_value(v, &p->dev->sim.dma_length, why, whylen);
}

static int apply_seed(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	p->dev->sim.has_seed = true;
	return ferry__value_u64(v.p, v.n, &p->dev->sim.seed, why, whylen);
}

static int apply_backend(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	if (span_is(v, "sim")) {
		p->dev->backend = FERRY_BACKEND_SIM;
		return 0;
	}
	if (span_is(v, "vfio")) {
		p->dev->backend = FERRY_BACKEND_VFIO;
		return 0;
	}
	snprintf(why, whylen, "expected sim or vfio, not '%.*s'", (int)(v.n < QUOTE_MAX ? v.n : QUOTE_MAX), v.p);
	return -EINVAL;
}

static int apply_vendor_id(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_pci_id(v.p, v.n, &p->dev->vendor_id, why, whylen);
}

static int apply_device_id(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_pci_id(v.p, v.n, &p->dev->device_id, why, whylen);
}

static int apply_driver(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_copy(v.p, v.n, p->dev->driver, sizeof p->dev->driver, why, whylen);
}

static int apply_migration(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_migration(v.p, v.n, &p->dev->migration_flags, why, whylen);
}

static int apply_dma_logging(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_bool(v.p, v.n, &p->dev->dma_logging, why, whylen);
}

static int apply_saving_layout(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_bool(v.p, v.n, &p->dev->saving_layout_handshake, why, whylen);
}

static int apply_migration_version(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_copy(v.p, v.n, p->dev->migration_version, sizeof p->dev->migration_version, why,
				 whylen);
}

static int apply_vm(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_copy(v.p, v.n, p->dev->vm_id, sizeof p->dev->vm_id, why, whylen);
}

static int apply_stop_copy_bytes(struct config_parser *p, struct span v, char *why, size_t whylen)
{
	return ferry__value_size(v.p, v.n, &p->dev->stop_copy_bytes, why, whylen);
}

static const struct key_spec key_specs[N_KEYS] = {
	{"host_id", SCOPE_TOP, false, apply_host_id, ANY_BACKEND},
	{"coordinator", SCOPE_TOP, false, apply_coordinator, ANY_BACKEND},
	{"data_listen", SCOPE_TOP, false, apply_data_listen, ANY_BACKEND},
	{"log_level", SCOPE_TOP, false, apply_log_level, ANY_BACKEND},
	{"vm_socket", SCOPE_TOP, false, apply_vm_socket, ANY_BACKEND},
	{"backend", SCOPE_DEVICE, true, apply_backend, ANY_BACKEND},
	{"vendor_id", SCOPE_DEVICE, true, apply_vendor_id, ANY_BACKEND},
	{"device_id", SCOPE_DEVICE, true, apply_device_id, ANY_BACKEND},
	{"driver", SCOPE_DEVICE, true, apply_driver, ANY_BACKEND},
	{"migration", SCOPE_DEVICE, true, apply_migration, ANY_BACKEND},
	{"dma_logging", SCOPE_DEVICE, false, apply_dma_logging, ANY_BACKEND},
	{"saving_layout_handshake", SCOPE_DEVICE, false, apply_saving_layout, ANY_BACKEND},
	{"migration_version", SCOPE_DEVICE, true, apply_migration_version, ANY_BACKEND},
	{"vm", SCOPE_DEVICE, false, apply_vm, ANY_BACKEND},
	{"stop_copy_bytes", SCOPE_DEVICE, false, apply_stop_copy_bytes, ANY_BACKEND},
	{"sim_socket", SCOPE_TOP, false, apply_sim_socket, ANY_BACKEND},
	{"simdevd", SCOPE_TOP, false, apply_simdevd, ANY_BACKEND},
	{"address", SCOPE_DEVICE, false, apply_address, VFIO_ONLY},
	{"state_change_rate", SCOPE_DEVICE, false, apply_state_change_rate, SIM_ONLY},
	{"dma_write_rate", SCOPE_DEVICE, false, apply_dma_write_rate, SIM_ONLY},
	{"seed", SCOPE_DEVICE, false, apply_seed, SIM_ONLY},
	{"dma_pattern", SCOPE_DEVICE, false, apply_dma_pattern, SIM_ONLY},
	{"dma_offset", SCOPE_DEVICE, false, apply_dma_offset, SIM_ONLY},
	{"dma_length", SCOPE_DEVICE, false, apply_dma_length, SIM_ONLY},
};

/* ---- lines and sections ---- */

/* Ends the current device section: every required key must have been set. */
static int finish_section(struct config_parser *p)
{
	if (!p->dev)
		return 0;
	for (size_t k = 0; k < N_KEYS; k++) {
		if (key_specs[k].scope != SCOPE_DEVICE || !key_specs[k].required || p->key_line[k] != 0)
			continue;
		char why[WHY_MAX];
		snprintf(why, sizeof why, "required key is missing in [device %s]", p->dev->name);
		p->line = p->dev_line;
		return fail(p, (struct span){key_specs[k].name, strlen(key_specs[k].name)}, why);
	}
	for (size_t k = 0; k < N_KEYS; k++) {
		if (key_specs[k].only == ANY_BACKEND || p->key_line[k] == 0 ||
		    (int)key_specs[k].only == (int)p->dev->backend)
			continue;
		char why[WHY_MAX];
		snprintf(why, sizeof why, "only for backend = %s, and [device %s] is %s",
			 key_specs[k].only == SIM_ONLY ? "sim" : "vfio", p->dev->name,
			 ferry_device_backend_name(p->dev->backend));
		p->line = p->key_line[k];
		return fail(p, (struct span){key_specs[k].name, strlen(key_specs[k].name)}, why);
	}
	return 0;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == ':' || c == '-';
}

/* "[device NAME]": starts a new device. The whole header stands for KEY in its errors. */
static int parse_section_header(struct config_parser *p, struct span h)
{
	if (h.p[h.n - 1] != ']')
		return fail(p, h, "section header is missing ']'");
	struct span inner = trim((struct span){h.p + 1, h.n - 2});
	const size_t kw = strlen("device");
	if (span_is(inner, "device"))
		return fail(p, h, "section needs a name: [device NAME]");
	if (inner.n <= kw || memcmp(inner.p, "device", kw) != 0 || !is_blank(inner.p[kw]))
		return fail(p, h, "unknown section (expected [device NAME])");
	struct span name = trim((struct span){inner.p + kw, inner.n - kw});

	if (finish_section(p) < 0)
		return -1;
	struct ferry_agent_config *cfg = p->cfg;
	char why[WHY_MAX];
	if (cfg->n_devices == FERRY_MAX_DEVICES) {
		snprintf(why, sizeof why, "too many devices (max %d)", FERRY_MAX_DEVICES);
		return fail(p, h, why);
	}
	if (name.n >= sizeof cfg->devices[0].name) {
		snprintf(why, sizeof why, "device name is longer than %zu bytes", sizeof cfg->devices[0].name - 1);
		return fail(p, h, why);
	}
	for (size_t i = 0; i < name.n; i++)
		if (!is_name_char(name.p[i]))
			return fail(p, h, "device name may only hold letters, digits and . _ : -");
	for (size_t d = 0; d < cfg->n_devices; d++) {
		if (span_is(name, cfg->devices[d].name)) {
			snprintf(why, sizeof why, "duplicate device name (first on line %u)", p->dev_lines[d]);
			return fail(p, h, why);
		}
	}
	p->dev = &cfg->devices[cfg->n_devices];
	p->dev_lines[cfg->n_devices] = p->line;
	cfg->n_devices++;
	memcpy(p->dev->name, name.p, name.n);
	p->dev->name[name.n] = '\0';
	p->dev_line = p->line;
	memset(p->key_line, 0, sizeof p->key_line);
	return 0;
}

static int parse_key_value(struct config_parser *p, struct span line)
{
	const char *eq = memchr(line.p, '=', line.n);
	if (!eq)
		return fail(p, line, "expected 'key = value' or '[device NAME]'");
	struct span key = trim((struct span){line.p, (size_t)(eq - line.p)});
	struct span value = trim((struct span){eq + 1, line.n - (size_t)(eq - line.p) - 1});
	if (key.n == 0)
		return fail(p, line, "missing key before '='");

	size_t k = 0;
	while (k < N_KEYS && !span_is(key, key_specs[k].name))
		k++;
	if (k == N_KEYS)
		return fail(p, key, "unknown key");
	char why[WHY_MAX];
	if (key_specs[k].scope == SCOPE_DEVICE && !p->dev)
		return fail(p, key, "device key outside any [device NAME] section");
	if (key_specs[k].scope == SCOPE_TOP && p->dev) {
		snprintf(why, sizeof why, "top-level key inside [device %s] (top-level keys go before the first section)",
			 p->dev->name);
		return fail(p, key, why);
	}
	if (p->key_line[k] != 0) {
		snprintf(why, sizeof why, "duplicate key (first set on line %u)", p->key_line[k]);
		return fail(p, key, why);
	}
	if (value.n == 0)
		return fail(p, key, "value is empty");
	if (key_specs[k].apply(p, value, why, sizeof why) < 0)
		return fail(p, key, why);
	p->key_line[k] = p->line;
	return 0;
}

static int parse_line(struct config_parser *p, struct span line)
{
	/* '#' starts a comment at the start of a line or after whitespace, so values such as
	 * "ferry-sim/1#rev2" keep their '#'. */
	for (size_t i = 0; i < line.n; i++) {
		if (line.p[i] == '#' && (i == 0 || is_blank(line.p[i - 1]))) {
			line.n = i;
			break;
		}
	}
	line = trim(line);
	if (line.n == 0)
		return 0;
	if (line.p[0] == '[')
		return parse_section_header(p, line);
	return parse_key_value(p, line);
}

int ferry_config_parse(const char *text, const char *name_for_errors, struct ferry_agent_config *out,
		       char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	struct config_parser p = {.file = name_for_errors, .cfg = out, .err = err, .errlen = errlen};
	const char *s = text;
	for (;;) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		p.line++;
		if (parse_line(&p, (struct span){s, n}) < 0)
			return -1;
		if (!nl)
			break;
		s = nl + 1;
	}
	return finish_section(&p);
}

int ferry_config_load(const char *path, struct ferry_agent_config *out, char *err, size_t errlen)
{
	int rc = -1;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* One byte more than the limit, to tell "exactly at the limit" from "too large". */
	buf = malloc(CONFIG_MAX_FILE_BYTES + 2);
	if (!buf) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		goto out;
	}
	size_t len = 0;
	while (len <= CONFIG_MAX_FILE_BYTES) {
		ssize_t r = read(fd, buf + len, CONFIG_MAX_FILE_BYTES + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > CONFIG_MAX_FILE_BYTES) {
		snprintf(err, errlen, "%s: file is larger than %u bytes", path, CONFIG_MAX_FILE_BYTES);
		goto out;
	}
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "%s: file contains a NUL byte", path);
		goto out;
	}
	buf[len] = '\0';
	rc = ferry_config_parse(buf, path, out, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}
