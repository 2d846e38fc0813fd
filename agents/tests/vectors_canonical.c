/* Canonical values of proto/vectors/README.md, one builder per frame. Each builds its message on
 * the stack and encodes it with the codec under test, so the written files are what the agent
 * really sends. Keep this table and the README in step. */
#include "vectors_canonical.h"

#include <stdint.h>

#include "crc32c.h"
#include "ferry.pb-c.h"
#include "wire.h"

#define T(name) FERRY__V1__FRAME_TYPE__FRAME_TYPE_##name

static uint8_t token_bytes[] = {0x00, 0x01, 0x02, 0xfe, 0xff};

static int encode(unsigned type, const void *msg, const void *payload, uint32_t payload_len, uint8_t **out,
		  size_t *out_len)
{
	return ferry_wire_encode(type, msg, payload, payload_len, out, out_len);
}

static int encode_hello(uint8_t **out, size_t *out_len)
{
	Ferry__V1__Hello m = FERRY__V1__HELLO__INIT;
	m.protocol_version = 1;
	m.min_protocol_version = 1;
	m.host_id = "h\xc3\xb4te-\xce\xb1"; /* "hôte-α" */
	m.agent_version = "0.1.0";
	m.boot_id = "b00t-1234";
	m.sent_at_unix_ns = 1764000000123456789;
	return encode(T(HELLO), &m, NULL, 0, out, out_len);
}

static int encode_welcome(uint8_t **out, size_t *out_len)
{
	Ferry__V1__Welcome m = FERRY__V1__WELCOME__INIT;
	m.protocol_version = 1;
	m.coordinator_id = "ferryd-test";
	m.heartbeat_interval_ms = 1000;
	m.heartbeat_miss_limit = 3;
	m.server_time_unix_ns = INT64_MIN;
	return encode(T(WELCOME), &m, NULL, 0, out, out_len);
}

static int encode_error(uint8_t **out, size_t *out_len)
{
	Ferry__V1__Error m = FERRY__V1__ERROR__INIT;
	m.code = FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION;
	m.message = "agent speaks 2..3, ferryd speaks 1..1";
	m.migration_id = "m-1";
	m.command_seq = UINT64_MAX;
	return encode(T(ERROR), &m, NULL, 0, out, out_len);
}

static int encode_heartbeat(uint8_t **out, size_t *out_len)
{
	Ferry__V1__Heartbeat m = FERRY__V1__HEARTBEAT__INIT;
	m.seq = 42;
	m.sent_at_unix_ns = 1764000000000000000;
	m.free_memory_bytes = 17179869184u;
	m.active_migrations = 2;
	return encode(T(HEARTBEAT), &m, NULL, 0, out, out_len);
}

/* The `sim0` device of inventory.frame, also carried by command.frame. */
static void sim0_device(Ferry__V1__Device *d)
{
	ferry__v1__device__init(d);
	d->id = "sim0";
	d->backend = FERRY__V1__DEVICE_BACKEND__DEVICE_BACKEND_SIM;
	d->vendor_id = 0x15b3;
	d->device_id = 0x101e;
	d->driver = "ferry-sim";
	d->migration_flags = 7;
	d->dma_logging = 1;
	d->saving_layout_handshake = 1;
	d->migration_version = "ferry-sim/1";
	d->vm_id = "vm-1";
	d->state = FERRY__V1__DEVICE_STATE__DEVICE_STATE_RUNNING;
	d->stop_copy_bytes = 67108864;
}

static int encode_inventory(uint8_t **out, size_t *out_len)
{
	Ferry__V1__Device sim0, ice;
	sim0_device(&sim0);
	ferry__v1__device__init(&ice);
	ice.id = "0000:3b:00.1";
	ice.backend = FERRY__V1__DEVICE_BACKEND__DEVICE_BACKEND_VFIO;
	ice.vendor_id = 0x8086;
	ice.device_id = 0x1889;
	ice.driver = "ice-vfio-pci";
	ice.migration_flags = 3;
	ice.migration_version = "ice/2";
	ice.state = FERRY__V1__DEVICE_STATE__DEVICE_STATE_STOP;
	Ferry__V1__Device *devices[] = {&sim0, &ice};

	char *vm_devices[] = {"sim0"};
	Ferry__V1__Vm vm = FERRY__V1__VM__INIT;
	vm.vm_id = "vm-1";
	vm.ram_bytes = 268435456;
	vm.vcpus = 2;
	vm.n_device_ids = 1;
	vm.device_ids = vm_devices;
	vm.state = FERRY__V1__VM_STATE__VM_STATE_RUNNING;
	vm.dirty_rate_bytes_per_sec = 52428800;
	vm.pid = 4242;
	Ferry__V1__Vm *vms[] = {&vm};

	Ferry__V1__Inventory m = FERRY__V1__INVENTORY__INIT;
	m.host_id = "host-a";
	m.cpu_count = 2;
	m.memory_bytes = 25769803776u;
	m.free_memory_bytes = 20000000000u;
	m.agent_version = "0.1.0";
	m.kernel_release = "6.18.44";
	m.data_address = "10.0.0.1:7100";
	m.n_devices = 2;
	m.devices = devices;
	m.n_vms = 1;
	m.vms = vms;
	return encode(T(INVENTORY), &m, NULL, 0, out, out_len);
}

static int encode_command(uint8_t **out, size_t *out_len)
{
	Ferry__V1__Device sim0;
	sim0_device(&sim0);
	Ferry__V1__Device *devices[] = {&sim0};
	Ferry__V1__PrepareDestination prep = FERRY__V1__PREPARE_DESTINATION__INIT;
	prep.vm_id = "vm-1";
	prep.source_host_id = "host-a";
	prep.ram_bytes = 268435456;
	prep.n_devices = 1;
	prep.devices = devices;
	prep.token.data = token_bytes;
	prep.token.len = sizeof token_bytes;
	prep.channels = 4;

	Ferry__V1__Command m = FERRY__V1__COMMAND__INIT;
	m.migration_id = "m-7";
	m.seq = 3;
	m.body_case = FERRY__V1__COMMAND__BODY_PREPARE_DESTINATION;
	m.prepare_destination = &prep;
	return encode(T(COMMAND), &m, NULL, 0, out, out_len);
}

static int encode_command_result(uint8_t **out, size_t *out_len)
{
	Ferry__V1__Error err = FERRY__V1__ERROR__INIT;
	err.code = FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE;
	err.message = "sim0: STOP_COPY refused (EINVAL)";
	Ferry__V1__CommandResult m = FERRY__V1__COMMAND_RESULT__INIT;
	m.migration_id = "m-7";
	m.seq = 3;
	m.error = &err;
	m.data_address = "10.0.0.2:7100";
	return encode(T(COMMAND_RESULT), &m, NULL, 0, out, out_len);
}

static int encode_progress(uint8_t **out, size_t *out_len)
{
	Ferry__V1__DeviceProgress dev = FERRY__V1__DEVICE_PROGRESS__INIT;
	dev.device_id = "sim0";
	dev.state = FERRY__V1__DEVICE_STATE__DEVICE_STATE_PRE_COPY;
	dev.precopy_initial_bytes = 0;
	dev.precopy_dirty_bytes = 4096;
	dev.stop_copy_bytes = 67108864;
	dev.bytes_sent = 1048576;
	Ferry__V1__DeviceProgress *devices[] = {&dev};

	Ferry__V1__Progress m = FERRY__V1__PROGRESS__INIT;
	m.migration_id = "m-7";
	m.vm_id = "vm-1";
	m.role = FERRY__V1__MIGRATION_ROLE__MIGRATION_ROLE_SOURCE;
	m.phase = FERRY__V1__AGENT_PHASE__AGENT_PHASE_PRECOPY;
	m.round = 5;
	m.ram_bytes_sent = 1073741824;
	m.device_bytes_sent = 1048576;
	m.pages_dirtied = 1234;
	m.dirty_bytes_remaining = 5054464;
	m.dirty_rate_bytes_per_sec = 52428800;
	m.bandwidth_bytes_per_sec = 1200000000;
	m.expected_downtime_us = 4212;
	m.n_devices = 1;
	m.devices = devices;
	m.sent_at_unix_ns = 1764000000999999999;
	return encode(T(PROGRESS), &m, NULL, 0, out, out_len);
}

static int encode_event(uint8_t **out, size_t *out_len)
{
	Ferry__V1__Attribute round = FERRY__V1__ATTRIBUTE__INIT, pages = FERRY__V1__ATTRIBUTE__INIT;
	round.key = "round";
	round.value = "5";
	pages.key = "pages";
	pages.value = "1234";
	Ferry__V1__Attribute *attributes[] = {&round, &pages};

	Ferry__V1__Event m = FERRY__V1__EVENT__INIT;
	m.migration_id = "m-7";
	m.kind = "round_ended";
	m.message = "round 5: 1234 pages";
	m.at_unix_ns = 1764000001000000000;
	m.n_attributes = 2;
	m.attributes = attributes;
	return encode(T(EVENT), &m, NULL, 0, out, out_len);
}

static int encode_stream_hello(uint8_t **out, size_t *out_len)
{
	Ferry__V1__StreamHello m = FERRY__V1__STREAM_HELLO__INIT;
	m.protocol_version = 1;
	m.migration_id = "m-7";
	m.token.data = token_bytes;
	m.token.len = sizeof token_bytes;
	m.channel_index = 1;
	m.channel_count = 4;
	m.page_size = 4096;
	m.ram_bytes = 268435456;
	return encode(T(STREAM_HELLO), &m, NULL, 0, out, out_len);
}

static int encode_stream_welcome(uint8_t **out, size_t *out_len)
{
	Ferry__V1__StreamWelcome m = FERRY__V1__STREAM_WELCOME__INIT;
	m.protocol_version = 1;
	m.channel_index = 1;
	return encode(T(STREAM_WELCOME), &m, NULL, 0, out, out_len);
}

static int encode_page_batch(uint8_t **out, size_t *out_len)
{
	static uint8_t pages[3 * 4096];
	for (size_t i = 0; i < sizeof pages; i++)
		pages[i] = (uint8_t)((i * 7 + 3) % 256);
	Ferry__V1__PageRun a = FERRY__V1__PAGE_RUN__INIT, b = FERRY__V1__PAGE_RUN__INIT, c = FERRY__V1__PAGE_RUN__INIT;
	a.first_page = 10;
	a.count = 2;
	b.first_page = 100;
	b.count = 3;
	b.zero = 1;
	c.first_page = 65535;
	c.count = 1;
	Ferry__V1__PageRun *runs[] = {&a, &b, &c};

	Ferry__V1__PageBatch m = FERRY__V1__PAGE_BATCH__INIT;
	m.round = 2;
	m.batch_seq = 9;
	m.n_runs = 3;
	m.runs = runs;
	uint32_t crcs[3];
	for (size_t i = 0; i < 3; i++)
		crcs[i] = ferry_crc32c(0, pages + i * 4096, 4096);
	m.n_page_crc32c = 3;
	m.page_crc32c = crcs;
	return encode(T(PAGE_BATCH), &m, pages, sizeof pages, out, out_len);
}

static int encode_device_chunk(uint8_t **out, size_t *out_len)
{
	uint8_t data[100];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(255 - i);
	Ferry__V1__DeviceChunk m = FERRY__V1__DEVICE_CHUNK__INIT;
	m.device_id = "sim0";
	m.round = 2;
	m.offset = 4096;
	m.stop_copy = 1;
	m.end_of_stream = 1;
	m.payload_crc32c = ferry_crc32c(0, data, sizeof data);
	return encode(T(DEVICE_CHUNK), &m, data, sizeof data, out, out_len);
}

static int encode_end_of_round(uint8_t **out, size_t *out_len)
{
	Ferry__V1__EndOfRound m = FERRY__V1__END_OF_ROUND__INIT;
	m.round = 2;
	m.channel_index = 1;
	m.batches = 9;
	m.pages = 65536;
	m.zero_pages = 100;
	m.device_bytes = 4196;
	m.final = 1;
	return encode(T(END_OF_ROUND), &m, NULL, 0, out, out_len);
}

static int encode_round_ack(uint8_t **out, size_t *out_len)
{
	Ferry__V1__RoundAck m = FERRY__V1__ROUND_ACK__INIT;
	m.round = 2;
	m.channel_index = 1;
	m.batches = 9;
	m.pages = 65536;
	return encode(T(ROUND_ACK), &m, NULL, 0, out, out_len);
}

static int encode_resume_confirm(uint8_t **out, size_t *out_len)
{
	Ferry__V1__ResumeConfirm m = FERRY__V1__RESUME_CONFIRM__INIT;
	m.vcpu_start_unix_ns = 1764000002000000000;
	m.memory_verified = 1;
	m.pages_verified = 65536;
	return encode(T(RESUME_CONFIRM), &m, NULL, 0, out, out_len);
}

static int encode_vcpu_state(uint8_t **out, size_t *out_len)
{
	static const uint8_t state[] = {'F', 'W', 'V', 'C', 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xAB, 0xCD};
	Ferry__V1__VcpuState m = FERRY__V1__VCPU_STATE__INIT;
	m.vcpus = 2;
	m.state.data = (uint8_t *)state;
	m.state.len = sizeof state;
	m.state_crc32c = ferry_crc32c(0, state, sizeof state);
	return encode(T(VCPU_STATE), &m, NULL, 0, out, out_len);
}

const struct ferry_vector ferry_vectors[FERRY_VECTOR_COUNT] = {
	{"hello.frame", T(HELLO), encode_hello},
	{"welcome.frame", T(WELCOME), encode_welcome},
	{"error.frame", T(ERROR), encode_error},
	{"heartbeat.frame", T(HEARTBEAT), encode_heartbeat},
	{"inventory.frame", T(INVENTORY), encode_inventory},
	{"command.frame", T(COMMAND), encode_command},
	{"command_result.frame", T(COMMAND_RESULT), encode_command_result},
	{"progress.frame", T(PROGRESS), encode_progress},
	{"event.frame", T(EVENT), encode_event},
	{"stream_hello.frame", T(STREAM_HELLO), encode_stream_hello},
	{"stream_welcome.frame", T(STREAM_WELCOME), encode_stream_welcome},
	{"page_batch.frame", T(PAGE_BATCH), encode_page_batch},
	{"device_chunk.frame", T(DEVICE_CHUNK), encode_device_chunk},
	{"end_of_round.frame", T(END_OF_ROUND), encode_end_of_round},
	{"round_ack.frame", T(ROUND_ACK), encode_round_ack},
	{"resume_confirm.frame", T(RESUME_CONFIRM), encode_resume_confirm},
	{"vcpu_state.frame", T(VCPU_STATE), encode_vcpu_state},
};
