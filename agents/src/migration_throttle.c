/* Auto-converge: the policy's throttle applied by the workload; see migration_throttle.h. */
#include "migration_throttle.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "errbuf.h"
#include "workload_ipc.h"

int ferry_mig_throttle_check(uint32_t percent, char *err, size_t errlen)
{
	if (percent <= FERRY_MIG_THROTTLE_MAX)
		return 0;
	ferry_errbuf_set(err, errlen, "throttle_percent %u is outside 0..%u", percent, FERRY_MIG_THROTTLE_MAX);
	return -EINVAL;
}

int ferry_mig_throttle_workload(const char *control, uint32_t percent, char *err, size_t errlen)
{
	int rc = ferry_mig_throttle_check(percent, err, errlen);
	if (rc)
		return rc;
	char cmd[32], reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	snprintf(cmd, sizeof cmd, "throttle %u", percent);
	int fd = -1;
	rc = ferry_workload_ipc_connect(control, &fd);
	if (rc == 0) {
		rc = ferry_workload_ipc_command(fd, cmd, reply, sizeof reply, FERRY_MIG_THROTTLE_TIMEOUT_MS);
		close(fd);
	}
	if (rc) {
		ferry_errbuf_set(err, errlen, "workload at %s, `%s`: %s", control, cmd, strerror(-rc));
		return rc;
	}
	uint64_t acked = UINT64_MAX;
	if (strncmp(reply, "ok throttle ", 12) != 0 || ferry_workload_ipc_field_u64(reply, "percent", &acked) != 0 ||
	    acked != percent) {
		ferry_errbuf_set(err, errlen, "workload at %s, `%s`: answered \"%.160s\"", control, cmd, reply);
		return -EPROTO;
	}
	return 0;
}
