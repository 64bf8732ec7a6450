//! BPF maps from user space: the [`Map`] handle (an fd plus its definition) and its
//! element operations. Per-CPU maps read and write one value per possible CPU, each
//! padded to 8 bytes, as the kernel lays them out.
//!
//! Where it sits: beside `oxbpf-prog`, on top of `oxbpf-sys`; `oxbpf-loader` creates
//! maps and hands them out as `Map`s. Besides the element operations: lookup-and-delete,
//! queue/stack push/pop/peek, batch lookup/update/delete (falling back to one element
//! at a time where the kernel has no batch for the map), and typed access for plain
//! values ([`Plain`]). The ring and perf buffer consumers are [`ringbuf`] and
//! [`perfbuf`]: their record protocols are here, in safe Rust, over the memory
//! `oxbpf_sys::ringbuf` and `oxbpf_sys::perfbuf` map and check.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod perfbuf;
pub mod ringbuf;
pub mod typed;

/// Waiting for records: `poll` over ring buffer, perf buffer and other fds, and
/// SIGINT/SIGTERM as an fd to wait on beside them (how a consumer loop stops cleanly).
pub mod events {
    pub use oxbpf_sys::events::{TermSignals, poll};
}

/// How many CPUs the kernel may run (`/sys/devices/system/cpu/possible`): the number
/// of values of a per-CPU map element, and of rings a perf buffer needs.
pub use oxbpf_sys::cpu::possible_cpus;

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use oxbpf_sys::SysError;
use oxbpf_sys::bpf;
use oxbpf_sys::uapi::{MapInfo, MapType, name_str};

/// A map operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The kernel refused the operation.
    #[error("map `{map}`: {op}")]
    Sys {
        /// The map.
        map: String,
        /// What was attempted.
        op: &'static str,
        /// The kernel's answer.
        #[source]
        source: SysError,
    },
    /// A key or value has the wrong size for the map.
    #[error("map `{map}`: {what} is {got} bytes, the map's is {want}")]
    Size {
        /// The map.
        map: String,
        /// "key" or "value".
        what: &'static str,
        /// Given size.
        got: usize,
        /// Expected size.
        want: usize,
    },
    /// The path cannot be passed to the kernel.
    #[error("map `{map}`: path {path:?} contains a NUL byte")]
    Path {
        /// The map.
        map: String,
        /// The path.
        path: String,
    },
    /// The number of possible CPUs could not be read.
    #[error("cannot read the possible CPUs")]
    Cpus(#[source] std::io::Error),
    /// The map cannot be memory-mapped.
    #[error("map `{map}`: cannot mmap it: {why}")]
    Mmap {
        /// The map.
        map: String,
        /// Why.
        why: String,
    },
    /// A typed view of the map does not fit it (`typed`): the error names the map's
    /// size and the Rust type's.
    #[error("map `{map}` as a typed map: {why}")]
    Typed {
        /// The map.
        map: String,
        /// What does not fit.
        why: String,
    },
    /// The map is not of the type the operation needs.
    #[error("map `{map}` is a {got}, not {want}")]
    WrongType {
        /// The map.
        map: String,
        /// Its type.
        got: MapType,
        /// What was needed ("a ring buffer").
        want: &'static str,
    },
    /// A ring buffer holds what the kernel never writes: reading stopped there.
    #[error("map `{map}`: {why}")]
    Corrupt {
        /// The map.
        map: String,
        /// What is wrong, and where.
        why: String,
    },
    /// Waiting for ring buffer records failed (`epoll_create1`, `epoll_ctl`,
    /// `epoll_wait`).
    #[error("waiting for ring buffer records")]
    Wait(#[source] std::io::Error),
}

/// A BPF map the process holds open: its fd bound to the sizes the kernel holds for it
/// ([`bpf::MapFd`]), and its name.
#[derive(Debug)]
pub struct Map {
    fd: bpf::MapFd,
    name: String,
    btf: MapBtfTypes,
}

/// A map key's or value's type as the object's BTF declares it (`__type(key, pid_t)`):
/// what typed views check `K` and `V` against, and name in their errors, so a mismatch
/// reads in the program's words (`struct stats`), not only in byte counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapBtfType {
    /// The C name of the type (`struct stats`, `u32`, `char[16]`).
    pub name: String,
    /// Its size in bytes (one CPU's value for per-CPU maps).
    pub size: u32,
}

/// The BTF key and value types a map was created with, when it was (maps loaded from
/// an object with `__type(...)` definitions); empty for maps opened by fd, id or pin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapBtfTypes {
    /// The key's type.
    pub key: Option<MapBtfType>,
    /// The value's type.
    pub value: Option<MapBtfType>,
}

impl Map {
    /// Maps the values of an array map created with `BPF_F_MMAPABLE` (global data
    /// sections are) into this process, shared with the programs: reads and writes
    /// through it need no syscall and touch only the bytes given. `writable` false for
    /// frozen maps (`.rodata`).
    ///
    /// # Errors
    /// Not an mmapable array; the kernel refuses (a frozen map mapped writable).
    pub fn mmap(&self, writable: bool) -> Result<oxbpf_sys::mmap::MapMemory, MapError> {
        let err = |why: String| MapError::Mmap {
            map: self.name.clone(),
            why,
        };
        if self.fd.map_type() != MapType::ARRAY
            || self.fd.map_flags() & oxbpf_sys::uapi::map_flags::MMAPABLE == 0
        {
            return Err(err("only arrays created with BPF_F_MMAPABLE can be".into()));
        }
        let len = self.fd.value_size() as usize * self.fd.max_entries() as usize;
        oxbpf_sys::mmap::MapMemory::map(self.fd.as_fd(), len, writable)
            .map_err(|e| err(e.to_string()))
    }

    /// Wraps a map fd, reading its definition from the kernel.
    ///
    /// # Errors
    /// If `fd` is not a map.
    pub fn from_fd(fd: OwnedFd) -> Result<Map, MapError> {
        let (fd, info) = bpf::MapFd::from_fd(fd).map_err(|source| MapError::Sys {
            map: "?".into(),
            op: "read its info",
            source,
        })?;
        Ok(Map {
            fd,
            name: name_str(&info.name),
            btf: MapBtfTypes::default(),
        })
    }

    /// Wraps a map whose sizes are bound to its fd (one just created, say), under the
    /// kernel's name for it.
    pub fn from_map_fd(fd: bpf::MapFd) -> Map {
        Map {
            name: fd.name(),
            fd,
            btf: MapBtfTypes::default(),
        }
    }

    /// The fd with the map's sizes, for the element commands of `oxbpf_sys::bpf` and
    /// the ring and perf buffer memory of `oxbpf_sys`.
    pub fn map_fd(&self) -> &bpf::MapFd {
        &self.fd
    }

    /// Opens the map pinned at `path`.
    ///
    /// # Errors
    /// If nothing is pinned there or it is not a map.
    pub fn from_pin(path: &Path) -> Result<Map, MapError> {
        let c = cpath(path, "?")?;
        let fd = bpf::obj_get(&c, 0).map_err(|source| MapError::Sys {
            map: path.display().to_string(),
            op: "open pinned map",
            source,
        })?;
        Map::from_fd(fd)
    }

    /// Renames the handle (not the kernel's map): a map loaded from an object keeps its
    /// full name from the object, as libbpf's `bpf_map__name` does, where the kernel
    /// keeps only 15 bytes.
    #[must_use]
    pub fn with_name(mut self, name: &str) -> Map {
        self.name = name.to_string();
        self
    }

    /// Records the BTF key and value types the map was created with (the loader does,
    /// for maps defined with `__type(...)`), for typed views to check against.
    #[must_use]
    pub fn with_btf_types(mut self, types: MapBtfTypes) -> Map {
        self.btf = types;
        self
    }

    /// The BTF key and value types the map was created with, as far as known.
    pub fn btf_types(&self) -> &MapBtfTypes {
        &self.btf
    }

    /// The map's name: its full name in the object for maps loaded from one, else the
    /// kernel's (15 bytes at most).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The map type.
    pub fn map_type(&self) -> MapType {
        self.fd.map_type()
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> u32 {
        self.fd.key_size()
    }

    /// Value size in bytes (of one CPU's value for per-CPU maps).
    pub fn value_size(&self) -> u32 {
        self.fd.value_size()
    }

    /// Capacity.
    pub fn max_entries(&self) -> u32 {
        self.fd.max_entries()
    }

    /// Flags it was created with.
    pub fn map_flags(&self) -> u32 {
        self.fd.map_flags()
    }

    /// The kernel's current description (including its id).
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn info(&self) -> Result<MapInfo, MapError> {
        bpf::map_info(self.fd.as_fd()).map_err(|source| self.sys("read its info", source))
    }

    /// The kernel-wide id.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn id(&self) -> Result<u32, MapError> {
        Ok(self.info()?.id)
    }

    fn sys(&self, op: &'static str, source: SysError) -> MapError {
        MapError::Sys {
            map: self.name.clone(),
            op,
            source,
        }
    }

    fn check(&self, what: &'static str, got: usize, want: usize) -> Result<(), MapError> {
        if got == want {
            Ok(())
        } else {
            Err(MapError::Size {
                map: self.name.clone(),
                what,
                got,
                want,
            })
        }
    }

    /// Bytes of a whole value as user space sees it: for per-CPU maps, one value per
    /// possible CPU, each rounded up to 8 bytes (read once, when the handle was made).
    ///
    /// # Errors
    /// None any more: the size is known since the handle was made (kept for callers).
    pub fn user_value_size(&self) -> Result<usize, MapError> {
        Ok(self.fd.value_len())
    }

    /// The value of `key`, or `None` if absent.
    ///
    /// # Errors
    /// A key of the wrong size; the kernel's errno other than `ENOENT`.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        self.check("key", key.len(), self.fd.key_size() as usize)?;
        let mut value = vec![0u8; self.user_value_size()?];
        match bpf::map_lookup_elem(&self.fd, key, &mut value, 0) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(self.sys("lookup", e)),
        }
    }

    /// Sets `key` to `value` (`flags`: 0 any, 1 only if new, 2 only if present).
    ///
    /// # Errors
    /// Sizes that do not fit the map; the kernel's errno.
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.check("key", key.len(), self.fd.key_size() as usize)?;
        self.check("value", value.len(), self.user_value_size()?)?;
        bpf::map_update_elem(&self.fd, key, value, flags).map_err(|e| self.sys("update", e))
    }

    /// Removes `key`.
    ///
    /// # Errors
    /// A key of the wrong size; the kernel's errno (`ENOENT` when absent).
    pub fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.check("key", key.len(), self.fd.key_size() as usize)?;
        bpf::map_delete_elem(&self.fd, key).map_err(|e| self.sys("delete", e))
    }

    /// Every key, in the kernel's order.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, MapError> {
        let mut keys = Vec::new();
        let mut next = vec![0u8; self.fd.key_size() as usize];
        loop {
            let prev = keys.last().map(Vec::as_slice);
            match bpf::map_get_next_key(&self.fd, prev, &mut next) {
                Ok(()) => keys.push(next.clone()),
                Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(keys),
                Err(e) => return Err(self.sys("iterate", e)),
            }
        }
    }

    /// Makes the map read-only for user space.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn freeze(&self) -> Result<(), MapError> {
        bpf::map_freeze(self.fd.as_fd()).map_err(|e| self.sys("freeze", e))
    }

    /// Pins the map at `path` in a bpffs.
    ///
    /// # Errors
    /// The kernel's errno (no bpffs there, already pinned...).
    pub fn pin(&self, path: &Path) -> Result<(), MapError> {
        let c = cpath(path, &self.name)?;
        bpf::obj_pin(self.fd.as_fd(), &c).map_err(|e| self.sys("pin", e))
    }
}

/// A key and its value, as bytes.
pub type Entry = (Vec<u8>, Vec<u8>);

/// `BPF_F_LOCK`: read or write a value holding a `bpf_spin_lock` under that lock.
pub const F_LOCK: u64 = 4;

impl Map {
    /// Opens the map with kernel id `id`.
    ///
    /// # Errors
    /// `ENOENT` when there is no such map; `EPERM` without `CAP_SYS_ADMIN`.
    pub fn from_id(id: u32) -> Result<Map, MapError> {
        let fd = bpf::get_fd_by_id(bpf::IdKind::Map, id).map_err(|source| MapError::Sys {
            map: format!("id {id}"),
            op: "open by id",
            source,
        })?;
        Map::from_fd(fd)
    }

    /// Removes the pin at `path` (the map itself lives on while anyone holds it).
    ///
    /// # Errors
    /// The file cannot be removed.
    pub fn unpin(path: &Path) -> std::io::Result<()> {
        std::fs::remove_file(path)
    }

    /// The value of `key`, removed from the map in the same step.
    ///
    /// # Errors
    /// A key of the wrong size; the kernel's errno other than `ENOENT` (`EINVAL` for map
    /// types without it).
    pub fn lookup_and_delete(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        self.check("key", key.len(), self.fd.key_size() as usize)?;
        let mut value = vec![0u8; self.user_value_size()?];
        match bpf::map_lookup_and_delete_elem(&self.fd, key, &mut value, 0) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(self.sys("lookup and delete", e)),
        }
    }

    /// Pushes `value` onto a queue or stack (or a bloom filter).
    ///
    /// # Errors
    /// `E2BIG` when full; a value of the wrong size.
    pub fn push(&self, value: &[u8]) -> Result<(), MapError> {
        self.update(&[], value, 0)
    }

    /// Takes the next value off a queue (oldest) or stack (newest).
    ///
    /// # Errors
    /// The kernel's errno other than `ENOENT` (empty).
    pub fn pop(&self) -> Result<Option<Vec<u8>>, MapError> {
        self.lookup_and_delete(&[])
    }

    /// The value `pop` would take, left in place.
    ///
    /// # Errors
    /// The kernel's errno other than `ENOENT` (empty).
    pub fn peek(&self) -> Result<Option<Vec<u8>>, MapError> {
        self.lookup(&[])
    }

    /// The value of `key`, read under the value's `bpf_spin_lock` (`BPF_F_LOCK`).
    ///
    /// # Errors
    /// As [`Map::lookup`]; `EINVAL` if the value has no spin lock.
    pub fn lookup_locked(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        self.check("key", key.len(), self.fd.key_size() as usize)?;
        let mut value = vec![0u8; self.user_value_size()?];
        match bpf::map_lookup_elem(&self.fd, key, &mut value, F_LOCK) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(self.sys("lookup (locked)", e)),
        }
    }

    /// Every entry, read with `BPF_MAP_LOOKUP_BATCH` in batches of `batch` entries, or
    /// one key at a time on kernels or map types without it.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn entries(&self, batch: u32) -> Result<Vec<Entry>, MapError> {
        let mut out = Vec::new();
        self.for_each_entry(batch, |k, v| out.push((k.to_vec(), v.to_vec())))?;
        Ok(out)
    }

    /// Calls `f` with each entry's key and value, read with `BPF_MAP_LOOKUP_BATCH` in
    /// batches of `batch` entries (one key at a time on kernels or map types without
    /// it), without allocating per entry: the slices point into the batch buffers.
    /// Returns how many entries were seen.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn for_each_entry(
        &self,
        batch: u32,
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> Result<usize, MapError> {
        let mut walk = self.batches(batch);
        let mut seen = 0;
        loop {
            let n = walk.next_batch()?;
            if n == 0 {
                return Ok(seen);
            }
            seen += n;
            for (k, v) in walk.iter() {
                f(k, v);
            }
        }
    }

    /// A walk over the map's entries a batch of `batch` at a time, each batch read
    /// with one `BPF_MAP_LOOKUP_BATCH` (one key at a time on kernels or map types
    /// without it): what [`Map::for_each_entry`] and the typed iterators read from,
    /// for callers that want to stop early or hold no closure.
    pub fn batches(&self, batch: u32) -> EntryBatches<'_> {
        let batch = batch.max(1);
        let (ks, vs) = (self.fd.key_size() as usize, self.fd.value_len());
        EntryBatches {
            map: self,
            batch,
            keys: vec![0u8; ks * batch as usize],
            values: vec![0u8; vs * batch as usize],
            pos_in: None,
            // Hash maps keep a u32 bucket as the position, the generic batch code a key.
            pos_out: vec![0u8; ks.max(4)],
            len: 0,
            seen: 0,
            // Keyless maps (queues, stacks) have no batch lookup.
            mode: if ks == 0 || vs == 0 {
                Walk::KeyByKey { prev: None }
            } else {
                Walk::Batched
            },
        }
    }

    /// Sets every `(key, value)`, with one `BPF_MAP_UPDATE_BATCH` where the kernel has it.
    ///
    /// # Errors
    /// Sizes that do not fit; the kernel's errno.
    pub fn update_all(&self, entries: &[Entry], flags: u64) -> Result<(), MapError> {
        let vs = self.user_value_size()?;
        let mut keys = Vec::with_capacity(entries.len() * self.fd.key_size() as usize);
        let mut values = Vec::with_capacity(entries.len() * vs);
        for (k, v) in entries {
            self.check("key", k.len(), self.fd.key_size() as usize)?;
            self.check("value", v.len(), vs)?;
            keys.extend_from_slice(k);
            values.extend_from_slice(v);
        }
        self.update_flat(&keys, &values, entries.len(), flags)
    }

    /// Sets `count` entries whose keys and values lie end to end in `keys` and
    /// `values` (sizes checked by the caller), with one `BPF_MAP_UPDATE_BATCH` where the
    /// kernel has it, else one at a time.
    pub(crate) fn update_flat(
        &self,
        keys: &[u8],
        values: &[u8],
        count: usize,
        flags: u64,
    ) -> Result<(), MapError> {
        let (ks, vs) = (self.fd.key_size() as usize, self.fd.value_len());
        self.check("keys", keys.len(), count * ks)?;
        self.check("values", values.len(), count * vs)?;
        let n = u32::try_from(count).map_err(|_| MapError::Size {
            map: self.name.clone(),
            what: "batch",
            got: count,
            want: u32::MAX as usize,
        })?;
        match bpf::map_update_batch(&self.fd, keys, values, n, flags) {
            Ok(_) => Ok(()),
            Err((e, 0)) if matches!(e.errno(), Some(libc::EINVAL | libc::ENOTSUP | 524)) => {
                log::debug!(
                    "map `{}`: no batch update ({e}); one key at a time",
                    self.name
                );
                (0..count).try_for_each(|i| {
                    self.update(
                        &keys[i * ks..(i + 1) * ks],
                        &values[i * vs..(i + 1) * vs],
                        flags,
                    )
                })
            }
            Err((e, _)) => Err(self.sys("update batch", e)),
        }
    }

    /// Removes every key in `keys`, with one `BPF_MAP_DELETE_BATCH` where the kernel
    /// has it.
    ///
    /// # Errors
    /// A key of the wrong size; the kernel's errno (`ENOENT` for an absent key).
    pub fn delete_all(&self, keys: &[Vec<u8>]) -> Result<(), MapError> {
        let mut flat = Vec::with_capacity(keys.len() * self.fd.key_size() as usize);
        for k in keys {
            self.check("key", k.len(), self.fd.key_size() as usize)?;
            flat.extend_from_slice(k);
        }
        self.delete_flat(&flat, keys.len())
    }

    /// Removes `count` keys lying end to end in `keys`, with one
    /// `BPF_MAP_DELETE_BATCH` where the kernel has it, else one at a time.
    pub(crate) fn delete_flat(&self, keys: &[u8], count: usize) -> Result<(), MapError> {
        let ks = self.fd.key_size() as usize;
        self.check("keys", keys.len(), count * ks)?;
        let n = u32::try_from(count).map_err(|_| MapError::Size {
            map: self.name.clone(),
            what: "batch",
            got: count,
            want: u32::MAX as usize,
        })?;
        match bpf::map_delete_batch(&self.fd, keys, n) {
            Ok(_) => Ok(()),
            Err((e, 0)) if matches!(e.errno(), Some(libc::EINVAL | libc::ENOTSUP | 524)) => {
                log::debug!(
                    "map `{}`: no batch delete ({e}); one key at a time",
                    self.name
                );
                (0..count).try_for_each(|i| self.delete(&keys[i * ks..(i + 1) * ks]))
            }
            Err((e, _)) => Err(self.sys("delete batch", e)),
        }
    }

    /// Typed lookup of plain values (integers, byte arrays).
    ///
    /// # Errors
    /// Sizes that do not match the map, before any syscall; the kernel's errno.
    pub fn get<K: Plain, V: Plain>(&self, key: &K) -> Result<Option<V>, MapError> {
        self.check("key", K::SIZE, self.fd.key_size() as usize)?;
        self.check("value", V::SIZE, self.user_value_size()?)?;
        Ok(self.lookup(&key.to_bytes())?.map(|v| V::from_bytes(&v)))
    }

    /// Typed update of plain values.
    ///
    /// # Errors
    /// Sizes that do not match the map, before any syscall; the kernel's errno.
    pub fn set<K: Plain, V: Plain>(&self, key: &K, value: &V, flags: u64) -> Result<(), MapError> {
        self.update(&key.to_bytes(), &value.to_bytes(), flags)
    }
}

/// A walk over a map's entries, a batch at a time ([`Map::batches`]): each
/// [`EntryBatches::next_batch`] reads the next batch into buffers reused from one batch
/// to the next, whose entries [`EntryBatches::iter`] then lends out. Where the kernel has
/// no batch lookup for the map (before Linux 5.6, or a map type without it) the walk goes
/// key by key (`BPF_MAP_GET_NEXT_KEY`, then a lookup), one entry per batch.
#[derive(Debug)]
pub struct EntryBatches<'m> {
    map: &'m Map,
    batch: u32,
    keys: Vec<u8>,
    values: Vec<u8>,
    pos_in: Option<Vec<u8>>,
    pos_out: Vec<u8>,
    /// Entries in the buffers now.
    len: usize,
    /// Entries read so far: a batch lookup refused before any is a missing feature,
    /// after some a real failure.
    seen: usize,
    mode: Walk,
}

#[derive(Debug)]
enum Walk {
    Batched,
    KeyByKey { prev: Option<Vec<u8>> },
    Done,
}

impl EntryBatches<'_> {
    /// Reads the next batch; returns how many entries it holds, 0 when the walk is over.
    ///
    /// # Errors
    /// The kernel's errno (the walk is then over).
    pub fn next_batch(&mut self) -> Result<usize, MapError> {
        self.len = 0;
        let got = match self.mode {
            Walk::Done => return Ok(0),
            Walk::Batched => self.next_batched(),
            Walk::KeyByKey { .. } => self.next_key(),
        };
        match got {
            Ok(n) => {
                self.len = n;
                self.seen += n;
                Ok(n)
            }
            Err(e) => {
                self.mode = Walk::Done;
                Err(e)
            }
        }
    }

    fn next_batched(&mut self) -> Result<usize, MapError> {
        let b = bpf::Batch {
            keys: &mut self.keys,
            values: &mut self.values,
            in_batch: self.pos_in.as_deref(),
            out_batch: &mut self.pos_out,
        };
        let n = match bpf::map_lookup_batch(&self.map.fd, b, self.batch) {
            Ok(0) => {
                // Not an answer the kernel gives; ending here keeps the walk finite.
                self.mode = Walk::Done;
                0
            }
            Ok(n) => {
                match &mut self.pos_in {
                    Some(p) => p.copy_from_slice(&self.pos_out),
                    None => self.pos_in = Some(self.pos_out.clone()),
                }
                n
            }
            Err((e, n)) if e.errno() == Some(libc::ENOENT) => {
                self.mode = Walk::Done;
                n
            }
            Err((e, _))
                if self.seen == 0
                    && matches!(
                        e.errno(),
                        Some(libc::EINVAL | libc::ENOTSUP | 524 | libc::EPERM)
                    ) =>
            {
                log::debug!(
                    "map `{}`: no batch lookup ({e}); reading key by key",
                    self.map.name
                );
                self.mode = Walk::KeyByKey { prev: None };
                return self.next_key();
            }
            Err((e, _)) => return Err(self.map.sys("lookup batch", e)),
        };
        // The kernel never reports more than it was asked for; clamp all the same.
        Ok((n as usize).min(self.batch as usize))
    }

    fn next_key(&mut self) -> Result<usize, MapError> {
        let (ks, vs) = (self.map.fd.key_size() as usize, self.map.fd.value_len());
        let Walk::KeyByKey { prev } = &mut self.mode else {
            return Ok(0);
        };
        let mut next = vec![0u8; ks];
        loop {
            match bpf::map_get_next_key(&self.map.fd, prev.as_deref(), &mut next) {
                Ok(()) => {}
                Err(e) if e.errno() == Some(libc::ENOENT) => {
                    self.mode = Walk::Done;
                    return Ok(0);
                }
                Err(e) => return Err(self.map.sys("iterate", e)),
            }
            let value = &mut self.values[..vs];
            match bpf::map_lookup_elem(&self.map.fd, &next, value, 0) {
                Ok(()) => {
                    self.keys[..ks].copy_from_slice(&next);
                    *prev = Some(next);
                    return Ok(1);
                }
                // Deleted since its key was read: go on from it.
                Err(e) if e.errno() == Some(libc::ENOENT) => *prev = Some(next.clone()),
                Err(e) => return Err(self.map.sys("lookup", e)),
            }
        }
    }

    /// Entry `i` of the batch read last: its key and value bytes.
    pub fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        if i >= self.len {
            return None;
        }
        let (ks, vs) = (self.map.fd.key_size() as usize, self.map.fd.value_len());
        Some((
            self.keys.get(i * ks..(i + 1) * ks)?,
            self.values.get(i * vs..(i + 1) * vs)?,
        ))
    }

    /// The entries of the batch read last.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        (0..self.len).filter_map(|i| self.get(i))
    }
}

/// A plain value with a fixed size and no padding, read and written in native byte
/// order: what typed map access takes.
pub trait Plain: Sized {
    /// Its size in bytes.
    const SIZE: usize;
    /// Its bytes.
    fn to_bytes(&self) -> Vec<u8>;
    /// From exactly [`Plain::SIZE`] bytes.
    fn from_bytes(b: &[u8]) -> Self;
}

macro_rules! plain_int {
    ($($t:ty),*) => {$(
        impl Plain for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn to_bytes(&self) -> Vec<u8> { self.to_ne_bytes().to_vec() }
            fn from_bytes(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(&b[..Self::SIZE]);
                <$t>::from_ne_bytes(a)
            }
        }
    )*};
}
plain_int!(u8, u16, u32, u64, i8, i16, i32, i64);

impl<const N: usize> Plain for [u8; N] {
    const SIZE: usize = N;
    fn to_bytes(&self) -> Vec<u8> {
        self.to_vec()
    }
    fn from_bytes(b: &[u8]) -> Self {
        let mut a = [0u8; N];
        a.copy_from_slice(&b[..N]);
        a
    }
}

impl AsFd for Map {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn cpath(path: &Path, map: &str) -> Result<CString, MapError> {
    use std::os::unix::ffi::OsStrExt as _;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| MapError::Path {
        map: map.into(),
        path: path.display().to_string(),
    })
}
