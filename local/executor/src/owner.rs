//! Which process owns an execution, and whether that process still lives. An owner is
//! `<pid>:<start time>:<nonce>`; the start time (Linux: field 22 of `/proc/<pid>/stat`) tells a
//! live process from a later one that reused its pid.

use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh owner tag for one opened executor of this process.
pub(crate) fn new_owner() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let start = start_time(pid).unwrap_or_else(|| "unknown".to_string());
    format!("{pid}:{start}:{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The pid part of an owner tag.
pub(crate) fn pid_of(owner: &str) -> Option<u32> {
    owner.split(':').next()?.parse().ok()
}

/// Whether the process that wrote `owner` is still running. Without `/proc` there is no way
/// to tell, and only this process counts as alive.
pub(crate) fn is_alive(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(pid), Some(start)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if pid == std::process::id() {
        return start_time(pid).is_none_or(|s| s == start);
    }
    start_time(pid).is_some_and(|s| s == start)
}

fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 3 is the first after the name; the start time is field 22.
    after_name.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_not() {
        let me = new_owner();
        assert!(is_alive(&me));
        assert_eq!(pid_of(&me), Some(std::process::id()));
        if start_time(std::process::id()).is_some() {
            let mut child = std::process::Command::new("true").spawn().unwrap();
            let pid = child.id();
            let start = start_time(pid).unwrap_or_default();
            child.wait().unwrap();
            assert!(!is_alive(&format!("{pid}:{start}:0")));
            // Same pid, another start time: a reused pid is not the owner.
            let reused = format!("{}:1:0", std::process::id());
            assert!(!is_alive(&reused));
        }
        assert!(!is_alive("garbage"));
    }
}
