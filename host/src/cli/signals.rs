//! Stopping a command cleanly: Ctrl-C, SIGTERM (a service manager's stop)
//! and SIGHUP (a closed terminal) all set the command's stop flag, except
//! that a SIGHUP the command was started ignoring (`nohup mlhost tune …`)
//! stays ignored.

/// Calls `stop` on SIGINT, SIGTERM and SIGHUP (unless SIGHUP was ignored
/// when the process started). Only the first call in a process takes.
pub(super) fn on_stop(stop: impl Fn() + Send + 'static) {
    let nohup = sighup_ignored();
    let _ = ctrlc::set_handler(stop);
    if nohup {
        // SAFETY: restores the disposition the process was started with;
        // SIG_IGN installs no handler and takes no pointers.
        unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
    }
}

/// Whether SIGHUP is ignored now (as `nohup` leaves it).
fn sighup_ignored() -> bool {
    // SAFETY: sigaction with a null new action only reads the current one
    // into `old`, a zeroed plain C struct owned here.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGHUP, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}
