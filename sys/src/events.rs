//! What a foreground tool waits on: Ctrl-C and SIGTERM as a readable fd (`signalfd`),
//! `poll` over several fds, an epoll set (what `oxbpf_maps::ringbuf::RingBufs` waits
//! on), and the kernel's trace pipe (`bpf_printk` output).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// SIGINT and SIGTERM, blocked for this thread and delivered through an fd instead, so
/// a loop can wait for them together with its other fds and clean up before exiting.
#[derive(Debug)]
pub struct TermSignals {
    fd: SignalFd,
}

impl TermSignals {
    /// Blocks SIGINT and SIGTERM on the calling thread and opens a signalfd for them.
    /// Call it before starting threads, which inherit the mask.
    ///
    /// # Errors
    /// `pthread_sigmask` or `signalfd` failed.
    pub fn new() -> io::Result<TermSignals> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        set.thread_block()?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
        Ok(TermSignals { fd })
    }

    /// The signal that arrived, if one did (non-blocking).
    pub fn take(&self) -> Option<i32> {
        let info = self.fd.read_signal().ok()??;
        i32::try_from(info.ssi_signo).ok()
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
/// `poll` failed (`EINTR` is reported as no fd ready); a timeout below -1.
pub fn poll(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<Vec<bool>> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let timeout = PollTimeout::try_from(timeout_ms)
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut p: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    match nix::poll::poll(&mut p, timeout) {
        Ok(_) => {}
        Err(nix::errno::Errno::EINTR) => return Ok(vec![false; fds.len()]),
        Err(e) => return Err(e.into()),
    }
    let ready = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
    Ok(p.iter()
        .map(|x| x.revents().is_some_and(|r| r.intersects(ready)))
        .collect())
}

/// An epoll instance: fds registered once, each with a key, and waited on together
/// (the fd of the set can itself sit in a larger event loop).
#[derive(Debug)]
pub struct EpollSet {
    epoll: nix::sys::epoll::Epoll,
}

impl EpollSet {
    /// An empty set (close-on-exec).
    ///
    /// # Errors
    /// `epoll_create1` failed.
    pub fn new() -> io::Result<EpollSet> {
        use nix::sys::epoll::{Epoll, EpollCreateFlags};
        Ok(EpollSet {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
        })
    }

    /// Adds `fd`, reported as `key` when it is readable.
    ///
    /// # Errors
    /// `epoll_ctl` failed (`EEXIST` for an fd already in the set).
    pub fn add(&self, fd: BorrowedFd<'_>, key: u64) -> io::Result<()> {
        use nix::sys::epoll::{EpollEvent, EpollFlags};
        Ok(self
            .epoll
            .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, key))?)
    }

    /// Waits up to `timeout_ms` (-1: forever) for some fd to be readable and returns
    /// the keys of those that are, at most `max` (and 16) of them (empty on timeout or
    /// a signal).
    ///
    /// # Errors
    /// `epoll_wait` failed; a timeout below -1.
    pub fn wait(&self, timeout_ms: i32, max: usize) -> io::Result<Vec<u64>> {
        use nix::sys::epoll::{EpollEvent, EpollTimeout};
        let timeout = EpollTimeout::try_from(timeout_ms)
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut events = [EpollEvent::empty(); 16];
        let max = max.clamp(1, events.len());
        let n = match self.epoll.wait(&mut events[..max], timeout) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(events.iter().take(n).map(EpollEvent::data).collect())
    }
}

impl AsFd for EpollSet {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }
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
    /// tracefs is unreachable (no privileges to mount it): the error names the
    /// capability this process lacks.
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
        // The child would fail to mount tracefs, and its pipe would just end: say why
        // here instead, while it can be said.
        if let Some(why) = crate::perf::tracefs_refusal(false) {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
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
            match nix::unistd::read(&self.fd, &mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EAGAIN) => return Ok(out),
                Err(e) => return Err(e.into()),
            }
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
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

fn set_nonblock(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
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
