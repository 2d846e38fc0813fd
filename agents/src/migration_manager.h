/*
 * The agent's migrations: Commands from the control link (through the command table, so repeats
 * return the recorded result), STREAM_HELLOs from the data listener, and the reports of the
 * migration threads turned into Progress frames. Lives on the event loop's thread.
 *
 * It also applies a source's vCPU throttle (auto-converge, migration_throttle.h) from the policy
 * of StartPrecopy and AdjustPolicy (a throttle_percent past 99 is refused: BAD_MESSAGE), turns it
 * off when the migration rolls back or the agent stops, and reports every change as an Event
 * "throttle_changed" {role, throttle_percent, previous_percent, reason (policy | rollback |
 * agent_stopping), result ("ok" or why the workload did not take it)}.
 */
#ifndef FERRY_MIGRATION_MANAGER_H
#define FERRY_MIGRATION_MANAGER_H

#include "ferry.pb-c.h"
#include "migration.h"
#include "migration_commands.h"
#include "device_registry.h"
#include "vm_listener.h"

#define FERRY_MAX_MIGRATIONS 16

struct ferry_migration_manager {
	struct ferry_command_table commands;
	struct ferry_migration migs[FERRY_MAX_MIGRATIONS];
	/* The vCPU throttle in effect for the source VM of migs[i] (migration_throttle.h), 0 = off. */
	uint32_t throttle[FERRY_MAX_MIGRATIONS];
	struct ferry_mig_reporter reporter;
	struct ferry_vm_listener *vms;
	struct ferry_device_registry *devices; /* the host's devices (event loop only) */
	/* Device steps (Event "device_state_changed") seen so far: the event loop sends an Inventory
	 * when it moves (inventory_pacer.h). */
	uint64_t device_changes;
	char vm_socket[FERRY_VM_SOCKET_PATH_MAX];
	/* Where data channels reach this agent (for PrepareDestination's result). */
	int (*data_address)(void *ctx, char *out, size_t cap);
	/* Sends a report frame (Progress) on the control link; may fail when it is down. */
	int (*send)(void *ctx, unsigned type, const ProtobufCMessage *msg);
	void *ctx;
	/* The result of the last command, handed to the control link. */
	Ferry__V1__CommandResult result;
	Ferry__V1__Error result_error;
	char result_id[FERRY_MIG_ID_MAX], result_message[FERRY_CMD_MESSAGE_MAX], result_address[FERRY_CMD_ADDRESS_MAX];
};

/* `devices` (may be NULL: no device migrates) must outlive the manager. */
int ferry_migration_manager_init(struct ferry_migration_manager *mm, struct ferry_vm_listener *vms,
				 struct ferry_device_registry *devices, const char *vm_socket, int (*data_address)(void *, char *, size_t),
				 int (*send)(void *, unsigned, const ProtobufCMessage *), void *ctx);
/* Aborts what runs, joins every thread, frees everything. */
void ferry_migration_manager_close(struct ferry_migration_manager *mm);

/* Executes (or replays) one Command; the result stays valid until the next call. */
const Ferry__V1__CommandResult *ferry_migration_manager_command(struct ferry_migration_manager *mm,
								 const Ferry__V1__Command *cmd, uint64_t now_ms);

/* A data listener's STREAM_HELLO: 0 (fd taken) or a ferry.v1.ErrorCode with the reason in msg. */
int ferry_migration_manager_stream_hello(void *mm, const Ferry__V1__StreamHello *h, int fd, char *msg, size_t cap);

/* The fd that becomes readable when migration threads have reports (poll it for POLLIN). */
int ferry_migration_manager_fd(const struct ferry_migration_manager *mm);
/* Sends queued Progress, advances destinations, reclaims finished migrations. Call every loop. */
void ferry_migration_manager_poll(struct ferry_migration_manager *mm, uint64_t now_ms);
/* When poll next has timed work (a destination waiting for its workload), UINT64_MAX if none. */
uint64_t ferry_migration_manager_next_deadline(const struct ferry_migration_manager *mm, uint64_t now_ms);
/* Migrations not in a final state (for heartbeats). */
unsigned ferry_migration_manager_active(struct ferry_migration_manager *mm);

#endif
