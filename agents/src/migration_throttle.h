/*
 * Auto-converge on the source host: MigrationPolicy.throttle_percent (in StartPrecopy and
 * AdjustPolicy) becomes the VM's vCPU throttle, applied by its workload (`throttle N` on the
 * workload's control socket, workload_ipc.h; the workload sleeps each vCPU N % of every 10 ms
 * slice, as QEMU's cpu-throttle does).
 *
 * The value in a policy is the throttle wanted, always: 0 turns it off, and an AdjustPolicy that
 * repeats the value in effect changes nothing. When the migration rolls back the throttle goes
 * back to 0 (the VM runs on here at full speed); when it completes the source workload quits and
 * the destination starts unthrottled (the throttle is no part of the vCPU state).
 */
#ifndef FERRY_MIGRATION_THROTTLE_H
#define FERRY_MIGRATION_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_MIG_THROTTLE_MAX 99u /* percent: QEMU's CPU_THROTTLE_PCT_MAX; 100 would stop the VM */
#define FERRY_MIG_THROTTLE_TIMEOUT_MS 5000

/* 0, or -EINVAL with the reason in err for a percent past FERRY_MIG_THROTTLE_MAX. */
int ferry_mig_throttle_check(uint32_t percent, char *err, size_t errlen);

/* Sends `throttle percent` to the workload at `control` and checks its acknowledgement
 * ("ok throttle percent=N" with the same N). 0; -EINVAL (bad percent), -EPROTO (the workload
 * refused or answered something else) or the connection's -errno, with the reason in err. */
int ferry_mig_throttle_workload(const char *control, uint32_t percent, char *err, size_t errlen);

#endif
