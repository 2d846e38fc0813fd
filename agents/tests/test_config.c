/* Agent config file: the example files parse to exactly their values; every error names
 * FILE:LINE, the key and the reason. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

static struct ferry_agent_config cfg;
static char err[512];

/* Parses text expected to be invalid; returns the error ("(parsed)" if it was accepted). */
static const char *parse_error(const char *text)
{
	err[0] = '\0';
	if (ferry_config_parse(text, "t.conf", &cfg, err, sizeof err) == 0)
		return "(parsed)";
	return err;
}

/* A device section body with every required key, for tests that break one more thing. */
#define DEV_KEYS                                                                                   \
	"backend = sim\nvendor_id = 1\ndevice_id = 2\ndriver = d\nmigration = stop_copy\n"          \
	"migration_version = v\n"

static void load_example(const char *file)
{
	const char *repo = getenv("FERRY_REPO");
	char path[1024];
	EXPECT(repo != NULL);
	snprintf(path, sizeof path, "%s/agents/examples/%s", repo ? repo : ".", file);
	int rc = ferry_config_load(path, &cfg, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "  %s\n", err);
	EXPECT_EQ_INT(rc, 0);
}

#define EXPECT_SIM_DEVICE(d, name_, devid, flags, vm_, bytes)                                      \
	do {                                                                                       \
		EXPECT_EQ_STR((d)->name, name_);                                                   \
		EXPECT_EQ_INT((d)->backend, FERRY_BACKEND_SIM);                                    \
		EXPECT_EQ_INT((d)->vendor_id, 0x1af4);                                             \
		EXPECT_EQ_INT((d)->device_id, devid);                                              \
		EXPECT_EQ_STR((d)->driver, "ferry-sim");                                           \
		EXPECT_EQ_INT((d)->migration_flags, flags);                                        \
		EXPECT_EQ_STR((d)->migration_version, "ferry-sim/1");                              \
		EXPECT_EQ_STR((d)->vm_id, vm_);                                                    \
		EXPECT_EQ_U64((d)->stop_copy_bytes, bytes);                                        \
		EXPECT_EQ_INT((d)->state, 0);                                                      \
	} while (0)

FERRY_TEST(config_example_host_a)
{
	load_example("host-a.conf");
	EXPECT_EQ_STR(cfg.host_id, "");
	EXPECT_EQ_STR(cfg.coordinator, "");
	EXPECT_EQ_STR(cfg.data_listen, "");
	EXPECT_EQ_STR(cfg.log_level, "");
	EXPECT_EQ_INT(cfg.n_devices, 3);
	EXPECT_SIM_DEVICE(&cfg.devices[0], "sim-a0", 0x1041, 7, "vm-1", 64ull << 20);
	EXPECT_SIM_DEVICE(&cfg.devices[1], "sim-a1", 0x1041, 7, "vm-1", 16ull << 20);
	EXPECT_SIM_DEVICE(&cfg.devices[2], "sim-a2", 0x1042, 5, "vm-2", 8ull << 20);
	for (int i = 0; i < 3; i++) {
		EXPECT(cfg.devices[i].dma_logging);
		EXPECT(!cfg.devices[i].saving_layout_handshake);
	}
}

/* Hosts B and C carry twins of host A's three devices, free (no vm), so either can receive either VM. */
static void expect_receiver(const char *file, char h)
{
	load_example(file);
	char name[3][24];
	for (int i = 0; i < 3; i++)
		snprintf(name[i], sizeof name[i], "sim-%c%d", h, i);
	EXPECT_EQ_STR(cfg.host_id, "");
	EXPECT_EQ_INT(cfg.n_devices, 3);
	EXPECT_SIM_DEVICE(&cfg.devices[0], name[0], 0x1041, 7, "", 64ull << 20);
	EXPECT_SIM_DEVICE(&cfg.devices[1], name[1], 0x1041, 7, "", 16ull << 20);
	EXPECT_SIM_DEVICE(&cfg.devices[2], name[2], 0x1042, 5, "", 8ull << 20);
	for (int i = 0; i < 3; i++) {
		EXPECT(cfg.devices[i].dma_logging);
		EXPECT(!cfg.devices[i].saving_layout_handshake);
	}
}

FERRY_TEST(config_example_host_b)
{
	expect_receiver("host-b.conf", 'b');
}

FERRY_TEST(config_example_host_c)
{
	expect_receiver("host-c.conf", 'c');
}

FERRY_TEST(config_example_documented)
{
	load_example("ferry-agent.conf");
	EXPECT_EQ_STR(cfg.host_id, "host-a");
	EXPECT_EQ_STR(cfg.coordinator, "127.0.0.1:7100");
	EXPECT_EQ_STR(cfg.data_listen, "0.0.0.0:7101");
	EXPECT_EQ_STR(cfg.log_level, "info");
	EXPECT_EQ_INT(cfg.n_devices, 3);
	EXPECT_SIM_DEVICE(&cfg.devices[0], "sim0", 0x1041, 7, "vm-1", 64ull << 20);
	EXPECT_EQ_U64(cfg.devices[0].sim.seed, 0x5eed);
	EXPECT_EQ_STR(cfg.devices[2].address, "cdev=/dev/vfio/devices/vfio3,pci=0000:3b:00.1");
	EXPECT_EQ_INT(cfg.devices[2].backend, FERRY_BACKEND_VFIO);
	EXPECT(cfg.devices[0].dma_logging);
	EXPECT(!cfg.devices[0].saving_layout_handshake);
	EXPECT_SIM_DEVICE(&cfg.devices[1], "sim1", 0x1042, 5, "", 512ull << 10);
	EXPECT(!cfg.devices[1].dma_logging);
	EXPECT(!cfg.devices[1].saving_layout_handshake);
}

FERRY_TEST(config_syntax_comments_crlf_and_last_line)
{
	const char *text = "  # leading comment\r\n"
			   "host_id = h#1   # '#' inside a value is kept, after a blank it starts a comment\r\n"
			   "\r\n"
			   "[ device  0000:3b:00.1 ]   # header comment\r\n"
			   "backend=vfio\r\n"
			   "vendor_id = 32902\n"
			   "device_id = 0X1889\n"
			   "driver = ice-vfio-pci\n"
			   "migration = p2p , stop_copy\n"
			   "saving_layout_handshake = true\n"
			   "migration_version = ice/2\n"
			   "stop_copy_bytes = 3 G"; /* no final newline */
	int rc = ferry_config_parse(text, "t.conf", &cfg, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "  %s\n", err);
	EXPECT_EQ_INT(rc, 0);
	EXPECT_EQ_STR(cfg.host_id, "h#1");
	EXPECT_EQ_INT(cfg.n_devices, 1);
	const struct ferry_device_info *d = &cfg.devices[0];
	EXPECT_EQ_STR(d->name, "0000:3b:00.1");
	EXPECT_EQ_INT(d->backend, FERRY_BACKEND_VFIO);
	EXPECT_EQ_INT(d->vendor_id, 0x8086);
	EXPECT_EQ_INT(d->device_id, 0x1889);
	EXPECT_EQ_STR(d->driver, "ice-vfio-pci");
	EXPECT_EQ_INT(d->migration_flags, FERRY_MIGRATION_STOP_COPY | FERRY_MIGRATION_P2P);
	EXPECT(!d->dma_logging);
	EXPECT(d->saving_layout_handshake);
	EXPECT_EQ_STR(d->migration_version, "ice/2");
	EXPECT_EQ_STR(d->vm_id, "");
	EXPECT_EQ_U64(d->stop_copy_bytes, 3ull << 30);
}

FERRY_TEST(config_empty_text_is_an_empty_config)
{
	EXPECT_EQ_INT(ferry_config_parse("", "t.conf", &cfg, err, sizeof err), 0);
	EXPECT_EQ_INT(cfg.n_devices, 0);
	EXPECT_EQ_STR(cfg.host_id, "");
}

FERRY_TEST(config_size_units)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{"0", 0},
		{"4096", 4096},
		{"7B", 7},
		{"2KiB", 2048},
		{"2K", 2048},
		{"5 MiB", 5ull << 20},
		{"5M", 5ull << 20},
		{"1GiB", 1ull << 30},
		{"16777215TiB", 16777215ull << 40},
		{"1T", 1ull << 40},
		{"18446744073709551615", UINT64_MAX},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[256];
		snprintf(text, sizeof text, "[device d]\n" DEV_KEYS "stop_copy_bytes = %s\n", cases[i].text);
		EXPECT_EQ_STR(parse_error(text), "(parsed)");
		EXPECT_EQ_U64(cfg.devices[0].stop_copy_bytes, cases[i].bytes);
	}
}

FERRY_TEST(config_error_unknown_key)
{
	EXPECT_EQ_STR(parse_error("hostid = a\n"), "t.conf:1: hostid: unknown key");
	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "colour = red\n"), "t.conf:8: colour: unknown key");
}

FERRY_TEST(config_error_bad_number)
{
	EXPECT_EQ_STR(parse_error("[device d]\nvendor_id = 0xzz\n"),
		      "t.conf:2: vendor_id: bad number '0xzz' (expected hex 0x.. or decimal)");
	EXPECT_EQ_STR(parse_error("[device d]\ndevice_id = 0x\n"),
		      "t.conf:2: device_id: bad number '0x' (expected hex 0x.. or decimal)");
	EXPECT_EQ_STR(parse_error("[device d]\ndevice_id = -1\n"),
		      "t.conf:2: device_id: bad number '-1' (expected hex 0x.. or decimal)");
	EXPECT_EQ_STR(parse_error("[device d]\nstop_copy_bytes = MiB\n"),
		      "t.conf:2: stop_copy_bytes: bad number 'MiB' (expected digits and an optional unit)");
	EXPECT_EQ_STR(parse_error("[device d]\nstop_copy_bytes = -5MiB\n"),
		      "t.conf:2: stop_copy_bytes: negative size '-5MiB'");
}

FERRY_TEST(config_error_bad_unit)
{
	EXPECT_EQ_STR(parse_error("[device d]\nstop_copy_bytes = 5XB\n"),
		      "t.conf:2: stop_copy_bytes: bad unit 'XB' (expected B, KiB, MiB, GiB or TiB)");
	EXPECT_EQ_STR(parse_error("[device d]\nstop_copy_bytes = 5 mib\n"),
		      "t.conf:2: stop_copy_bytes: bad unit 'mib' (expected B, KiB, MiB, GiB or TiB)");
	EXPECT_EQ_STR(parse_error("[device d]\nstop_copy_bytes = 12abc\n"),
		      "t.conf:2: stop_copy_bytes: bad unit 'abc' (expected B, KiB, MiB, GiB or TiB)");
}

FERRY_TEST(config_error_value_out_of_range)
{
	EXPECT_EQ_STR(parse_error("[device d]\nvendor_id = 0x10000\n"),
		      "t.conf:2: vendor_id: value out of range (max 0xffff)");
	EXPECT_EQ_STR(parse_error("[device d]\ndevice_id = 65536\n"),
		      "t.conf:2: device_id: value out of range (max 0xffff)");
	EXPECT_EQ_STR(parse_error("[device d]\nstop_copy_bytes = 18446744073709551616\n"),
		      "t.conf:2: stop_copy_bytes: value out of range (more than 2^64-1 bytes)");
	EXPECT_EQ_STR(parse_error("[device d]\nstop_copy_bytes = 16777216TiB\n"),
		      "t.conf:2: stop_copy_bytes: value out of range (more than 2^64-1 bytes)");
	EXPECT_EQ_STR(parse_error("coordinator = ferryd:0\n"), "t.conf:1: coordinator: port out of range (1..65535)");
	EXPECT_EQ_STR(parse_error("data_listen = [::1]:65536\n"), "t.conf:1: data_listen: port out of range (0..65535)");
}

FERRY_TEST(config_error_missing_required_key_names_the_section_line)
{
	/* Reported on the header line, whether the section ends at the next header or at EOF. */
	EXPECT_EQ_STR(parse_error("\n[device d]\nbackend = sim\nvendor_id = 1\ndevice_id = 2\nmigration = "
				  "stop_copy\nmigration_version = v\n[device e]\n" DEV_KEYS),
		      "t.conf:2: driver: required key is missing in [device d]");
	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "[device e]\nbackend = sim\n"),
		      "t.conf:8: vendor_id: required key is missing in [device e]");
	EXPECT_EQ_STR(parse_error("[device d]\nbackend = sim\nvendor_id = 1\ndevice_id = 2\ndriver = d\n"
				  "migration = stop_copy\n"),
		      "t.conf:1: migration_version: required key is missing in [device d]");
	EXPECT_EQ_STR(parse_error("[device d]\n"), "t.conf:1: backend: required key is missing in [device d]");
}

FERRY_TEST(config_error_duplicate_device_name)
{
	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "\n[device d]\n" DEV_KEYS),
		      "t.conf:9: [device d]: duplicate device name (first on line 1)");
}

FERRY_TEST(config_error_duplicate_key)
{
	EXPECT_EQ_STR(parse_error("[device d]\nbackend = sim\nbackend = vfio\n"),
		      "t.conf:3: backend: duplicate key (first set on line 2)");
	EXPECT_EQ_STR(parse_error("host_id = a\n# again\nhost_id = b\n"),
		      "t.conf:3: host_id: duplicate key (first set on line 1)");
	/* The same key in two different sections is fine. */
	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "[device e]\n" DEV_KEYS), "(parsed)");
	EXPECT_EQ_INT(cfg.n_devices, 2);
}

FERRY_TEST(config_error_device_key_outside_section)
{
	EXPECT_EQ_STR(parse_error("host_id = a\nbackend = sim\n"),
		      "t.conf:2: backend: device key outside any [device NAME] section");
}

FERRY_TEST(config_error_top_level_key_inside_section)
{
	EXPECT_EQ_STR(parse_error("[device d]\nhost_id = a\n"),
		      "t.conf:2: host_id: top-level key inside [device d] (top-level keys go before the first "
		      "section)");
}

FERRY_TEST(config_error_line_without_equals)
{
	EXPECT_EQ_STR(parse_error("[device d]\nbackend sim\n"),
		      "t.conf:2: backend sim: expected 'key = value' or '[device NAME]'");
	EXPECT_EQ_STR(parse_error("= sim\n"), "t.conf:1: = sim: missing key before '='");
}

/* n complete device sections d0, d1, ...: 7 lines each. */
static const char *devices_text(int n)
{
	static char text[(FERRY_MAX_DEVICES + 1) * 160];
	size_t len = 0;
	text[0] = '\0';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "[device d%d]\n" DEV_KEYS, i);
	return text;
}

FERRY_TEST(config_error_too_many_devices)
{
	/* The 65th header is on line 64 * 7 + 1. */
	EXPECT_EQ_STR(parse_error(devices_text(FERRY_MAX_DEVICES + 1)),
		      "t.conf:449: [device d64]: too many devices (max 64)");
	EXPECT_EQ_STR(parse_error(devices_text(FERRY_MAX_DEVICES)), "(parsed)");
	EXPECT_EQ_INT(cfg.n_devices, FERRY_MAX_DEVICES);
	EXPECT_EQ_STR(cfg.devices[FERRY_MAX_DEVICES - 1].name, "d63");
}

FERRY_TEST(config_error_value_too_long)
{
	char text[1024];
	char long_value[200];
	memset(long_value, 'x', sizeof long_value);
	long_value[64] = '\0'; /* driver holds 63 bytes */
	snprintf(text, sizeof text, "[device d]\ndriver = %s\n", long_value);
	EXPECT_EQ_STR(parse_error(text), "t.conf:2: driver: value is longer than 63 bytes");
	long_value[63] = '\0';
	snprintf(text, sizeof text, "[device d]\n" DEV_KEYS "vm = %s\n", long_value);
	EXPECT_EQ_STR(parse_error(text), "(parsed)");
	memset(long_value, 'h', sizeof long_value);
	long_value[128] = '\0';
	snprintf(text, sizeof text, "host_id = %s\n", long_value);
	EXPECT_EQ_STR(parse_error(text), "t.conf:1: host_id: value is longer than 127 bytes");
	long_value[64] = '\0';
	snprintf(text, sizeof text, "[device %s]\n", long_value);
	/* Errors quote at most 64 bytes of the key: here "[device " and 56 of the name's bytes. */
	char want[256];
	snprintf(want, sizeof want, "t.conf:1: [device %.56s: device name is longer than 63 bytes", long_value);
	EXPECT_EQ_STR(parse_error(text), want);
}

FERRY_TEST(config_error_bad_enumerated_values)
{
	EXPECT_EQ_STR(parse_error("log_level = verbose\n"),
		      "t.conf:1: log_level: expected trace, debug, info, warning or error, not 'verbose'");
	EXPECT_EQ_STR(parse_error("[device d]\nbackend = qemu\n"), "t.conf:2: backend: expected sim or vfio, not 'qemu'");
	EXPECT_EQ_STR(parse_error("[device d]\ndma_logging = yes\n"),
		      "t.conf:2: dma_logging: expected true or false, not 'yes'");
	EXPECT_EQ_STR(parse_error("[device d]\nsaving_layout_handshake = 1\n"),
		      "t.conf:2: saving_layout_handshake: expected true or false, not '1'");
}

FERRY_TEST(config_error_migration_list)
{
	EXPECT_EQ_STR(parse_error("[device d]\nmigration = p2p,pre_copy\n"),
		      "t.conf:2: migration: stop_copy is required (the kernel requires it of every migratable device)");
	EXPECT_EQ_STR(parse_error("[device d]\nmigration = stop_copy,dirty\n"),
		      "t.conf:2: migration: unknown capability 'dirty' (expected stop_copy, p2p, pre_copy)");
	EXPECT_EQ_STR(parse_error("[device d]\nmigration = stop_copy, p2p, p2p\n"),
		      "t.conf:2: migration: capability 'p2p' is listed twice");
	EXPECT_EQ_STR(parse_error("[device d]\nmigration = stop_copy,,p2p\n"),
		      "t.conf:2: migration: empty item in the capability list");
}

FERRY_TEST(config_error_host_port)
{
	EXPECT_EQ_STR(parse_error("coordinator = ferryd\n"), "t.conf:1: coordinator: expected HOST:PORT, not 'ferryd'");
	EXPECT_EQ_STR(parse_error("coordinator = :7100\n"), "t.conf:1: coordinator: expected HOST:PORT, not ':7100'");
	EXPECT_EQ_STR(parse_error("coordinator = ::1:7100\n"),
		      "t.conf:1: coordinator: expected HOST:PORT with an IPv6 host in brackets, not '::1:7100'");
	EXPECT_EQ_STR(parse_error("data_listen = 0.0.0.0:71o1\n"), "t.conf:1: data_listen: bad port '71o1'");
	EXPECT_EQ_STR(parse_error("coordinator = [::1]:7100\ndata_listen = 0.0.0.0:0\n"), "(parsed)");
	EXPECT_EQ_STR(cfg.coordinator, "[::1]:7100");
	EXPECT_EQ_STR(cfg.data_listen, "0.0.0.0:0");
}

FERRY_TEST(config_error_empty_value)
{
	EXPECT_EQ_STR(parse_error("[device d]\nvm =\n"), "t.conf:2: vm: value is empty");
	EXPECT_EQ_STR(parse_error("host_id =   # nothing\n"), "t.conf:1: host_id: value is empty");
}

FERRY_TEST(config_error_section_headers)
{
	EXPECT_EQ_STR(parse_error("[device d\n"), "t.conf:1: [device d: section header is missing ']'");
	EXPECT_EQ_STR(parse_error("[device]\n"), "t.conf:1: [device]: section needs a name: [device NAME]");
	EXPECT_EQ_STR(parse_error("[host h]\n"), "t.conf:1: [host h]: unknown section (expected [device NAME])");
	EXPECT_EQ_STR(parse_error("[devices d]\n"), "t.conf:1: [devices d]: unknown section (expected [device NAME])");
	EXPECT_EQ_STR(parse_error("[device a b]\n"),
		      "t.conf:1: [device a b]: device name may only hold letters, digits and . _ : -");
}

FERRY_TEST(config_load_errors_name_the_file)
{
	EXPECT_EQ_INT(ferry_config_load("/nonexistent/ferry.conf", &cfg, err, sizeof err), -1);
	EXPECT_EQ_STR(err, "/nonexistent/ferry.conf: No such file or directory");

	char path[] = "/tmp/ferry-test-config-XXXXXX";
	int fd = mkstemp(path);
	EXPECT(fd >= 0);
	static const char bad[] = "[device d]\nbackend = sim\0junk";
	EXPECT_EQ_INT(write(fd, bad, sizeof bad - 1), (long)(sizeof bad - 1));
	close(fd);
	EXPECT_EQ_INT(ferry_config_load(path, &cfg, err, sizeof err), -1);
	char want[128];
	snprintf(want, sizeof want, "%s: file contains a NUL byte", path);
	EXPECT_EQ_STR(err, want);

	/* A parse error from a file is reported with the path as FILE. */
	fd = open(path, O_WRONLY | O_TRUNC);
	EXPECT(fd >= 0);
	static const char unknown[] = "\nport = 1\n";
	EXPECT_EQ_INT(write(fd, unknown, sizeof unknown - 1), (long)(sizeof unknown - 1));
	close(fd);
	EXPECT_EQ_INT(ferry_config_load(path, &cfg, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:2: port: unknown key", path);
	EXPECT_EQ_STR(err, want);
	unlink(path);
}

FERRY_TEST(config_sim_keys_with_units_and_backend_scope)
{
	EXPECT_EQ_INT(ferry_config_parse("sim_socket = /run/ferry/simdevd.sock\nsimdevd = /opt/ferry/ferry-simdevd\n"
					 "[device d]\n" DEV_KEYS "state_change_rate = 256 KiB/s\n"
					 "dma_write_rate = 0/s\nseed = 0x2A\n"
					 "[device v]\nbackend = vfio\nvendor_id = 1\ndevice_id = 2\ndriver = d\n"
					 "migration = stop_copy\nmigration_version = v\naddress = group=12,pci=0000:3b:00.1\n",
					 "t.conf", &cfg, err, sizeof err),
		      0);
	EXPECT_EQ_STR(cfg.sim_socket, "/run/ferry/simdevd.sock");
	EXPECT_EQ_STR(cfg.simdevd, "/opt/ferry/ferry-simdevd");
	const struct ferry_device_info *d = &cfg.devices[0];
	EXPECT(d->sim.has_change_rate && d->sim.has_dma_rate && d->sim.has_seed);
	EXPECT_EQ_U64(d->sim.change_rate, 256u << 10);
	EXPECT_EQ_U64(d->sim.dma_rate, 0);
	EXPECT_EQ_U64(d->sim.seed, 42);
	EXPECT_EQ_STR(cfg.devices[1].address, "group=12,pci=0000:3b:00.1");
	EXPECT(!cfg.devices[1].sim.has_seed);

	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "state_change_rate = 5MiB\n"),
		      "t.conf:8: state_change_rate: expected a rate such as '256KiB/s', not '5MiB'");
	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "dma_write_rate = 5XB/s\n"),
		      "t.conf:8: dma_write_rate: bad unit 'XB' (expected B, KiB, MiB, GiB or TiB)");
	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "seed = 0xZZ\n"),
		      "t.conf:8: seed: bad number '0xZZ' (expected hex 0x.. or decimal)");
	/* A sim key on a vfio device is named at its own line, even when backend comes later. */
	EXPECT_EQ_STR(parse_error("[device v]\nseed = 1\nbackend = vfio\nvendor_id = 1\ndevice_id = 2\ndriver = d\n"
				  "migration = stop_copy\nmigration_version = v\n[device w]\n" DEV_KEYS),
		      "t.conf:2: seed: only for backend = sim, and [device v] is vfio");
	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "address = group=1,pci=0000:00:01.0\n"),
		      "t.conf:8: address: only for backend = vfio, and [device d] is sim");
	EXPECT_EQ_STR(parse_error("sim_socket = run/sim.sock\n"), "t.conf:1: sim_socket: must be an absolute path");
	EXPECT_EQ_STR(parse_error("simdevd = ferry-simdevd\n"), "t.conf:1: simdevd: must be an absolute path");
}

FERRY_TEST(config_sim_dma_pattern_and_window)
{
	EXPECT_EQ_INT(ferry_config_parse("[device d]\n" DEV_KEYS "dma_pattern = selfcheck\ndma_offset = 32MiB\n"
					 "dma_length = 16 MiB\n[device e]\n" DEV_KEYS "dma_pattern = random\n",
					 "t.conf", &cfg, err, sizeof err),
		      0);
	EXPECT(cfg.devices[0].sim.dma_selfcheck);
	EXPECT_EQ_U64(cfg.devices[0].sim.dma_offset, 32u << 20);
	EXPECT_EQ_U64(cfg.devices[0].sim.dma_length, 16u << 20);
	EXPECT(!cfg.devices[1].sim.dma_selfcheck);
	EXPECT_EQ_U64(cfg.devices[1].sim.dma_offset, 0);
	EXPECT_EQ_U64(cfg.devices[1].sim.dma_length, 0);
	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "dma_pattern = packets\n"),
		      "t.conf:8: dma_pattern: expected random or selfcheck, not 'packets'");
	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "dma_offset = 6000\n"),
		      "t.conf:8: dma_offset: 6000 bytes is not a multiple of 4 KiB");
	EXPECT_EQ_STR(parse_error("[device d]\n" DEV_KEYS "dma_length = 1XB\n"),
		      "t.conf:8: dma_length: bad unit 'XB' (expected B, KiB, MiB, GiB or TiB)");
	EXPECT_EQ_STR(parse_error("[device v]\ndma_pattern = selfcheck\nbackend = vfio\nvendor_id = 1\ndevice_id = 2\n"
				  "driver = d\nmigration = stop_copy\nmigration_version = v\n"),
		      "t.conf:2: dma_pattern: only for backend = sim, and [device v] is vfio");
}
