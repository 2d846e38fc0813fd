/* Which devices join a migration (migration_device_binding.h), over a registry of in-process sim
 * devices: the source takes exactly the VM's devices and refuses when one is closed or busy; the
 * destination takes a free twin, never another VM's or a busy one, and knows it by the source's id. */
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "migration_device_binding.h"
#include "sim_local.h"

#define FLAGS (FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY) /* several need P2P */

static void add(struct ferry_device_registry *r, const char *name, const char *vm, bool open)
{
	size_t i = r->n++;
	struct ferry_device_info *d = &r->info[i];
	snprintf(d->name, sizeof d->name, "%s", name);
	snprintf(d->vm_id, sizeof d->vm_id, "%s", vm);
	snprintf(d->driver, sizeof d->driver, "ferry-sim");
	snprintf(d->migration_version, sizeof d->migration_version, "ferry-sim/1");
	d->vendor_id = 0x1af4;
	d->device_id = 0x1041;
	d->migration_flags = FLAGS;
	if (open) {
		r->dev[i] = sim_local_create(FLAGS, 0, i + 1);
		r->dev[i]->ops->probe(r->dev[i], &r->caps[i]);
	}
}

/* The source's description of a device that add()'s devices are twins of. */
static Ferry__V1__Device source_device(char *id)
{
	Ferry__V1__Device w = FERRY__V1__DEVICE__INIT;
	w.id = id;
	w.vendor_id = 0x1af4;
	w.device_id = 0x1041;
	w.driver = "ferry-sim";
	w.migration_version = "ferry-sim/1";
	w.migration_flags = FLAGS;
	return w;
}

static void close_all(struct ferry_device_registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->dev[i])
			r->dev[i]->ops->close(r->dev[i]);
}

FERRY_TEST(device_binding_source_takes_the_vms_devices)
{
	static struct ferry_device_registry r;
	memset(&r, 0, sizeof r);
	add(&r, "a", "vm1", true);
	add(&r, "b", "vm2", true);
	add(&r, "c", "vm1", true);
	struct ferry_mig_device_binding *b = NULL;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_mig_device_binding_source(&r, "vm1", NULL, &b, err, sizeof err), 0);
	EXPECT(b != NULL);
	if (b) {
		EXPECT_EQ_U64(b->set.g.n, 2);
		EXPECT_EQ_INT(b->reg_index[0], 0);
		EXPECT_EQ_INT(b->reg_index[1], 2);
		EXPECT_EQ_STR(b->peer[1], "c");
		EXPECT_EQ_INT(ferry_mig_device_binding_find_peer(b, "c"), 1);
		EXPECT_EQ_INT(ferry_mig_device_binding_find_peer(b, "b"), -1);
		free(b);
	}
	/* A VM without devices: no binding, no error. */
	b = (void *)&r;
	EXPECT_EQ_INT(ferry_mig_device_binding_source(&r, "vm3", NULL, &b, err, sizeof err), 0);
	EXPECT(b == NULL);
	/* One of the VM's devices is in another migration: the VM cannot leave without it. */
	bool busy[FERRY_MAX_DEVICES] = {false};
	busy[2] = true;
	EXPECT_EQ_INT(ferry_mig_device_binding_source(&r, "vm1", busy, &b, err, sizeof err), -ENODEV);
	EXPECT(strstr(err, "device c of VM vm1 is in another migration") != NULL);
	close_all(&r);
}

FERRY_TEST(device_binding_source_refuses_a_closed_device)
{
	static struct ferry_device_registry r;
	memset(&r, 0, sizeof r);
	add(&r, "a", "vm1", true);
	add(&r, "c", "vm1", false);
	snprintf(r.error[1], sizeof r.error[1], "connect refused");
	struct ferry_mig_device_binding *b = NULL;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_mig_device_binding_source(&r, "vm1", NULL, &b, err, sizeof err), -ENODEV);
	EXPECT(b == NULL);
	EXPECT(strstr(err, "device c of VM vm1 is not open here: connect refused") != NULL);
	close_all(&r);
}

FERRY_TEST(device_binding_destination_takes_a_free_twin)
{
	static struct ferry_device_registry r;
	memset(&r, 0, sizeof r);
	add(&r, "x", "vm2", true); /* another VM's */
	add(&r, "y", "", true);    /* free */
	add(&r, "z", "vm1", true); /* reserved for the incoming VM */
	Ferry__V1__Device want = source_device("src-a"), *wants[] = {&want};
	struct ferry_mig_device_binding *b = NULL;
	char err[512] = "";
	EXPECT_EQ_INT(ferry_mig_device_binding_destination(&r, "vm1", wants, 1, NULL, &b, err, sizeof err), 0);
	EXPECT(b != NULL);
	if (b) {
		EXPECT_EQ_INT(b->reg_index[0], 1); /* y: the first free twin; x is vm2's */
		EXPECT_EQ_STR(b->set.names[0], "y");
		EXPECT_EQ_INT(ferry_mig_device_binding_find_peer(b, "src-a"), 0);
		free(b);
	}
	/* y and z busy (another migration): nothing is free. */
	bool busy[FERRY_MAX_DEVICES] = {false};
	busy[1] = busy[2] = true;
	b = NULL;
	EXPECT_EQ_INT(ferry_mig_device_binding_destination(&r, "vm1", wants, 1, busy, &b, err, sizeof err), -ENODEV);
	EXPECT(b == NULL);
	EXPECT(strstr(err, "source device src-a") != NULL);
	/* Another migration_version: no twin at all. */
	want.migration_version = "ferry-sim/2";
	EXPECT_EQ_INT(ferry_mig_device_binding_destination(&r, "vm1", wants, 1, NULL, &b, err, sizeof err), -ENODEV);
	close_all(&r);
}

/* Puts an in-process sim device in `target` through the kernel's path. */
static void drive(struct ferry_device *dev, uint32_t target)
{
	int fd = -1;
	EXPECT_EQ_INT(dev->ops->set_state(dev, target, &fd), 0);
	if (fd >= 0)
		close(fd);
}

FERRY_TEST(device_binding_destination_takes_only_an_idle_twin)
{
	static struct ferry_device_registry r;
	memset(&r, 0, sizeof r);
	add(&r, "x", "", true);    /* free but in another session: PRE_COPY */
	add(&r, "y", "vm1", true); /* left in STOP after its VM migrated away */
	add(&r, "z", "", true);    /* free, in ERROR after a failed arc */
	drive(r.dev[0], FERRY_MIG_PRE_COPY);
	drive(r.dev[1], FERRY_MIG_STOP);
	struct ferry_sim_faults fault = {.fail_arc = true, .fail_arc_from = FERRY_MIG_RUNNING,
					 .fail_arc_to = FERRY_MIG_RUNNING_P2P, .fail_arc_mode = FERRY_SIM_FAIL_TO_ERROR};
	ferry_sim_model_set_faults(sim_local_model(r.dev[2]), &fault);
	int fd = -1;
	EXPECT(r.dev[2]->ops->set_state(r.dev[2], FERRY_MIG_STOP, &fd) < 0);
	uint32_t state = 0;
	EXPECT_EQ_INT(r.dev[2]->ops->get_state(r.dev[2], &state), 0);
	EXPECT_EQ_INT(state, FERRY_MIG_ERROR);
	Ferry__V1__Device want = source_device("src-a"), *wants[] = {&want};
	struct ferry_mig_device_binding *b = NULL;
	char err[1024] = "";
	/* x comes first but holds a saving session: y, stopped, is the one to resume into. */
	EXPECT_EQ_INT(ferry_mig_device_binding_destination(&r, "vm1", wants, 1, NULL, &b, err, sizeof err), 0);
	EXPECT(b != NULL);
	if (b) {
		EXPECT_EQ_STR(b->set.names[0], "y");
		free(b);
	}
	/* y busy: x and z are twins, neither idle; the reason names both and their states. */
	bool busy[FERRY_MAX_DEVICES] = {false};
	busy[1] = true;
	b = NULL;
	EXPECT_EQ_INT(ferry_mig_device_binding_destination(&r, "vm1", wants, 1, busy, &b, err, sizeof err), -ENODEV);
	EXPECT(b == NULL);
	EXPECT(strstr(err, "source device src-a") != NULL);
	EXPECT(strstr(err, "device x is in PRE_COPY, device z is in ERROR") != NULL);
	/* The refusal left both where they were. */
	EXPECT_EQ_INT(r.dev[0]->ops->get_state(r.dev[0], &state), 0);
	EXPECT_EQ_INT(state, FERRY_MIG_PRE_COPY);
	close_all(&r);
}
