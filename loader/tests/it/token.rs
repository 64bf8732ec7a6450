//! BPF tokens (6.9): a process in a user namespace, without any capability in the
//! initial one, loads and runs a program through a token made from a bpffs that a
//! privileged process delegated to it — the kernel selftests' token test, with oxbpf.
//!
//! The test re-runs itself in a child made with new user and mount namespaces (root in
//! them, mapped to root: it can read the testdata, but every `bpf()` capability check
//! looks at the initial namespace, where it has nothing). The child opens a bpffs
//! context (`fsopen`), which only a privileged process may configure for delegation:
//! it hands it over a socket, this process sets `delegate_cmds/maps/progs/attachs` and
//! makes the mount (`fsconfig`, `fsmount`), and hands the mount back. The child then
//! loads `xdp_pass.bpf.o` with `LoadOptions::bpf_token_path` naming that mount and
//! runs it; without the token the same load is refused, saying what is missing.

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use oxbpf_loader::Object;
use oxbpf_loader::load::LoadOptions;
use oxbpf_loader::prelude::*;
use oxbpf_sys::gate;

const TEST: &str = "token::a_bpf_token_lets_a_user_namespace_load_and_run_a_program";
/// The child's end of the socket pair, by fd number.
const SOCK_ENV: &str = "OXBPF_TOKEN_SOCK";

#[test]
fn a_bpf_token_lets_a_user_namespace_load_and_run_a_program() {
    if let Some(fd) = std::env::var(SOCK_ENV).ok().and_then(|v| v.parse().ok()) {
        return in_user_namespace(fd);
    }
    let _serial = crate::serial();
    if !gate::require_bpf(TEST) {
        return;
    }
    if !crate::kernel_since(6, 9) {
        eprintln!("{TEST}: no BPF tokens before 6.9");
        return;
    }
    let (ours, theirs) = UnixStream::pair().unwrap();
    let theirs_fd = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", TEST, "--nocapture", "--test-threads", "1"])
        .env(SOCK_ENV, theirs_fd.to_string());
    // SAFETY: between fork and exec the child makes only system calls (fcntl, unshare,
    // open, write, close) on static strings: nothing that allocates or takes a lock.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            // The socket survives exec.
            if libc::fcntl(theirs_fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Root in the new namespace, as the same uid and gid outside: capabilities
            // there survive the exec, and the files stay readable.
            for (path, text) in [
                (c"/proc/self/setgroups", &b"deny"[..]),
                (c"/proc/self/uid_map", &b"0 0 1"[..]),
                (c"/proc/self/gid_map", &b"0 0 1"[..]),
            ] {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let n = libc::write(fd, text.as_ptr().cast(), text.len());
                libc::close(fd);
                if n < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("re-running the test in a user namespace");
    drop(theirs);
    // The child's bpffs context, delegated here, where the capabilities are.
    let fs = recv_fd(&ours).expect("the child's fsopen(\"bpf\") fd");
    let mount = delegate(&fs).unwrap_or_else(|e| panic!("delegating the child's bpffs: {e}"));
    send_fd(&ours, mount.as_raw_fd()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "in the user namespace:\n{stdout}\n{stderr}"
    );
}

/// The child: a bpffs context to the parent, the delegated mount back, then the loads.
fn in_user_namespace(sock: RawFd) {
    // SAFETY: the parent passed this end of the pair down for this process to own.
    let sock = UnixStream::from(unsafe { OwnedFd::from_raw_fd(sock) });
    // SAFETY: fsopen(2) with a static NUL-terminated name; the fd is owned below.
    let fs = unsafe {
        libc::syscall(
            libc::SYS_fsopen,
            c"bpf".as_ptr(),
            1, /* FSOPEN_CLOEXEC */
        )
    };
    assert!(
        fs >= 0,
        "fsopen(\"bpf\") in a user namespace: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a new fd, owned from here.
    let fs = unsafe { OwnedFd::from_raw_fd(fs as RawFd) };
    send_fd(&sock, fs.as_raw_fd()).unwrap();
    let mount = recv_fd(&sock).expect("the delegated bpffs mount");
    let object = Object::open(crate::testdata("xdp_pass.bpf.o")).unwrap();

    // No capability in the initial namespace and no token: refused, saying what to do.
    let without = LoadOptions {
        bpf_token_path: Some("".into()),
        ..Default::default()
    };
    let e = crate::chain(&object.load(&without).unwrap_err());
    assert!(
        e.contains("this process runs in a user namespace, where the kernel takes bpf() only with a BPF token"),
        "{e}"
    );

    // With the token from the delegated bpffs: loaded, and it runs.
    let with = LoadOptions {
        bpf_token_path: Some(format!("/proc/self/fd/{}", mount.as_raw_fd()).into()),
        ..Default::default()
    };
    let loaded = object
        .load(&with)
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    let run = loaded
        .program("xdp_pass")
        .unwrap()
        .test_run(&[0u8; 64], &[])
        .unwrap_or_else(|e| panic!("{}", crate::chain(&e)));
    assert_eq!(run.retval, 2, "XDP_PASS");

    // The command line's --token, where the static binary is at hand (the kernel
    // matrix's OXBPF_CLI, or cargo's build of it beside this test binary).
    let Some(cli) = oxbpf_cli() else {
        return;
    };
    let object = crate::testdata("xdp_pass.bpf.o");
    let run = |token: &str| {
        let out = std::process::Command::new(&cli)
            .args(["load", object.to_str().unwrap(), "--token", token])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = run("");
    assert!(
        !ok && err.contains("user namespace") && err.contains("[with oxbpf: --token PATH]"),
        "{err}"
    );
    // The mount is this process's fd: another process reaches it through /proc.
    let path = format!("/proc/{}/fd/{}", std::process::id(), mount.as_raw_fd());
    let (ok, out, err) = run(&path);
    assert!(ok && out.contains("xdp_pass"), "{out}{err}");
}

/// The oxbpf command line: `OXBPF_CLI`, else `oxbpf` in cargo's output directory.
fn oxbpf_cli() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("OXBPF_CLI") {
        return Some(p.into());
    }
    let exe = std::env::current_exe().ok()?;
    let built = exe.parent()?.parent()?.join("oxbpf");
    built.exists().then_some(built)
}

/// Sets every `delegate_*` option of the bpffs context `fs` to `any`, creates the
/// filesystem and returns a detached mount of it (`fsconfig`, `fsmount`).
fn delegate(fs: &OwnedFd) -> std::io::Result<OwnedFd> {
    const FSCONFIG_SET_STRING: libc::c_int = 1;
    const FSCONFIG_CMD_CREATE: libc::c_int = 6;
    let check = |r: libc::c_long| {
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(r)
        }
    };
    for key in [
        c"delegate_cmds",
        c"delegate_maps",
        c"delegate_progs",
        c"delegate_attachs",
    ] {
        // SAFETY: fsconfig(2) with static NUL-terminated strings on our fd.
        check(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                c"any".as_ptr(),
                0,
            )
        })?;
    }
    // SAFETY: as above, with no key or value.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            0,
        )
    })?;
    // SAFETY: fsmount(2) of our configured context; the fd is owned below.
    let mnt = check(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            1, /* FSMOUNT_CLOEXEC */
            0,
        )
    })?;
    // SAFETY: a new fd, owned from here.
    Ok(unsafe { OwnedFd::from_raw_fd(mnt as RawFd) })
}

/// Sends `fd` over `sock` (SCM_RIGHTS).
fn send_fd(sock: &UnixStream, fd: RawFd) -> std::io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: a zeroed msghdr is valid; its pointers are set below to live buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `control` holds one cmsg of the size CMSG_SPACE gave; the header and data
    // pointers stay inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
    }
    // SAFETY: `msg` points at live buffers for the call.
    if unsafe { libc::sendmsg(sock.as_raw_fd(), &raw const msg, 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Receives an fd sent by [`send_fd`].
fn recv_fd(sock: &UnixStream) -> std::io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut control = vec![0u8; space];
    // SAFETY: a zeroed msghdr is valid; its pointers are set below to live buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `msg` points at live buffers for the call.
    if unsafe { libc::recvmsg(sock.as_raw_fd(), &raw mut msg, libc::MSG_CMSG_CLOEXEC) } <= 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel filled `control`; the first header, if any, is inside it.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&raw const msg) };
    if cmsg.is_null() {
        return Err(std::io::Error::other("no fd in the message"));
    }
    // SAFETY: a SCM_RIGHTS cmsg carries the fd right after its header.
    let fd = unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>()) };
    // SAFETY: the kernel installed this fd in this process for us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
