import Foundation

/// ISO 8601 dates exactly as Foundation's `.iso8601` JSON strategies write and read them
/// (`2026-12-04T10:11:12Z`, UTC, whole seconds rounded down), without its formatter for the
/// common case. Foundation's formatter cost more than the rest of a `status` body's JSON; this is
/// plain arithmetic. Anything outside the fast path (years before 1601, where Foundation switches
/// to the Julian calendar, or after 9999; offsets, fractions, out-of-range fields on reading)
/// goes to Foundation itself, so results are identical (JSONCompatibilityTests).
public enum ISO8601Date {
    /// 1601-01-01T00:00:00Z and 10000-01-01T00:00:00Z, as seconds since 1970.
    static let fastRange: Range<Int64> = -11_644_473_600..<253_402_300_800
    static let referenceDateOffset: Int64 = 978_307_200

    public static func string(_ date: Date) -> String {
        let reference = date.timeIntervalSinceReferenceDate.rounded(.down)
        guard reference.isFinite, abs(reference) < 1e15 else { return date.formatted(.iso8601) }
        let seconds = Int64(reference) + referenceDateOffset
        guard fastRange.contains(seconds) else { return date.formatted(.iso8601) }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let daySeconds = Int(seconds - days * 86_400)
        let (year, month, day) = civil(fromDays: days)
        var bytes = [UInt8](repeating: 0, count: 20)
        func put(_ value: Int, at index: Int, width: Int) {
            var value = value
            for i in stride(from: index + width - 1, through: index, by: -1) {
                bytes[i] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(Int(year), at: 0, width: 4)
        bytes[4] = UInt8(ascii: "-")
        put(month, at: 5, width: 2)
        bytes[7] = UInt8(ascii: "-")
        put(day, at: 8, width: 2)
        bytes[10] = UInt8(ascii: "T")
        put(daySeconds / 3600, at: 11, width: 2)
        bytes[13] = UInt8(ascii: ":")
        put(daySeconds / 60 % 60, at: 14, width: 2)
        bytes[16] = UInt8(ascii: ":")
        put(daySeconds % 60, at: 17, width: 2)
        bytes[19] = UInt8(ascii: "Z")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The date of an ISO 8601 string as Foundation's `.iso8601` strategy reads it; nil if it is
    /// not one.
    public static func date(_ string: String) -> Date? {
        if let seconds = fastSeconds(string) {
            return Date(timeIntervalSinceReferenceDate: Double(seconds - referenceDateOffset))
        }
        return try? Date.ISO8601FormatStyle().parse(string)
    }

    /// Seconds since 1970 of exactly `YYYY-MM-DDTHH:MM:SSZ` with every field in range; nil
    /// otherwise (Foundation decides those).
    static func fastSeconds(_ string: String) -> Int64? {
        var string = string
        return string.withUTF8 { (b: UnsafeBufferPointer<UInt8>) -> Int64? in
            guard b.count == 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
                b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "Z")
            else { return nil }
            func number(_ start: Int, _ width: Int) -> Int? {
                var value = 0
                for i in start..<start + width {
                    let digit = Int(b[i]) - Int(UInt8(ascii: "0"))
                    guard (0...9).contains(digit) else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
                (1601...9999).contains(year), (1...12).contains(month),
                (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60, second < 60
            else { return nil }
            let days = Self.days(year: Int64(year), month: month, day: day)
            return days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        }
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    static func days(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (civil_from_days).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
