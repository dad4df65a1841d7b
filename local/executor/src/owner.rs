//! Which process owns an execution, and whether that process still lives. An owner is
//! `<pid>:<start time>:<boot id>:<nonce>`: the start time (Linux: field 22 of
//! `/proc/<pid>/stat`) tells a live process from a later one that reused its pid, and the boot
//! id (`/proc/sys/kernel/random/boot_id`) a process of this boot from one before a reboot.

use std::sync::atomic::{AtomicU64, Ordering};

const UNKNOWN: &str = "unknown";

/// A fresh owner tag for one opened executor of this process.
pub(crate) fn new_owner() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let start = start_time(pid).unwrap_or_else(|| UNKNOWN.to_string());
    let boot = boot_id().unwrap_or_else(|| UNKNOWN.to_string());
    format!(
        "{pid}:{start}:{boot}:{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The pid part of an owner tag.
pub(crate) fn pid_of(owner: &str) -> Option<u32> {
    owner.split(':').next()?.parse().ok()
}

/// Whether the process that wrote `owner` is still running. Without `/proc` there is no way
/// to tell, and only this process counts as alive.
pub(crate) fn is_alive(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(pid), Some(start), Some(boot)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    let this_boot = boot_id().unwrap_or_else(|| UNKNOWN.to_string());
    if boot != this_boot {
        return false;
    }
    match start_time(pid) {
        Some(now) => now == start,
        // No /proc: only this process can be vouched for.
        None => pid == std::process::id() && start == UNKNOWN,
    }
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_string())
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
        assert!(is_alive(&me), "{me}");
        assert_eq!(pid_of(&me), Some(std::process::id()));
        assert!(!is_alive("garbage"));
        let Some(start) = start_time(std::process::id()) else {
            return; // no /proc: nothing more to tell apart
        };
        let boot = boot_id().unwrap_or_else(|| UNKNOWN.to_string());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let child_start = start_time(pid).unwrap_or_default();
        child.wait().unwrap();
        assert!(!is_alive(&format!("{pid}:{child_start}:{boot}:0")));
        // Same pid, another start time: a reused pid is not the owner.
        assert!(!is_alive(&format!("{}:1:{boot}:0", std::process::id())));
        // Same pid and start time before a reboot.
        let me = std::process::id();
        assert!(!is_alive(&format!("{me}:{start}:another-boot:0")));
    }
}
