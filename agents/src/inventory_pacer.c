/* Coalesced Inventories on device changes; see inventory_pacer.h. */
#include "inventory_pacer.h"

void ferry_inventory_pacer_init(struct ferry_inventory_pacer *p)
{
	p->sent_before = false;
	p->last_sent_ms = 0;
	p->due_ms = UINT64_MAX;
}

void ferry_inventory_pacer_note(struct ferry_inventory_pacer *p, uint64_t now_ms)
{
	if (p->due_ms != UINT64_MAX)
		return; /* one is pending already: it will carry this change too */
	uint64_t earliest = p->sent_before ? p->last_sent_ms + FERRY_INVENTORY_MIN_INTERVAL_MS : 0;
	p->due_ms = earliest > now_ms ? earliest : now_ms;
}

void ferry_inventory_pacer_sent(struct ferry_inventory_pacer *p, uint64_t now_ms)
{
	p->sent_before = true;
	p->last_sent_ms = now_ms;
	p->due_ms = UINT64_MAX;
}

bool ferry_inventory_pacer_due(const struct ferry_inventory_pacer *p, uint64_t now_ms)
{
	return p->due_ms != UINT64_MAX && now_ms >= p->due_ms;
}

uint64_t ferry_inventory_pacer_deadline(const struct ferry_inventory_pacer *p)
{
	return p->due_ms;
}
