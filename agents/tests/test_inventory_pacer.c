/* Coalescing of device-change Inventories (inventory_pacer.h). */
#include "inventory_pacer.h"
#include "test.h"

FERRY_TEST(inventory_pacer_first_change_goes_at_once)
{
	struct ferry_inventory_pacer p;
	ferry_inventory_pacer_init(&p);
	EXPECT_EQ_U64(ferry_inventory_pacer_deadline(&p), UINT64_MAX);
	EXPECT(!ferry_inventory_pacer_due(&p, 0));
	EXPECT(!ferry_inventory_pacer_due(&p, UINT64_MAX - 1));
	ferry_inventory_pacer_note(&p, 50);
	EXPECT(ferry_inventory_pacer_due(&p, 50));
	EXPECT_EQ_U64(ferry_inventory_pacer_deadline(&p), 50);
	ferry_inventory_pacer_sent(&p, 50);
	EXPECT(!ferry_inventory_pacer_due(&p, 10000));
	EXPECT_EQ_U64(ferry_inventory_pacer_deadline(&p), UINT64_MAX);
}

FERRY_TEST(inventory_pacer_burst_is_one_inventory_per_interval)
{
	struct ferry_inventory_pacer p;
	ferry_inventory_pacer_init(&p);
	ferry_inventory_pacer_sent(&p, 1000); /* e.g. the Inventory after the Welcome */
	/* A burst of steps right after it: one Inventory, at the end of the interval. */
	for (uint64_t t = 1010; t < 1100; t += 10)
		ferry_inventory_pacer_note(&p, t);
	EXPECT_EQ_U64(ferry_inventory_pacer_deadline(&p), 1000 + FERRY_INVENTORY_MIN_INTERVAL_MS);
	EXPECT(!ferry_inventory_pacer_due(&p, 1000 + FERRY_INVENTORY_MIN_INTERVAL_MS - 1));
	EXPECT(ferry_inventory_pacer_due(&p, 1000 + FERRY_INVENTORY_MIN_INTERVAL_MS));
	ferry_inventory_pacer_sent(&p, 1200);
	/* A change long after: at once again. */
	ferry_inventory_pacer_note(&p, 5000);
	EXPECT(ferry_inventory_pacer_due(&p, 5000));
}

FERRY_TEST(inventory_pacer_any_inventory_satisfies_the_pending_change)
{
	struct ferry_inventory_pacer p;
	ferry_inventory_pacer_init(&p);
	ferry_inventory_pacer_sent(&p, 0);
	ferry_inventory_pacer_note(&p, 20); /* due at 200 */
	ferry_inventory_pacer_sent(&p, 100); /* a VM-change Inventory, built later, carried it */
	EXPECT(!ferry_inventory_pacer_due(&p, 250));
	ferry_inventory_pacer_note(&p, 150); /* a change after that one: the interval counts from 100 */
	EXPECT_EQ_U64(ferry_inventory_pacer_deadline(&p), 100 + FERRY_INVENTORY_MIN_INTERVAL_MS);
}
