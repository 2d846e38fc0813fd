/* VM registration: the register line, its validation against the fds that came along, the
 * registry's bookkeeping and the Vm entries of the Inventory. */
#include "fd_kind.h"
#include "inventory.h"
#include "test.h"
#include "vm_registry.h"
#include "workload_agent.h"
#include "workload_ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1u << 20)

static struct ferry_vm_registration good_reg(const char *id)
{
	struct ferry_vm_registration r = {.vcpus = 2, .ram_bytes = 4 * MIB, .page_size = 4096, .pid = getpid()};
	snprintf(r.vm_id, sizeof r.vm_id, "%s", id);
	snprintf(r.control, sizeof r.control, "/tmp/%s.sock", id);
	return r;
}

static int memfd_of(uint64_t bytes)
{
	int fd = memfd_create("test-ram", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, (off_t)bytes) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

FERRY_TEST(vm_register_line_round_trips_and_rejects_malformed)
{
	struct ferry_vm_registration r = good_reg("vm-1"), back;
	char line[512], err[256] = "";
	EXPECT_EQ_INT(ferry_workload_ipc_format_register(&r, line, sizeof line), 0);
	line[strlen(line) - 1] = '\0'; /* without its newline, as received */
	EXPECT_EQ_INT(ferry_workload_ipc_parse_register(line, &back, err, sizeof err), 0);
	EXPECT_EQ_STR(back.vm_id, "vm-1");
	EXPECT_EQ_STR(back.control, "/tmp/vm-1.sock");
	EXPECT_EQ_U64(back.ram_bytes, 4 * MIB);
	EXPECT_EQ_INT(back.vcpus, 2);
	EXPECT_EQ_INT(back.pid, getpid());
	EXPECT_EQ_INT(back.incoming, 0);

	static const struct {
		const char *line, *why;
	} bad[] = {
		{"hello", "expected a register line"},
		{"register vcpus=1 ram_bytes=4096 page_size=4096 pid=1 control=/x mode=run", "vm="},
		{"register vm=a/b vcpus=1 ram_bytes=4096 page_size=4096 pid=1 control=/x mode=run", "vm="},
		{"register vm=a vcpus=0 ram_bytes=4096 page_size=4096 pid=1 control=/x mode=run", "vcpus"},
		{"register vm=a vcpus=1 ram_bytes=-5 page_size=4096 pid=1 control=/x mode=run", "ram_bytes"},
		{"register vm=a vcpus=1 ram_bytes=4096 page_size=4096 control=/x mode=run", "missing pid="},
		{"register vm=a vcpus=1 ram_bytes=4096 page_size=4096 pid=1 control=/x mode=fly", "mode="},
		{"register vm=a vcpus=1 ram_bytes=4096 page_size=4096 pid=1 mode=run", "control="},
		{"register vm=a vcpus=1 ram_bytes=99999999999999999999 page_size=4096 pid=1 control=/x mode=run",
		 "ram_bytes"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		EXPECT_EQ_INT(ferry_workload_ipc_parse_register(bad[i].line, &back, err, sizeof err), -EINVAL);
		if (!strstr(err, bad[i].why))
			fprintf(stderr, "  case %zu: \"%s\" does not mention %s\n", i, err, bad[i].why);
		EXPECT(strstr(err, bad[i].why) != NULL);
	}
}

FERRY_TEST(vm_registration_check_names_every_bad_input)
{
	struct ferry_vm_registration r = good_reg("vm-1");
	int memfd = memfd_of(4 * MIB), small = memfd_of(MIB), uffd = ferry_workload_create_userfaultfd();
	int pipefd[2];
	EXPECT(memfd >= 0 && small >= 0 && uffd >= 0 && pipe(pipefd) == 0);
	char err[256];
	int fds[2] = {memfd, uffd};
	EXPECT_EQ_INT(ferry_vm_registration_check(&r, getpid(), fds, 2, err, sizeof err), 0);

	struct ferry_vm_registration page = r;
	page.page_size = 8192;
	EXPECT_EQ_INT(ferry_vm_registration_check(&page, getpid(), fds, 2, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "page_size=8192 is not supported") != NULL);

	int not_memfd[2] = {pipefd[0], uffd};
	EXPECT_EQ_INT(ferry_vm_registration_check(&r, getpid(), not_memfd, 2, err, sizeof err), -EBADF);
	EXPECT(strstr(err, "pipe:") != NULL && strstr(err, "not a memfd") != NULL);

	int wrong_size[2] = {small, uffd};
	EXPECT_EQ_INT(ferry_vm_registration_check(&r, getpid(), wrong_size, 2, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "holds 1048576 bytes, but ram_bytes=4194304") != NULL);

	int not_uffd[2] = {memfd, small};
	EXPECT_EQ_INT(ferry_vm_registration_check(&r, getpid(), not_uffd, 2, err, sizeof err), -EBADF);
	EXPECT(strstr(err, "not a userfaultfd") != NULL);

	EXPECT_EQ_INT(ferry_vm_registration_check(&r, getpid(), fds, 0, err, sizeof err), -EBADF);
	EXPECT(strstr(err, "needs 2 fds") != NULL && strstr(err, "0 came") != NULL);

	EXPECT_EQ_INT(ferry_vm_registration_check(&r, getpid() + 1, fds, 2, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "but the registering process is pid") != NULL);

	struct ferry_vm_registration in = r;
	in.incoming = 1;
	/* An incoming VM brings only its userfaultfd: to be tracked once it runs here and migrates on. */
	int in_fds[1] = {uffd};
	EXPECT_EQ_INT(ferry_vm_registration_check(&in, getpid(), in_fds, 1, err, sizeof err), 0);
	EXPECT_EQ_INT(ferry_vm_registration_check(&in, getpid(), NULL, 0, err, sizeof err), -EBADF);
	EXPECT(strstr(err, "mode=incoming needs 1 fds") != NULL && strstr(err, "0 came") != NULL);
	EXPECT_EQ_INT(ferry_vm_registration_check(&in, getpid(), fds, 1, err, sizeof err), -EBADF);
	EXPECT(strstr(err, "not a userfaultfd") != NULL);
	EXPECT_EQ_INT(ferry_vm_registration_check(&in, getpid(), fds, 2, err, sizeof err), -EBADF);
	close(memfd);
	close(small);
	close(uffd);
	close(pipefd[0]);
	close(pipefd[1]);
}

FERRY_TEST(vm_registry_refuses_duplicates_until_the_owner_leaves)
{
	struct ferry_vm_registry reg;
	ferry_vm_registry_init(&reg);
	struct ferry_vm_registration a = good_reg("vm-a"), b = good_reg("vm-b");
	char err[256], id[FERRY_VM_ID_MAX];
	int m1 = memfd_of(4 * MIB);
	EXPECT_EQ_INT(ferry_vm_registry_add(&reg, &a, m1, -1, 1, err, sizeof err), 0);
	EXPECT_EQ_INT(ferry_vm_registry_add(&reg, &a, -1, -1, 2, err, sizeof err), -EEXIST);
	EXPECT(strstr(err, "VM vm-a is already registered") != NULL);
	EXPECT_EQ_INT(ferry_vm_registry_add(&reg, &b, -1, -1, 3, err, sizeof err), 0);
	EXPECT_EQ_U64(reg.count, 2);
	EXPECT(ferry_vm_registry_find(&reg, "vm-a") != NULL);
	EXPECT(!ferry_vm_registry_remove_owner(&reg, 2, id, sizeof id)); /* the refused one owns nothing */
	EXPECT(ferry_vm_registry_remove_owner(&reg, 1, id, sizeof id));
	EXPECT_EQ_STR(id, "vm-a");
	EXPECT(fcntl(m1, F_GETFD) == -1); /* its memfd was closed with it */
	EXPECT(ferry_vm_registry_find(&reg, "vm-a") == NULL);
	EXPECT_EQ_INT(ferry_vm_registry_add(&reg, &a, -1, -1, 4, err, sizeof err), 0);
	ferry_vm_registry_clear(&reg);
	EXPECT_EQ_U64(reg.count, 0);
}

FERRY_TEST(inventory_lists_registered_vms_with_their_devices)
{
	struct ferry_vm_registry reg;
	ferry_vm_registry_init(&reg);
	struct ferry_vm_registration a = good_reg("vm-1"), b = good_reg("vm-2");
	b.incoming = 1;
	b.vcpus = 4;
	char err[256];
	EXPECT_EQ_INT(ferry_vm_registry_add(&reg, &a, -1, -1, 1, err, sizeof err), 0);
	EXPECT_EQ_INT(ferry_vm_registry_add(&reg, &b, -1, -1, 2, err, sizeof err), 0);
	struct ferry_device_info devs[3] = {{.name = "d0", .vm_id = "vm-1"}, {.name = "d1", .vm_id = "vm-2"},
					    {.name = "d2", .vm_id = "vm-1"}};
	static struct ferry_inventory inv;
	struct ferry_host_facts facts = {.cpu_count = 1};
	ferry_inventory_build(&inv, "h", &facts, "127.0.0.1:1", devs, 3);
	ferry_inventory_set_vms(&inv, &reg, devs, 3);
	EXPECT_EQ_U64(inv.msg.n_vms, 2);
	Ferry__V1__Vm *v1 = inv.msg.vms[0], *v2 = inv.msg.vms[1];
	EXPECT_EQ_STR(v1->vm_id, "vm-1");
	EXPECT_EQ_U64(v1->ram_bytes, 4 * MIB);
	EXPECT_EQ_INT(v1->vcpus, 2);
	EXPECT_EQ_INT(v1->pid, getpid());
	EXPECT_EQ_INT(v1->state, FERRY__V1__VM_STATE__VM_STATE_RUNNING);
	EXPECT_EQ_U64(v1->n_device_ids, 2);
	if (v1->n_device_ids == 2) {
		EXPECT_EQ_STR(v1->device_ids[0], "d0");
		EXPECT_EQ_STR(v1->device_ids[1], "d2");
	}
	EXPECT_EQ_INT(v2->state, FERRY__V1__VM_STATE__VM_STATE_INCOMING);
	EXPECT_EQ_U64(v2->n_device_ids, 1);
	/* It packs and unpacks as the same message. */
	size_t len = ferry__v1__inventory__get_packed_size(&inv.msg);
	uint8_t *buf = malloc(len);
	ferry__v1__inventory__pack(&inv.msg, buf);
	Ferry__V1__Inventory *back = ferry__v1__inventory__unpack(NULL, len, buf);
	EXPECT(back && back->n_vms == 2 && strcmp(back->vms[1]->device_ids[0], "d1") == 0);
	ferry__v1__inventory__free_unpacked(back, NULL);
	free(buf);
}
