//! What a foreground tool waits on: Ctrl-C and SIGTERM as a readable fd (`signalfd`),
//! `poll` over several fds, and the kernel's trace pipe (`bpf_printk` output).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// SIGINT and SIGTERM, blocked for this thread and delivered through an fd instead, so
/// a loop can wait for them together with its other fds and clean up before exiting.
#[derive(Debug)]
pub struct TermSignals {
    fd: OwnedFd,
}

impl TermSignals {
    /// Blocks SIGINT and SIGTERM on the calling thread and opens a signalfd for them.
    /// Call it before starting threads, which inherit the mask.
    ///
    /// # Errors
    /// `sigprocmask` or `signalfd` failed.
    pub fn new() -> io::Result<TermSignals> {
        // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a live sigset_t; the calls only write it or read it.
        let fd = unsafe {
            libc::sigemptyset(&raw mut set);
            libc::sigaddset(&raw mut set, libc::SIGINT);
            libc::sigaddset(&raw mut set, libc::SIGTERM);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &raw const set, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::signalfd(-1, &raw const set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(TermSignals { fd })
    }

    /// The signal that arrived, if one did (non-blocking).
    pub fn take(&self) -> Option<i32> {
        // SAFETY: signalfd_siginfo is plain data, read into a live local of its size.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: reads at most `size` bytes into `info`.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), (&raw mut info).cast(), size) };
        (n == size as isize).then_some(info.ssi_signo as i32)
    }
}

impl AsFd for TermSignals {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Waits until one of `fds` is readable or `timeout_ms` passes (-1: forever); returns
/// which are readable (or hung up).
///
/// # Errors
/// `poll` failed (`EINTR` is reported as no fd ready).
pub fn poll(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `p` is a live array of `p.len()` pollfd structs.
    let n = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(p.iter()
        .map(|x| x.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0)
        .collect())
}

/// The kernel's `trace_pipe`: every `bpf_printk` line, as it is written. From a mounted
/// tracefs, or else through a child process that mounts tracefs in a mount namespace
/// of its own and copies the pipe to us; the child ends with this value.
#[derive(Debug)]
pub struct TracePipe {
    fd: OwnedFd,
    child: Option<libc::pid_t>,
}

impl TracePipe {
    /// Opens the trace pipe (non-blocking).
    ///
    /// # Errors
    /// tracefs is unreachable (no privileges to mount it).
    pub fn open() -> io::Result<TracePipe> {
        for root in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
            let path = std::path::Path::new(root).join("trace_pipe");
            if path.exists() {
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags_nonblock()
                    .open(path)?;
                return Ok(TracePipe {
                    fd: f.into(),
                    child: None,
                });
            }
        }
        let (fd, pid) = crate::perf::stream_tracefs("trace_pipe")?;
        set_nonblock(fd.as_fd())?;
        Ok(TracePipe {
            fd,
            child: Some(pid),
        })
    }

    /// Reads what is available now (empty if nothing).
    ///
    /// # Errors
    /// A read error other than "nothing yet".
    pub fn read_available(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            // SAFETY: reads into a live buffer of its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                out.extend_from_slice(&buf[..n as usize]);
                continue;
            }
            if n == 0 {
                return Ok(out);
            }
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) => Ok(out),
                _ => Err(e),
            };
        }
    }
}

impl AsFd for TracePipe {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for TracePipe {
    fn drop(&mut self) {
        if let Some(pid) = self.child.take() {
            // SIGKILL: the child inherited our blocked SIGTERM, and has nothing to clean
            // up (its mount namespace goes with it).
            // SAFETY: signals and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

fn set_nonblock(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fcntl on an open descriptor, no memory involved.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt as _;
        self.custom_flags(libc::O_NONBLOCK)
    }
}
