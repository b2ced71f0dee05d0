//! The CPU time a process used over the measured window, from `/proc` (Linux): what one request
//! costs the server itself, apart from the load generator's share of the same cores, and what
//! one operation of a bare loop costs.

/// The user and system CPU seconds process `pid` (`self` for this one) has used so far; `None`
/// where `/proc` is not there to say.
pub(super) fn seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name's closing parenthesis: field 3 (state) onwards; utime and stime
    // are fields 14 and 15, in clock ticks of USER_HZ (100 on Linux, whatever the kernel's HZ).
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
