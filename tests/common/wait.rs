//! Polling instead of sleeping.

use std::time::{Duration, Instant};

/// Call `f` every `poll` until it returns `Ok`, and return that value. After `timeout`,
/// panic with the last error `f` returned (so the failure says what was not yet true).
/// A panic inside `f` (a daemon that died, say) ends the wait at once.
#[track_caller]
pub fn wait_until<T>(
    timeout: Duration,
    poll: Duration,
    mut f: impl FnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        let err = match f() {
            Ok(v) => return v,
            Err(e) => e,
        };
        if start.elapsed() >= timeout {
            panic!("timed out after {timeout:?}: {err}");
        }
        std::thread::sleep(poll);
    }
}

/// Check that `f` stays `Ok` for all of `duration`, polling every `poll`; panic at the first
/// error. For "the session stays up", "the route is not withdrawn early".
#[track_caller]
pub fn holds_for(duration: Duration, poll: Duration, mut f: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    loop {
        if let Err(e) = f() {
            panic!(
                "condition stopped holding after {:?} (wanted {duration:?}): {e}",
                start.elapsed()
            );
        }
        if start.elapsed() >= duration {
            return;
        }
        std::thread::sleep(poll);
    }
}
