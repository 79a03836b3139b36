//! SIGINT and SIGTERM as a stop request. [`install`] replaces the default action (end the
//! process at once) with a handler that only records the signal; the pipeline's workers
//! poll [`pending`] between partitions and stop cleanly: no temporary file left, no
//! manifest, the progress journal intact for `generate --resume`. A second signal while
//! the first is being handled ends the process at once (exit status 128 + signal).
//!
//! Without [`install`] (the library used on its own), [`pending`] is never set and the
//! signals keep their default action.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal received (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);

/// A stop request: which signal asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(pub i32);

impl Signal {
    pub const INT: Signal = Signal(2);
    pub const TERM: Signal = Signal(15);

    /// `SIGINT`, `SIGTERM`, or `signal N`.
    pub fn name(self) -> String {
        match self.0 {
            2 => "SIGINT".into(),
            15 => "SIGTERM".into(),
            n => format!("signal {n}"),
        }
    }

    /// The conventional exit status of a process stopped by the signal: 128 + its number
    /// (130 for SIGINT, 143 for SIGTERM).
    pub fn exit_code(self) -> i32 {
        128 + self.0
    }
}

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe work here: an atomic swap, and `_exit` on a second signal.
    if PENDING.swap(sig, Ordering::SeqCst) != 0 {
        // SAFETY: `_exit` is async-signal-safe and never returns.
        unsafe { libc::_exit(128 + sig) }
    }
}

/// Installs the handler for SIGINT and SIGTERM (Unix; elsewhere a no-op).
pub fn install() -> std::io::Result<()> {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the action is fully initialised (zeroed, then the handler and an empty
        // mask set) before `sigaction` reads it; the handler only touches an atomic.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The stop request received since [`install`], if any.
pub fn pending() -> Option<Signal> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        n => Some(Signal(n)),
    }
}
