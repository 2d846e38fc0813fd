import FerryWire
import Foundation

/// The canonical values of proto/vectors/README.md, built in Swift. Both the C and the Swift vector
/// files must decode to exactly these.
enum CanonicalVectors {
    static let u64Max = UInt64.max
    static let i64Min = Int64.min
    static let token: Data = Data([0x00, 0x01, 0x02, 0xFE, 0xFF])

    /// File name (without `.frame`) and message, in the README's order.
    static let all: [(name: String, message: WireMessage)] = [
        ("hello", .hello(hello)),
        ("welcome", .welcome(welcome)),
        ("error", .error(error)),
        ("heartbeat", .heartbeat(heartbeat)),
        ("inventory", .inventory(inventory)),
        ("command", .command(command)),
        ("command_result", .commandResult(commandResult)),
        ("progress", .progress(progress)),
        ("event", .event(event)),
        ("stream_hello", .streamHello(streamHello)),
        ("stream_welcome", .streamWelcome(streamWelcome)),
        ("page_batch", .pageBatch(pageBatch, payload: pageBatchPayload)),
        ("device_chunk", .deviceChunk(deviceChunk, payload: deviceChunkPayload)),
        ("end_of_round", .endOfRound(endOfRound)),
        ("round_ack", .roundAck(roundAck)),
        ("resume_confirm", .resumeConfirm(resumeConfirm)),
        ("vcpu_state", .vcpuState(vcpuState)),
    ]

    static var hello: Ferry_V1_Hello {
        var m = Ferry_V1_Hello()
        m.protocolVersion = 1
        m.minProtocolVersion = 1
        m.hostID = "hôte-α"
        m.agentVersion = "0.1.0"
        m.bootID = "b00t-1234"
        m.sentAtUnixNs = 1_764_000_000_123_456_789
        return m
    }

    static var welcome: Ferry_V1_Welcome {
        var m = Ferry_V1_Welcome()
        m.protocolVersion = 1
        m.coordinatorID = "ferryd-test"
        m.heartbeatIntervalMs = 1000
        m.heartbeatMissLimit = 3
        m.serverTimeUnixNs = i64Min
        return m
    }

    static var error: Ferry_V1_Error {
        var m = Ferry_V1_Error()
        m.code = .incompatibleVersion
        m.message = "agent speaks 2..3, ferryd speaks 1..1"
        m.migrationID = "m-1"
        m.commandSeq = u64Max
        return m
    }

    static var heartbeat: Ferry_V1_Heartbeat {
        var m = Ferry_V1_Heartbeat()
        m.seq = 42
        m.sentAtUnixNs = 1_764_000_000_000_000_000
        m.freeMemoryBytes = 17_179_869_184
        m.activeMigrations = 2
        return m
    }

    static var simDevice: Ferry_V1_Device {
        var d = Ferry_V1_Device()
        d.id = "sim0"
        d.backend = .sim
        d.vendorID = 0x15b3
        d.deviceID = 0x101e
        d.driver = "ferry-sim"
        d.migrationFlags = 7
        d.dmaLogging = true
        d.savingLayoutHandshake = true
        d.migrationVersion = "ferry-sim/1"
        d.vmID = "vm-1"
        d.state = .running
        d.stopCopyBytes = 67_108_864
        return d
    }

    static var inventory: Ferry_V1_Inventory {
        var m = Ferry_V1_Inventory()
        m.hostID = "host-a"
        m.cpuCount = 2
        m.memoryBytes = 25_769_803_776
        m.freeMemoryBytes = 20_000_000_000
        m.agentVersion = "0.1.0"
        m.kernelRelease = "6.18.44"
        m.dataAddress = "10.0.0.1:7100"
        var vfio = Ferry_V1_Device()
        vfio.id = "0000:3b:00.1"
        vfio.backend = .vfio
        vfio.vendorID = 0x8086
        vfio.deviceID = 0x1889
        vfio.driver = "ice-vfio-pci"
        vfio.migrationFlags = 3
        vfio.migrationVersion = "ice/2"
        vfio.state = .stop
        m.devices = [simDevice, vfio]
        var vm = Ferry_V1_Vm()
        vm.vmID = "vm-1"
        vm.ramBytes = 268_435_456
        vm.vcpus = 2
        vm.deviceIds = ["sim0"]
        vm.state = .running
        vm.dirtyRateBytesPerSec = 52_428_800
        vm.pid = 4242
        m.vms = [vm]
        return m
    }

    static var command: Ferry_V1_Command {
        var m = Ferry_V1_Command()
        m.migrationID = "m-7"
        m.seq = 3
        var prepare = Ferry_V1_PrepareDestination()
        prepare.vmID = "vm-1"
        prepare.sourceHostID = "host-a"
        prepare.ramBytes = 268_435_456
        prepare.devices = [simDevice]
        prepare.token = token
        prepare.channels = 4
        m.prepareDestination = prepare
        return m
    }

    static var commandResult: Ferry_V1_CommandResult {
        var m = Ferry_V1_CommandResult()
        m.migrationID = "m-7"
        m.seq = 3
        var error = Ferry_V1_Error()
        error.code = .device
        error.message = "sim0: STOP_COPY refused (EINVAL)"
        m.error = error
        m.dataAddress = "10.0.0.2:7100"
        return m
    }

    static var progress: Ferry_V1_Progress {
        var m = Ferry_V1_Progress()
        m.migrationID = "m-7"
        m.vmID = "vm-1"
        m.role = .source
        m.phase = .precopy
        m.round = 5
        m.ramBytesSent = 1_073_741_824
        m.deviceBytesSent = 1_048_576
        m.pagesDirtied = 1234
        m.dirtyBytesRemaining = 5_054_464
        m.dirtyRateBytesPerSec = 52_428_800
        m.bandwidthBytesPerSec = 1_200_000_000
        m.expectedDowntimeUs = 4212
        var device = Ferry_V1_DeviceProgress()
        device.deviceID = "sim0"
        device.state = .preCopy
        device.precopyInitialBytes = 0
        device.precopyDirtyBytes = 4096
        device.stopCopyBytes = 67_108_864
        device.bytesSent = 1_048_576
        m.devices = [device]
        m.sentAtUnixNs = 1_764_000_000_999_999_999
        return m
    }

    static var event: Ferry_V1_Event {
        var m = Ferry_V1_Event()
        m.migrationID = "m-7"
        m.kind = "round_ended"
        m.message = "round 5: 1234 pages"
        m.atUnixNs = 1_764_000_001_000_000_000
        var round = Ferry_V1_Attribute()
        round.key = "round"
        round.value = "5"
        var pages = Ferry_V1_Attribute()
        pages.key = "pages"
        pages.value = "1234"
        m.attributes = [round, pages]
        return m
    }

    static var streamHello: Ferry_V1_StreamHello {
        var m = Ferry_V1_StreamHello()
        m.protocolVersion = 1
        m.migrationID = "m-7"
        m.token = token
        m.channelIndex = 1
        m.channelCount = 4
        m.pageSize = 4096
        m.ramBytes = 268_435_456
        return m
    }

    static var streamWelcome: Ferry_V1_StreamWelcome {
        var m = Ferry_V1_StreamWelcome()
        m.protocolVersion = 1
        m.channelIndex = 1
        return m
    }

    static let pageBatchPayload: [UInt8] = (0..<(3 * 4096)).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }

    static var pageBatch: Ferry_V1_PageBatch {
        var m = Ferry_V1_PageBatch()
        m.round = 2
        m.batchSeq = 9
        func run(_ first: UInt64, _ count: UInt32, zero: Bool = false) -> Ferry_V1_PageRun {
            var r = Ferry_V1_PageRun()
            r.firstPage = first
            r.count = count
            r.zero = zero
            return r
        }
        m.runs = [run(10, 2), run(100, 3, zero: true), run(65535, 1)]
        m.pageCrc32C = (0..<3).map { CRC32C.checksum(Array(pageBatchPayload[($0 * 4096)..<(($0 + 1) * 4096)])) }
        return m
    }

    static let deviceChunkPayload: [UInt8] = (0..<100).map { UInt8(255 - $0) }

    static var deviceChunk: Ferry_V1_DeviceChunk {
        var m = Ferry_V1_DeviceChunk()
        m.deviceID = "sim0"
        m.round = 2
        m.offset = 4096
        m.stopCopy = true
        m.endOfStream = true
        m.payloadCrc32C = CRC32C.checksum(deviceChunkPayload)
        return m
    }

    static var endOfRound: Ferry_V1_EndOfRound {
        var m = Ferry_V1_EndOfRound()
        m.round = 2
        m.channelIndex = 1
        m.batches = 9
        m.pages = 65536
        m.zeroPages = 100
        m.deviceBytes = 4196
        m.final = true
        return m
    }

    static var roundAck: Ferry_V1_RoundAck {
        var m = Ferry_V1_RoundAck()
        m.round = 2
        m.channelIndex = 1
        m.batches = 9
        m.pages = 65536
        return m
    }

    static var resumeConfirm: Ferry_V1_ResumeConfirm {
        var m = Ferry_V1_ResumeConfirm()
        m.vcpuStartUnixNs = 1_764_000_002_000_000_000
        m.memoryVerified = true
        m.pagesVerified = 65536
        return m
    }

    static let vcpuStateBytes: [UInt8] = [
        0x46, 0x57, 0x56, 0x43, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xAB, 0xCD,
    ]

    static var vcpuState: Ferry_V1_VcpuState {
        var m = Ferry_V1_VcpuState()
        m.vcpus = 2
        m.state = Data(vcpuStateBytes)
        m.stateCrc32C = CRC32C.checksum(vcpuStateBytes)
        return m
    }
}
