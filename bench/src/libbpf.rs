//! The reference loader, libbpf (built from libbpf-sys's bundled source), called the way
//! a C program calls it. Each function here is one of the operations measured.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use libbpf_sys as sys;

/// libbpf's messages would interleave with the table; none is needed.
unsafe extern "C" fn quiet(
    _level: sys::libbpf_print_level,
    _fmt: *const c_char,
    _args: *mut sys::__va_list_tag,
) -> c_int {
    0
}

/// Silences libbpf's logging.
pub fn silence() {
    // SAFETY: installs a callback that touches nothing.
    unsafe { sys::libbpf_set_print(Some(quiet)) };
}

fn cpath(p: &Path) -> CString {
    use std::os::unix::ffi::OsStrExt as _;
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

/// `btf__load_vmlinux_btf`, how libbpf reads the running kernel's BTF for CO-RE (it
/// maps `/sys/kernel/btf/vmlinux` where the kernel allows); with `find`, also the
/// (linear) lookup of a struct by name that its CO-RE code does. Returns the number of
/// types.
pub fn parse_vmlinux_btf(find: Option<&CStr>) -> Result<u32, String> {
    // SAFETY: no arguments; returns a new object or null.
    let btf = unsafe { sys::btf__load_vmlinux_btf() };
    if btf.is_null() {
        return Err(format!(
            "btf__load_vmlinux_btf: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `btf` is the live object returned above.
    let n = unsafe { sys::btf__type_cnt(btf) };
    if let Some(name) = find {
        // SAFETY: as above; `name` is NUL-terminated.
        let id = unsafe { sys::btf__find_by_name_kind(btf, name.as_ptr(), sys::BTF_KIND_STRUCT) };
        std::hint::black_box(id);
    }
    // SAFETY: frees the object created above, once.
    unsafe { sys::btf__free(btf) };
    Ok(n)
}

/// Opens `path` and loads the programs named in `only` (the others are not loaded), then
/// closes everything, as `bpf_object__open_file` + `bpf_object__load` + `__close`;
/// `loaded` is called between load and close.
pub fn open_load_close(
    path: &Path,
    only: &[String],
    loaded: &mut dyn FnMut(),
) -> Result<(), String> {
    let c = cpath(path);
    // SAFETY: a NUL-terminated path; null options mean the defaults.
    let obj = unsafe { sys::bpf_object__open_file(c.as_ptr(), std::ptr::null()) };
    if obj.is_null() {
        return Err(format!("open: {}", std::io::Error::last_os_error()));
    }
    let mut prog = std::ptr::null_mut();
    loop {
        // SAFETY: `obj` is live; `prog` is null or a program of it.
        prog = unsafe { sys::bpf_object__next_program(obj, prog) };
        if prog.is_null() {
            break;
        }
        // SAFETY: `prog` is a live program of `obj`; its name is a C string it owns.
        let name = unsafe { CStr::from_ptr(sys::bpf_program__name(prog)) };
        let wanted = only.iter().any(|o| o.as_bytes() == name.to_bytes());
        // SAFETY: as above; before load, autoload may be changed.
        unsafe { sys::bpf_program__set_autoload(prog, wanted) };
    }
    // SAFETY: `obj` is live and opened.
    let err = unsafe { sys::bpf_object__load(obj) };
    if err == 0 {
        loaded();
    }
    // SAFETY: closes the object (and every fd it holds), once.
    unsafe { sys::bpf_object__close(obj) };
    if err != 0 {
        return Err(format!("load: {}", std::io::Error::from_raw_os_error(-err)));
    }
    Ok(())
}

struct RingCount {
    records: u64,
    sum: u64,
}

unsafe extern "C" fn on_record(ctx: *mut c_void, data: *mut c_void, size: sys::size_t) -> c_int {
    // SAFETY: `ctx` is the RingCount passed to ring_buffer__new, alive for the consume;
    // libbpf hands a record of `size` bytes, and every benchmark record has 8 or more.
    unsafe {
        let c = &mut *ctx.cast::<RingCount>();
        c.records += 1;
        if size >= 8 {
            c.sum = c.sum.wrapping_add(data.cast::<u64>().read_unaligned());
        }
    }
    0
}

/// Consumes everything in ring buffer map `fd` with `ring_buffer__consume`, the callback
/// adding each record's first word. Returns (records, sum). The ring_buffer object is
/// made before the clock starts (`start` is called once it exists).
pub fn ring_consume(fd: BorrowedFd<'_>, start: impl FnOnce()) -> Result<(u64, u64), String> {
    let mut count = RingCount { records: 0, sum: 0 };
    // SAFETY: a live map fd; the callback and its context outlive the ring_buffer,
    // which is freed below.
    let rb = unsafe {
        sys::ring_buffer__new(
            fd.as_raw_fd(),
            Some(on_record),
            (&raw mut count).cast(),
            std::ptr::null(),
        )
    };
    if rb.is_null() {
        return Err(format!(
            "ring_buffer__new: {}",
            std::io::Error::last_os_error()
        ));
    }
    start();
    // SAFETY: `rb` is live; the callback's context is `count`, still alive.
    let n = unsafe { sys::ring_buffer__consume(rb) };
    // SAFETY: frees the ring_buffer made above, once.
    unsafe { sys::ring_buffer__free(rb) };
    if n < 0 {
        return Err(format!(
            "ring_buffer__consume: {}",
            std::io::Error::from_raw_os_error(-n)
        ));
    }
    Ok((count.records, count.sum))
}

/// Reads every entry of a hash map of u32 keys and u64 values with
/// `bpf_map_lookup_batch` in batches of `batch`, summing the values. Returns (entries,
/// sum).
pub fn dump_batch(fd: BorrowedFd<'_>, batch: u32) -> Result<(u64, u64), String> {
    let mut keys = vec![0u32; batch as usize];
    let mut values = vec![0u64; batch as usize];
    let (mut in_b, mut out_b) = (0u32, 0u32);
    let mut first = true;
    let (mut n, mut sum) = (0u64, 0u64);
    loop {
        let mut count = batch;
        // SAFETY: every buffer holds `batch` entries of the map's key and value sizes;
        // the batch positions are u32 (enough for a hash map's bucket index).
        let err = unsafe {
            sys::bpf_map_lookup_batch(
                fd.as_raw_fd(),
                if first {
                    std::ptr::null_mut()
                } else {
                    (&raw mut in_b).cast()
                },
                (&raw mut out_b).cast(),
                keys.as_mut_ptr().cast(),
                values.as_mut_ptr().cast(),
                &raw mut count,
                std::ptr::null(),
            )
        };
        let errno = if err < 0 { -err } else { 0 };
        if err < 0 && errno != libc::ENOENT {
            return Err(format!(
                "bpf_map_lookup_batch: {}",
                std::io::Error::from_raw_os_error(errno)
            ));
        }
        for v in &values[..count as usize] {
            sum = sum.wrapping_add(*v);
        }
        n += u64::from(count);
        if errno == libc::ENOENT {
            return Ok((n, sum));
        }
        in_b = out_b;
        first = false;
    }
}
