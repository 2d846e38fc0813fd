import FerryModel
import FerryStore
import Foundation
import Testing

@Suite("SQLiteStore hosts (in memory and on disk)")
struct SQLiteStoreTests {
    @Test(arguments: StoreKind.allCases)
    func upsertInsertsThenUpdatesKeepingFirstSeen(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        try store.upsertHost(Fixtures.fullHost())
        #expect(try store.host(id: "host-a") == Fixtures.fullHost())

        var updated = Fixtures.fullHost()
        updated.firstSeen = Fixtures.t0.addingTimeInterval(3600)  // a later registration of the same host
        updated.lastSeen = Fixtures.t0.addingTimeInterval(3600)
        updated.agentVersion = "0.2.0"
        updated.freeMemoryBytes = 1 << 30
        updated.devices = [Fixtures.device("0000:b3:00.0")]
        updated.vms = []
        try store.upsertHost(updated)

        var expected = updated
        expected.firstSeen = Fixtures.t0
        #expect(try store.host(id: "host-a") == expected)
        #expect(try store.hosts().count == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func devicesAndVMsRoundTripExactlyInReportedOrder(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        let host = Fixtures.fullHost()
        try store.upsertHost(host)
        let stored = try #require(try store.host(id: host.id))
        #expect(stored.devices == host.devices)
        #expect(stored.vms == host.vms)
        #expect(stored.devices.map(\.id) == ["0000:65:00.0", "0000:17:00.0"])
        #expect(try store.hosts() == [host])
    }

    @Test(arguments: StoreKind.allCases)
    func extremeButValidValuesRoundTrip(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        var device = Fixtures.device("d0")
        device.vendorID = .max
        device.deviceID = 0
        device.migrationCapabilities = MigrationCapabilities(rawValue: .max)  // bits from a newer kernel survive
        device.stopCopyBytes = UInt64(Int64.max)
        let host = Fixtures.host("h", devices: [device], vms: [Fixtures.vm("v", devices: ["a\"b", "ü,"])])
        try store.upsertHost(host)
        #expect(try store.host(id: "h") == host)
    }

    @Test(arguments: StoreKind.allCases)
    func sizesBeyondSQLiteIntegersAreRefusedNotTrapped(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        var host = Fixtures.host("h")
        host.memoryBytes = .max
        #expect(
            throws: StoreError.query(
                operation: "write memory_bytes", reason: "\(UInt64.max) does not fit SQLite's 64-bit signed INTEGER")
        ) {
            try store.upsertHost(host)
        }
        #expect(try store.hosts().isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func everyDeviceAndVMStateIsStorable(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        let devices = DeviceState.allCases.enumerated().map { index, state in
            var device = Fixtures.device("d\(index)", state: state)
            device.backend = index.isMultiple(of: 2) ? .vfio : .sim
            return device
        }
        let vms = VMState.allCases.enumerated().map { index, state in
            var vm = Fixtures.vm("v\(index)", devices: [])
            vm.state = state
            return vm
        }
        let host = Fixtures.host("h", status: .unreachable, devices: devices, vms: vms)
        try store.upsertHost(host)
        #expect(try store.host(id: "h") == host)
    }

    @Test(arguments: StoreKind.allCases)
    func failedUpsertLeavesPreviousInventory(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        try store.upsertHost(Fixtures.fullHost())
        var broken = Fixtures.fullHost()
        broken.vms.append(Fixtures.vm("vm-big", devices: []))
        broken.vms[2].ramBytes = .max  // fails after the old devices and VMs were deleted
        #expect(throws: StoreError.self) { try store.upsertHost(broken) }
        #expect(try store.host(id: "host-a") == Fixtures.fullHost())
    }

    @Test(arguments: StoreKind.allCases)
    func duplicateDeviceIDsAreRejectedByTheSchema(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        let host = Fixtures.host("h", devices: [Fixtures.device("same"), Fixtures.device("same")])
        let error = try #require(throws: StoreError.self) { try store.upsertHost(host) }
        guard case .query(let operation, let reason) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(operation == "upsertHost")
        #expect(reason.contains("UNIQUE constraint failed"), "\(reason)")
        #expect(try store.host(id: "h") == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func setHostStatusRecordsWhenStatusChanged(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        try store.upsertHost(Fixtures.fullHost())
        let t1 = Fixtures.t0.addingTimeInterval(10)
        try store.setHostStatus(id: "host-a", status: .unreachable, at: t1)
        var host = try #require(try store.host(id: "host-a"))
        #expect(host.status == .unreachable)
        #expect(host.statusChangedAt == t1)

        // Same status again: "since when" does not move.
        try store.setHostStatus(id: "host-a", status: .unreachable, at: t1.addingTimeInterval(5))
        host = try #require(try store.host(id: "host-a"))
        #expect(host.statusChangedAt == t1)

        let t2 = t1.addingTimeInterval(20)
        try store.setHostStatus(id: "host-a", status: .ready, at: t2)
        host = try #require(try store.host(id: "host-a"))
        #expect(host.status == .ready)
        #expect(host.statusChangedAt == t2)
        #expect(host.devices == Fixtures.fullHost().devices)
    }

    @Test(arguments: StoreKind.allCases)
    func touchHostUpdatesLastSeenAndFreeMemoryOnly(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        try store.upsertHost(Fixtures.fullHost())
        let later = Fixtures.t0.addingTimeInterval(1.5)
        try store.touchHost(id: "host-a", lastSeen: later, freeMemoryBytes: 7 << 30)
        var expected = Fixtures.fullHost()
        expected.lastSeen = later
        expected.freeMemoryBytes = 7 << 30
        #expect(try store.host(id: "host-a") == expected)
    }

    @Test(arguments: StoreKind.allCases)
    func touchHostsWritesEveryHostInOneCallAndSkipsUnknownOnes(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        try store.upsertHost(Fixtures.fullHost())
        try store.upsertHost(Fixtures.host("host-b"))
        let later = Fixtures.t0.addingTimeInterval(2.25)
        let changed = try store.touchHosts([
            HostTouch(id: "host-a", lastSeen: later, freeMemoryBytes: 3 << 30),
            HostTouch(id: "ghost", lastSeen: later, freeMemoryBytes: 1),
            HostTouch(id: "host-b", lastSeen: later.addingTimeInterval(1), freeMemoryBytes: 5),
        ])
        #expect(changed == 2)
        var expected = Fixtures.fullHost()
        expected.lastSeen = later
        expected.freeMemoryBytes = 3 << 30
        #expect(try store.host(id: "host-a") == expected)
        #expect(try store.host(id: "host-b")?.lastSeen == later.addingTimeInterval(1))
        #expect(try store.host(id: "host-b")?.freeMemoryBytes == 5)
        #expect(try store.host(id: "ghost") == nil)
        #expect(try store.touchHosts([]) == 0)
    }

    @Test(arguments: StoreKind.allCases)
    func updatesOfUnknownHostsFail(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        #expect(throws: StoreError.unknownHost(id: "ghost")) {
            try store.touchHost(id: "ghost", lastSeen: Fixtures.t0, freeMemoryBytes: 0)
        }
        #expect(throws: StoreError.unknownHost(id: "ghost")) {
            try store.setHostStatus(id: "ghost", status: .ready, at: Fixtures.t0)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func hostsAreOrderedByIDAndUnknownIDIsNil(kind: StoreKind) throws {
        let (store, cleanup) = try kind.makeStore()
        defer { cleanup() }
        for id in ["host-c", "host-a", "host-b"] {
            try store.upsertHost(Fixtures.host(id, devices: [Fixtures.device("dev-\(id)")]))
        }
        let hosts = try store.hosts()
        #expect(hosts.map(\.id) == ["host-a", "host-b", "host-c"])
        #expect(hosts.map { $0.devices.map(\.id) } == [["dev-host-a"], ["dev-host-b"], ["dev-host-c"]])
        #expect(try store.host(id: "host-z") == nil)
        #expect(try SQLiteStore.inMemory().hosts().isEmpty)
    }
}
