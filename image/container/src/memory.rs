//! How much memory this job may still use: the instance's (or the local machine's) available
//! memory, and within a container the cgroup's limit less its usage, whichever is less. The
//! train job bounds how many folds fit at once by it, so a trial stays within the instance.

/// Bytes still available to this process, `None` when neither source can be read.
pub fn available() -> Option<u64> {
    let machine = mmp_pipeline::memory::machine_available();
    let cgroup = cgroup_left(
        std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok(),
        std::fs::read_to_string("/sys/fs/cgroup/memory.current").ok(),
    );
    match (machine, cgroup) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    }
}

/// What a cgroup v2 limit leaves (`max`: no limit).
fn cgroup_left(max: Option<String>, current: Option<String>) -> Option<u64> {
    let limit: u64 = max?.trim().parse().ok()?;
    let used: u64 = current?.trim().parse().ok()?;
    Some(limit.saturating_sub(used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_cgroup_leaves() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(cgroup_left(s("1000\n"), s("400\n")), Some(600));
        assert_eq!(cgroup_left(s("max\n"), s("400\n")), None);
        assert_eq!(cgroup_left(s("100"), s("400")), Some(0));
        assert_eq!(cgroup_left(None, s("400")), None);
        assert!(available().is_some(), "Linux has /proc/meminfo");
    }
}
