//! Both ends of a hand-over, the second module of `process` with `unsafe`: starting a new
//! binary with descriptors in place (`fork` then `execve`, from a process that may run
//! several threads), and, in that new binary, taking a descriptor by the number an
//! environment variable gives.
#![allow(unsafe_code)]

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::libc;
use nix::unistd::Pid;

/// The first descriptor handed over, as socket activation numbers them.
pub(crate) const FIRST_FD: RawFd = 3;

/// Room for `LISTEN_PID=` and any pid.
const PID_DIGITS: usize = 20;

/// Starts `program` with `args` (the program's name first) and `env`, with `fds` at
/// descriptors 3, 4, ... in order and `LISTEN_PID` set to the new process's pid (which only
/// the child knows, so it is written there). Nothing else is inherited: every other
/// descriptor of this process is close-on-exec. The child starts with no signal blocked.
///
/// # Errors
///
/// The program cannot be executed (missing, not executable, ...), with the reason the
/// kernel gave, or the process cannot be forked.
pub(crate) fn spawn(
    program: &Path,
    args: &[OsString],
    env: &[(OsString, OsString)],
    fds: &[BorrowedFd<'_>],
) -> io::Result<Pid> {
    // Everything the child needs is built here: between fork and exec in a process with
    // several threads only async-signal-safe functions may run, so the child allocates
    // nothing, locks nothing, and only writes the pid's digits into a buffer made here.
    let path = c_string(program.as_os_str())?;
    let argv: Vec<CString> = args
        .iter()
        .map(|a| c_string(a))
        .collect::<io::Result<_>>()?;
    let mut envp_strings: Vec<CString> = env
        .iter()
        .filter(|(name, _)| name != "LISTEN_PID")
        .map(|(name, value)| {
            let mut entry = name.clone();
            entry.push("=");
            entry.push(value);
            c_string(&entry)
        })
        .collect::<io::Result<_>>()?;
    let mut pid_entry = Vec::with_capacity("LISTEN_PID=".len() + PID_DIGITS + 1);
    pid_entry.extend_from_slice(b"LISTEN_PID=");
    pid_entry.resize(pid_entry.capacity(), 0);
    let pid_digits_at = "LISTEN_PID=".len();
    let argv_ptrs: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let pid_entry_ptr = pid_entry.as_mut_ptr();
    let envp_ptrs: Vec<*const libc::c_char> = envp_strings
        .iter_mut()
        .map(|e| e.as_ptr())
        .chain([pid_entry_ptr.cast_const().cast(), std::ptr::null()])
        .collect();

    // Move every descriptor above its target range first, so that placing one at 3 + i
    // never closes another still to be placed.
    let above = FIRST_FD + fds.len() as RawFd;
    let sources: Vec<OwnedFd> = fds
        .iter()
        .map(|fd| {
            // SAFETY: `F_DUPFD_CLOEXEC` only creates a new descriptor; `fd` is borrowed, so
            // it stays open for the call.
            let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, above) };
            if new < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `new` was just created by the call above and nothing else owns it.
            Ok(unsafe { OwnedFd::from_raw_fd(new) })
        })
        .collect::<io::Result<_>>()?;
    let source_fds: Vec<RawFd> = sources.iter().map(AsRawFd::as_raw_fd).collect();

    // The child reports a failed exec through this pipe; a successful one closes it.
    let (error_read, error_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(io::Error::from)?;
    let error_fd = error_write.as_raw_fd();

    // SAFETY: after `fork` the child runs only async-signal-safe functions (`getpid`,
    // `dup2`, `sigprocmask`, `signal`, `execve`, `write`, `_exit`) on memory prepared
    // before the fork (the child's own copy of it), so the state of other threads' locks
    // and allocators does not matter; it never returns into Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; `pid_entry_ptr` points into this process's own copy of the
        // buffer, large enough for any pid, and NUL-terminated by its zeroed tail.
        unsafe {
            write_pid(pid_entry_ptr.add(pid_digits_at), libc::getpid());
            for (i, &source) in source_fds.iter().enumerate() {
                // `dup2` clears close-on-exec on the new descriptor: exactly these cross.
                if libc::dup2(source, FIRST_FD + i as RawFd) < 0 {
                    fail(error_fd);
                }
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            // Rust ignores SIGPIPE in its own processes; a new program starts from the
            // default, as it would from a shell.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::execve(path.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr());
            fail(error_fd);
        }
    }
    drop(error_write);
    drop(sources);
    let pid = Pid::from_raw(pid);
    let mut errno = [0u8; 4];
    let mut read = 0;
    while read < errno.len() {
        match nix::unistd::read(&error_read, &mut errno[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    if read == 0 {
        return Ok(pid);
    }
    // The exec failed and the child exited: collect it, and say why.
    let _ = nix::sys::wait::waitpid(pid, None);
    Err(io::Error::from_raw_os_error(i32::from_ne_bytes(errno)))
}

/// In the child after a failed call: reports `errno` to the parent and exits.
///
/// # Safety
///
/// Async-signal-safe only; `error_fd` is the write end of the parent's error pipe.
unsafe fn fail(error_fd: RawFd) -> ! {
    // SAFETY: `__errno_location`, `write` and `_exit` are async-signal-safe; the buffer is
    // on this thread's stack.
    unsafe {
        let errno = (*libc::__errno_location()).to_ne_bytes();
        libc::write(error_fd, errno.as_ptr().cast(), errno.len());
        libc::_exit(127)
    }
}

/// Writes `pid` in decimal at `at` (NUL-terminated by the buffer's zeroed tail).
///
/// # Safety
///
/// `at` must have room for [`PID_DIGITS`] bytes. Async-signal-safe: no allocation.
unsafe fn write_pid(at: *mut u8, pid: libc::pid_t) {
    let mut digits = [0u8; PID_DIGITS];
    let mut n = pid.unsigned_abs();
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        // SAFETY: `i < len <= PID_DIGITS`, within the room the caller guarantees.
        unsafe { *at.add(i) = digits[len - 1 - i] };
    }
}

fn c_string(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{s:?} contains a NUL byte"),
        )
    })
}

/// Takes the descriptor whose number the environment variable `name` holds, and removes
/// the variable (in a process with one thread only, as removing a variable requires).
/// Returns `None` when the variable is absent or is not a descriptor number above 2.
pub(crate) fn take_fd_from_env(name: &str) -> Option<OwnedFd> {
    let value = std::env::var(name).ok()?;
    if super::thread_count() <= 1 {
        // SAFETY: the process has one thread (checked just above, and only this thread
        // could start another), so nothing reads the environment concurrently.
        unsafe { std::env::remove_var(name) };
    }
    let fd: RawFd = value.parse().ok().filter(|fd| *fd > 2)?;
    // The descriptor must be open; `F_GETFD` tells without side effects.
    // SAFETY: `F_GETFD` reads the descriptor's flags and changes nothing.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: the process that started this one put this descriptor here for it, and
    // named it in a variable now removed: nothing else in this process owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let _ = nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    Some(fd)
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn the_pid_is_written_in_decimal() {
        let mut buffer = [0u8; PID_DIGITS + 1];
        for (pid, text) in [(0, "0"), (7, "7"), (4_194_304, "4194304")] {
            buffer.fill(0);
            // SAFETY: the buffer has room for PID_DIGITS bytes.
            unsafe { write_pid(buffer.as_mut_ptr(), pid) };
            let end = buffer.iter().position(|b| *b == 0).unwrap();
            assert_eq!(&buffer[..end], text.as_bytes());
        }
    }

    #[test]
    fn a_program_that_cannot_run_is_an_error_naming_why() {
        let err = spawn(
            Path::new("/nonexistent/program"),
            &[OsString::from("program")],
            &[],
            &[],
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    }

    #[test]
    fn descriptors_and_listen_pid_reach_the_new_program() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let script = "test \"$LISTEN_PID\" = \"$$\" && test \"$LISTEN_FDS\" = 1 \
                      && test -S /proc/self/fd/3";
        let args: Vec<OsString> = ["sh", "-c", script].map(OsString::from).to_vec();
        let env = [(OsString::from("LISTEN_FDS"), OsString::from("1"))];
        let pid = spawn(Path::new("/bin/sh"), &args, &env, &[listener.as_fd()]).unwrap();
        let status = nix::sys::wait::waitpid(pid, None).unwrap();
        assert_eq!(status, nix::sys::wait::WaitStatus::Exited(pid, 0));
    }
}
