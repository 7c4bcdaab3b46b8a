//! CPU affinity of the benchmark: the server threads and the client
//! processes run on one CPU for the single-threaded cases, and on every
//! allowed CPU for the throughput case.
//!
//! A balance check on loopback is a ping-pong between the client and the
//! server. On different CPUs, each request or response wakes a CPU that went
//! idle meanwhile. On the 2-vCPU virtual machine of BENCHMARKS.md, the
//! floor's call took 59 to 79 µs that way and 14 to 17 µs on one CPU, and the
//! difference varied with the other load of the machine. On one CPU the
//! times measure the work of the client, the server and the kernel.

use std::io;
use std::mem;

/// The allowed CPUs at start, and the one CPU that pinned cases use.
pub struct Affinity {
    allowed_set: libc::cpu_set_t,
    pinned_set: libc::cpu_set_t,
    pinned_cpu: usize,
}

impl Affinity {
    /// Reads the allowed CPUs and chooses the highest of them for pinning.
    pub fn new() -> io::Result<Affinity> {
        // SAFETY: cpu_set_t is plain data, all zeros is the empty set, and
        // sched_getaffinity writes at most `size_of::<cpu_set_t>()` bytes.
        let allowed_set = unsafe {
            let mut set: libc::cpu_set_t = mem::zeroed();
            if libc::sched_getaffinity(0, mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Err(io::Error::last_os_error());
            }
            set
        };
        let allowed = (0..libc::CPU_SETSIZE as usize)
            // SAFETY: the index is below CPU_SETSIZE.
            .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &allowed_set) })
            .collect::<Vec<_>>();
        let pinned_cpu = *allowed
            .last()
            .ok_or_else(|| io::Error::other("no CPU is allowed"))?;
        // SAFETY: as above.
        let pinned_set = unsafe {
            let mut set: libc::cpu_set_t = mem::zeroed();
            libc::CPU_SET(pinned_cpu, &mut set);
            set
        };
        Ok(Affinity {
            allowed_set,
            pinned_set,
            pinned_cpu,
        })
    }

    pub fn pinned_cpu(&self) -> usize {
        self.pinned_cpu
    }

    /// Moves every thread of this process to the pinned CPU. Threads and
    /// child processes started afterwards inherit it.
    pub fn pin(&self) -> io::Result<()> {
        apply_to_all_threads(&self.pinned_set)
    }

    /// Allows every thread of this process all CPUs allowed at start again.
    pub fn unpin(&self) -> io::Result<()> {
        apply_to_all_threads(&self.allowed_set)
    }
}

fn apply_to_all_threads(set: &libc::cpu_set_t) -> io::Result<()> {
    for entry in std::fs::read_dir("/proc/self/task")? {
        let Some(thread_id) = entry?
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        // SAFETY: `set` is a valid cpu_set_t of the size passed.
        let result =
            unsafe { libc::sched_setaffinity(thread_id, mem::size_of::<libc::cpu_set_t>(), set) };
        // A thread that ended since the directory was read is no error.
        if result != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH) {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
