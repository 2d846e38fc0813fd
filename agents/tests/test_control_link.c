/* The control link on a real loopback socket: the agent side (control_link.h) runs in a thread
 * with its own poll loop, a scripted ferryd (tests/test_peer.h) checks what it sends. */
#include "clock.h"
#include "control_link.h"
#include "ferry.pb-c.h"
#include "net.h"
#include "test.h"
#include "test_peer.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

static uint32_t zero_random(void *ctx)
{
	return 0; /* every retry delay at its low jitter edge: base * 0.8 */
}

struct agent_thread {
	struct ferry_control_link link;
	atomic_bool stop;
	Ferry__V1__Inventory inventory;
	Ferry__V1__Device devices[2];
	Ferry__V1__Device *device_ptrs[2];
	char data_address[64];
	int inventory_calls;
};

static const ProtobufCMessage *agent_inventory(void *ctx, int fd)
{
	struct agent_thread *a = ctx;
	a->inventory_calls++;
	/* Like main.c: the address ferryd sees us at is the control socket's local address. */
	if (ferry_net_local_address(fd, a->data_address, sizeof a->data_address) != 0)
		return NULL;
	a->inventory.data_address = a->data_address;
	return &a->inventory.base;
}

static uint64_t agent_free_memory(void *ctx)
{
	return 42u << 20;
}

static void *agent_main(void *arg)
{
	struct agent_thread *a = arg;
	ferry_control_link_start(&a->link, ferry_monotonic_ms());
	while (!atomic_load(&a->stop)) {
		struct pollfd p = {.fd = -1};
		p.fd = ferry_control_link_poll_fd(&a->link, &p.events);
		uint64_t now = ferry_monotonic_ms(), due = ferry_control_link_next_deadline(&a->link);
		int timeout = due <= now ? 0 : (due - now > 20 ? 20 : (int)(due - now)); /* 20: notice stop */
		int rc = poll(&p, 1, timeout);
		now = ferry_monotonic_ms();
		if (rc > 0)
			ferry_control_link_on_poll(&a->link, p.revents, now);
		ferry_control_link_on_timer(&a->link, now);
	}
	ferry_control_link_stop(&a->link);
	return NULL;
}

static void agent_setup(struct agent_thread *a, const char *coordinator)
{
	memset(a, 0, sizeof *a);
	ferry__v1__inventory__init(&a->inventory);
	a->inventory.host_id = "host-a";
	a->inventory.agent_version = "0.1.0";
	const char *names[2] = {"sim-a0", "sim-a1"};
	for (int i = 0; i < 2; i++) {
		ferry__v1__device__init(&a->devices[i]);
		a->devices[i].id = (char *)names[i];
		a->devices[i].backend = FERRY__V1__DEVICE_BACKEND__DEVICE_BACKEND_SIM;
		a->devices[i].driver = "ferry-sim";
		a->devices[i].migration_flags = 7;
		a->device_ptrs[i] = &a->devices[i];
	}
	a->inventory.n_devices = 2;
	a->inventory.devices = a->device_ptrs;
	struct ferry_control_link_host host = {agent_inventory, agent_free_memory, a};
	ferry_control_link_init(&a->link, coordinator, "host-a", "boot-42", "0.1.0", &host, zero_random, NULL);
}

FERRY_TEST(control_link_registers_heartbeats_and_backs_off_on_incompatible_version)
{
	struct test_peer peer;
	EXPECT_EQ_INT(test_peer_listen(&peer), 0);
	struct agent_thread *a = calloc(1, sizeof *a);
	agent_setup(a, peer.address);
	pthread_t th;
	pthread_create(&th, NULL, agent_main, a);

	/* 1. Hello with our identity, Welcome, Inventory with the devices, echoed heartbeats. */
	EXPECT_EQ_INT(test_peer_accept(&peer, 5000), 0);
	Ferry__V1__Hello *h = (Ferry__V1__Hello *)test_peer_expect(&peer, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO, 5000);
	EXPECT(h != NULL);
	if (h) {
		EXPECT_EQ_STR(h->host_id, "host-a");
		EXPECT_EQ_STR(h->boot_id, "boot-42");
		EXPECT_EQ_INT(h->protocol_version, 1);
		protobuf_c_message_free_unpacked(&h->base, NULL);
	}
	EXPECT_EQ_INT(test_peer_send_welcome(&peer, 1, 50, 3), 0);
	Ferry__V1__Inventory *inv =
		(Ferry__V1__Inventory *)test_peer_expect(&peer, FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY, 5000);
	EXPECT(inv != NULL);
	if (inv) {
		EXPECT_EQ_STR(inv->host_id, "host-a");
		EXPECT_EQ_INT(inv->n_devices, 2);
		if (inv->n_devices == 2) {
			EXPECT_EQ_STR(inv->devices[0]->id, "sim-a0");
			EXPECT_EQ_STR(inv->devices[1]->id, "sim-a1");
			EXPECT_EQ_INT(inv->devices[1]->migration_flags, 7);
		}
		EXPECT(strncmp(inv->data_address, "127.0.0.1:", 10) == 0);
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	}
	uint64_t last_seq = 0;
	for (int i = 0; i < 3; i++) {
		Ferry__V1__Heartbeat *hb =
			(Ferry__V1__Heartbeat *)test_peer_expect(&peer, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT, 5000);
		EXPECT(hb != NULL);
		if (!hb)
			break;
		EXPECT(hb->seq == last_seq + 1);
		EXPECT_EQ_U64(hb->free_memory_bytes, 42u << 20);
		last_seq = hb->seq;
		EXPECT_EQ_INT(test_peer_send(&peer, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT, &hb->base), 0);
		protobuf_c_message_free_unpacked(&hb->base, NULL);
	}

	/* 2. ferryd hangs up with INCOMPATIBLE_VERSION: the agent closes and dials again. */
	EXPECT_EQ_INT(test_peer_send_error(&peer, FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION,
					      "agent speaks 1..1, ferryd speaks 2..2"),
		      0);
	EXPECT_EQ_INT(test_peer_expect_closed(&peer, 5000), 0);
	test_peer_close_conn(&peer);
	EXPECT_EQ_INT(test_peer_accept(&peer, 5000), 0);
	h = (Ferry__V1__Hello *)test_peer_expect(&peer, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO, 5000);
	EXPECT(h != NULL);
	if (h)
		protobuf_c_message_free_unpacked(&h->base, NULL);
	/* And once more, so the backoff had to grow (no Welcome in between). */
	EXPECT_EQ_INT(test_peer_send_error(&peer, FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION, "no"), 0);
	EXPECT_EQ_INT(test_peer_expect_closed(&peer, 5000), 0);
	test_peer_close_conn(&peer);
	EXPECT_EQ_INT(test_peer_accept(&peer, 5000), 0);

	atomic_store(&a->stop, true);
	pthread_join(th, NULL);
	EXPECT_EQ_U64(a->link.ctl.welcomes, 1);
	EXPECT_EQ_U64(a->link.ctl.errors_received, 2);
	EXPECT_EQ_INT(a->link.ctl.last_error_code, FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION);
	/* Retry delays after the two errors: 100 ms then 200 ms bases, at the low jitter edge. */
	EXPECT_EQ_INT(a->link.ctl.last_retry_delay_ms, 160);
	EXPECT(a->link.ctl.last_echoed_seq >= 3);
	EXPECT_EQ_U64(a->link.ctl.connect_attempts, 3);
	test_peer_close(&peer);
	free(a);
}

FERRY_TEST(control_link_reconnects_when_the_coordinator_goes_silent)
{
	struct test_peer peer;
	EXPECT_EQ_INT(test_peer_listen(&peer), 0);
	struct agent_thread *a = calloc(1, sizeof *a);
	agent_setup(a, peer.address);
	pthread_t th;
	pthread_create(&th, NULL, agent_main, a);
	EXPECT_EQ_INT(test_peer_accept(&peer, 5000), 0);
	ProtobufCMessage *m = test_peer_expect(&peer, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO, 5000);
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	EXPECT_EQ_INT(test_peer_send_welcome(&peer, 1, 30, 2), 0);
	/* Never echo: after 2 silent intervals the agent must hang up and dial again. */
	EXPECT_EQ_INT(test_peer_expect_closed(&peer, 5000), 0);
	test_peer_close_conn(&peer);
	EXPECT_EQ_INT(test_peer_accept(&peer, 5000), 0);
	m = test_peer_expect(&peer, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO, 5000);
	EXPECT(m != NULL);
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	atomic_store(&a->stop, true);
	pthread_join(th, NULL);
	EXPECT_EQ_U64(a->link.ctl.welcomes, 1);
	EXPECT_EQ_U64(a->link.ctl.errors_received, 0);
	test_peer_close(&peer);
	free(a);
}
