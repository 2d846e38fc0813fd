import FerryModel
import FerryWire

/// What one source Progress report does to the migration: the progress status/watch show, and the
/// convergence sample the policy reads. A mid-round report (`midRound`, posted about once a second
/// while a round is in flight) carries the round's figures so far (round, bytes sent, bandwidth)
/// and repeats the last round's dirty figures: it updates what is shown but is not a sample.
enum SourceProgressUpdate {
    /// The stored progress after source report `p` (phase names and devices are the caller's).
    static func apply(_ p: Ferry_V1_Progress, to stored: MigrationProgress) -> MigrationProgress {
        var progress = stored
        progress.round = p.round
        progress.ramBytesSent = p.ramBytesSent
        progress.deviceBytesSent = p.deviceBytesSent
        if p.midRound {
            // Only measured so far; the dirty figures wait for the round's end.
            if p.bandwidthBytesPerSec > 0 { progress.bandwidthBytesPerSec = p.bandwidthBytesPerSec }
            return progress
        }
        progress.dirtyBytesRemaining = p.dirtyBytesRemaining
        // The final and rollback reports carry no measurement (0): keep the last round's, which
        // status shows and the next dry run of this VM forecasts from.
        if p.bandwidthBytesPerSec > 0 {
            progress.dirtyRateBytesPerSec = p.dirtyRateBytesPerSec
            progress.bandwidthBytesPerSec = p.bandwidthBytesPerSec
        }
        if p.expectedDowntimeUs > 0 { progress.expectedDowntimeUs = p.expectedDowntimeUs }
        return progress
    }

    /// The convergence sample a pre-copy report is, `seconds` into pre-copy; nil for a mid-round one.
    static func sample(_ p: Ferry_V1_Progress, seconds: Double) -> ProgressSample? {
        guard !p.midRound else { return nil }
        return ProgressSample(
            seconds: seconds, round: p.round, dirtyBytesRemaining: p.dirtyBytesRemaining,
            dirtyRateBytesPerSec: p.dirtyRateBytesPerSec, bandwidthBytesPerSec: p.bandwidthBytesPerSec)
    }
}
