/* Host facts and the Inventory message; see inventory.h. */
#include "inventory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* /proc/meminfo is about 1.5 KiB; MemTotal and MemAvailable are among its first lines. */
#define MEMINFO_READ_MAX 16384

static const char *next_line(const char *line)
{
	const char *nl = strchr(line, '\n');
	return nl ? nl + 1 : NULL;
}

/* Finds "NAME:   <digits> kB" at the start of a line and returns the value in bytes. */
static int meminfo_field(const char *text, const char *name, uint64_t *bytes)
{
	size_t name_len = strlen(name);
	for (const char *line = text; line; line = next_line(line)) {
		if (strncmp(line, name, name_len) != 0 || line[name_len] != ':')
			continue;
		const char *s = line + name_len + 1;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		uint64_t kib = 0;
		for (; *s >= '0' && *s <= '9'; s++) {
			uint64_t d = (uint64_t)(*s - '0');
			if (kib > (UINT64_MAX - d) / 10)
				return -ERANGE;
			kib = kib * 10 + d;
		}
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, "kB", 2) != 0 || (s[2] != '\n' && s[2] != '\0'))
			return -EINVAL;
		if (kib > UINT64_MAX / 1024)
			return -ERANGE;
		*bytes = kib * 1024;
		return 0;
	}
	return -EINVAL;
}

int ferry_host_facts_parse_meminfo(const char *text, uint64_t *total, uint64_t *available)
{
	uint64_t t = 0, a = 0;
	int rc = meminfo_field(text, "MemTotal", &t);
	if (rc < 0)
		return rc;
	rc = meminfo_field(text, "MemAvailable", &a);
	if (rc < 0)
		return rc;
	*total = t;
	*available = a;
	return 0;
}

static int read_small_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	int rc = 0;
	while (len + 1 < size) {
		ssize_t r = read(fd, buf + len, size - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return rc;
}

int ferry_host_facts_read(struct ferry_host_facts *out)
{
	struct ferry_host_facts facts;
	memset(&facts, 0, sizeof facts);

	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		return -EINVAL;
	facts.cpu_count = cpus > (long)UINT32_MAX ? UINT32_MAX : (uint32_t)cpus;

	char meminfo[MEMINFO_READ_MAX];
	int rc = read_small_file("/proc/meminfo", meminfo, sizeof meminfo);
	if (rc < 0)
		return rc;
	rc = ferry_host_facts_parse_meminfo(meminfo, &facts.memory_bytes, &facts.free_memory_bytes);
	if (rc < 0)
		return rc;

	struct utsname uts;
	if (uname(&uts) < 0)
		return -errno;
	snprintf(facts.kernel_release, sizeof facts.kernel_release, "%s", uts.release);

	*out = facts;
	return 0;
}

static void copy_string(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void ferry_inventory_build(struct ferry_inventory *inv, const char *host_id, const struct ferry_host_facts *facts,
			   const char *data_address, const struct ferry_device_info *devices, size_t n_devices)
{
	Ferry__V1__Inventory init = FERRY__V1__INVENTORY__INIT;
	inv->msg = init;
	copy_string(inv->host_id, sizeof inv->host_id, host_id);
	copy_string(inv->data_address, sizeof inv->data_address, data_address);
	copy_string(inv->agent_version, sizeof inv->agent_version, FERRY_AGENT_VERSION);
	inv->facts = *facts;

	if (n_devices > FERRY_MAX_DEVICES)
		n_devices = FERRY_MAX_DEVICES;
	for (size_t i = 0; i < n_devices; i++) {
		ferry_device_to_proto(&devices[i], &inv->dev_storage[i]);
		inv->dev_ptrs[i] = &inv->dev_storage[i];
	}

	inv->msg.host_id = inv->host_id;
	inv->msg.cpu_count = inv->facts.cpu_count;
	inv->msg.memory_bytes = inv->facts.memory_bytes;
	inv->msg.free_memory_bytes = inv->facts.free_memory_bytes;
	inv->msg.agent_version = inv->agent_version;
	inv->msg.kernel_release = inv->facts.kernel_release;
	inv->msg.data_address = inv->data_address;
	inv->msg.n_devices = n_devices;
	inv->msg.devices = n_devices ? inv->dev_ptrs : NULL;
	inv->msg.n_vms = 0;
	inv->msg.vms = NULL;
}

void ferry_inventory_set_vms(struct ferry_inventory *inv, const struct ferry_vm_registry *vms,
			     const struct ferry_device_info *devices, size_t n_devices)
{
	size_t n = 0, used_ids = 0;
	if (n_devices > FERRY_MAX_DEVICES)
		n_devices = FERRY_MAX_DEVICES;
	for (size_t i = 0; i < FERRY_MAX_VMS; i++) {
		const struct ferry_vm_entry *e = &vms->vms[i];
		if (!e->used)
			continue;
		Ferry__V1__Vm *vm = &inv->vm_storage[n];
		*vm = (Ferry__V1__Vm)FERRY__V1__VM__INIT;
		vm->vm_id = (char *)e->reg.vm_id;
		vm->ram_bytes = e->reg.ram_bytes;
		vm->vcpus = e->reg.vcpus;
		vm->pid = (uint32_t)e->reg.pid;
		vm->state = e->reg.incoming && !e->started ? FERRY__V1__VM_STATE__VM_STATE_INCOMING : FERRY__V1__VM_STATE__VM_STATE_RUNNING;
		vm->n_launch_args = e->n_launch_args;
		vm->launch_args = e->n_launch_args ? (char **)e->launch_args : NULL;
		vm->device_ids = &inv->vm_device_ids[used_ids];
		for (size_t d = 0; d < n_devices; d++)
			if (strcmp(devices[d].vm_id, e->reg.vm_id) == 0)
				inv->vm_device_ids[used_ids + vm->n_device_ids++] = (char *)devices[d].name;
		used_ids += vm->n_device_ids;
		if (vm->n_device_ids == 0)
			vm->device_ids = NULL;
		inv->vm_ptrs[n++] = vm;
	}
	inv->msg.n_vms = n;
	inv->msg.vms = n ? inv->vm_ptrs : NULL;
}
