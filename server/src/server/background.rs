//! Threads for work that no client waits on (periodic snapshots), run at a lower CPU priority
//! so that, on a machine with few cores, they yield to the threads that answer clients.
//!
//! Serializing a snapshot of a large tree takes hundreds of milliseconds of one core; run at
//! the same priority as the core and log threads, it takes its fair share of the CPU just when
//! writes are arriving fast enough to trigger it, and every write acknowledged meanwhile waits
//! longer. At a higher nice value the scheduler gives it what the others leave idle (its pages
//! of the tree are pinned meanwhile, which a cheap persistent clone makes affordable).

use std::io;

/// Nice value added to a background thread (0 is normal, 19 the lowest priority).
pub const BACKGROUND_NICE: i32 = 10;

/// Spawns `f` on a named thread whose scheduling priority is lowered by [`BACKGROUND_NICE`].
/// If the priority cannot be changed (a sandbox forbidding it), `f` runs at normal priority.
pub fn spawn_background<F>(name: &str, f: F) -> io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            if let Err(e) = lower_own_priority() {
                tracing::debug!("could not lower the priority of a background thread: {e}");
            }
            f()
        })
}

/// Raises the calling thread's nice value by [`BACKGROUND_NICE`] (on Linux a thread id names
/// one thread to setpriority(2); other threads of the process keep their priority).
fn lower_own_priority() -> io::Result<()> {
    let tid = rustix::thread::gettid();
    let now = rustix::process::getpriority_process(Some(tid))?;
    rustix::process::setpriority_process(Some(tid), (now + BACKGROUND_NICE).min(19))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_nice() -> io::Result<i32> {
        Ok(rustix::process::getpriority_process(Some(
            rustix::thread::gettid(),
        ))?)
    }

    #[test]
    fn a_background_thread_runs_at_a_lower_priority_than_its_spawner() {
        let mine = own_nice().expect("own priority");
        let h = spawn_background("bg-test", move || {
            let theirs = own_nice().expect("background priority");
            assert_eq!(theirs, (mine + BACKGROUND_NICE).min(19));
        })
        .expect("spawn");
        h.join().expect("the background thread's assertion held");
        // Lowering the background thread's priority left the spawner's alone.
        assert_eq!(own_nice().expect("own priority again"), mine);
    }
}
