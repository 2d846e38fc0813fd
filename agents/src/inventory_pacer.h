/*
 * When to send an Inventory because a device changed state. A migration moves its devices in
 * bursts (every device of a group, one step each, then the next arc), and ferryd needs the states
 * the devices settle in, not one Inventory per step: the first change after a quiet period goes
 * out at once, later ones are coalesced into one Inventory at most every
 * FERRY_INVENTORY_MIN_INTERVAL_MS. Any Inventory sent (for whatever reason) is built from the
 * devices' live states, so it satisfies every change noted before it. Pure: the caller passes the
 * monotonic time in ms.
 */
#ifndef FERRY_INVENTORY_PACER_H
#define FERRY_INVENTORY_PACER_H

#include <stdbool.h>
#include <stdint.h>

#define FERRY_INVENTORY_MIN_INTERVAL_MS 200u

struct ferry_inventory_pacer {
	bool sent_before;      /* an Inventory went out at last_sent_ms */
	uint64_t last_sent_ms;
	uint64_t due_ms;       /* when the pending one is due; UINT64_MAX = none pending */
};

void ferry_inventory_pacer_init(struct ferry_inventory_pacer *p);

/* A device changed state at now_ms: an Inventory is due (now, or at the end of the interval). */
void ferry_inventory_pacer_note(struct ferry_inventory_pacer *p, uint64_t now_ms);

/* An Inventory went out at now_ms: nothing is pending any more. */
void ferry_inventory_pacer_sent(struct ferry_inventory_pacer *p, uint64_t now_ms);

/* True when the pending Inventory is due at now_ms. */
bool ferry_inventory_pacer_due(const struct ferry_inventory_pacer *p, uint64_t now_ms);

/* When the pending Inventory is due (absolute ms), UINT64_MAX when none is pending. */
uint64_t ferry_inventory_pacer_deadline(const struct ferry_inventory_pacer *p);

#endif
