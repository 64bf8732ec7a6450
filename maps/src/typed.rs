//! Typed maps: a loaded [`Map`] seen as `HashMap<K, V>`, `Array<V>`, ... after a check
//! that its type and its key and value sizes are those of `K` and `V`, so every later
//! operation is on Rust values, with no byte offset. `K` and `V` are
//! [`bytemuck::Pod`]: plain old data whose every bit pattern is a value and whose bytes
//! are all initialised (derive it with `#[derive(Pod, Zeroable, Clone, Copy)]` on a
//! `#[repr(C)]` struct without padding). The values cross the kernel boundary as bytes,
//! copied, never reinterpreted in place: no `unsafe` here.
//!
//! Where the map was created from an object whose definition names its key and value
//! types (`__type(value, struct stats)`), the sizes are checked against those BTF types
//! too, and a mismatch is told in the program's words: "value type `struct stats`
//! (BTF) is 16 bytes, u64 is 8".
//!
//! ```no_run
//! # fn f(loaded: &oxbpf_maps::Map) -> Result<(), oxbpf_maps::MapError> {
//! use oxbpf_maps::typed::HashMap;
//! let counts: HashMap<'_, u32, u64> = HashMap::new(loaded)?;
//! for entry in counts.batch_iter(1024) {
//!     let (pid, n) = entry?;
//!     println!("{pid}: {n}");
//! }
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use bytemuck::Pod;
use oxbpf_sys::uapi::MapType;

use crate::perfbuf::{PerfBuf, PerfRecord};
use crate::{EntryBatches, F_LOCK, Map, MapBtfType, MapError};

/// Checks that `map` is one of `types` with `K`-sized keys (`u32` indexes for arrays) and
/// `V`-sized values (for per-CPU maps, one CPU's value).
fn check<K, V>(map: &Map, types: &[MapType], want: &'static str) -> Result<(), MapError> {
    expect_type(map, types, want)?;
    let btf = map.btf_types();
    if types
        .iter()
        .any(|t| matches!(*t, MapType::ARRAY | MapType::PERCPU_ARRAY))
    {
        fit(map, "key", btf.key.as_ref(), map.key_size(), "u32", 4)?;
    } else {
        fit(
            map,
            "key",
            btf.key.as_ref(),
            map.key_size(),
            std::any::type_name::<K>(),
            size_of::<K>(),
        )?;
    }
    fit(
        map,
        "value",
        btf.value.as_ref(),
        map.value_size(),
        std::any::type_name::<V>(),
        size_of::<V>(),
    )
}

/// Checks that a Rust type `rust` of `rust_size` bytes is the map's `what` ("key" or
/// "value"): against its BTF type when the map has one (the error then names it), and
/// against the map's size. (The kernel refuses BTF types of another size than the map's,
/// so the two agree; the BTF one names the type as the program does.)
fn fit(
    map: &Map,
    what: &'static str,
    btf: Option<&MapBtfType>,
    map_size: u32,
    rust: &str,
    rust_size: usize,
) -> Result<(), MapError> {
    let why = match btf {
        Some(t) if t.size as usize != rust_size => format!(
            "{what} type `{}` (BTF) is {} bytes, {rust} is {rust_size}",
            t.name, t.size
        ),
        _ if map_size as usize != rust_size => {
            format!("its {what}s are {map_size} bytes, and {rust} is {rust_size}")
        }
        _ => return Ok(()),
    };
    Err(MapError::Typed {
        map: map.name().to_string(),
        why,
    })
}

/// `bytes` as a `T`, or an error naming the map if they are not `T`'s size (never, once
/// the sizes were checked: this keeps a surprise from the kernel from being a panic).
fn pod<T: Pod>(map: &Map, bytes: &[u8]) -> Result<T, MapError> {
    bytemuck::try_pod_read_unaligned(bytes).map_err(|_| MapError::Typed {
        map: map.name().to_string(),
        why: format!(
            "the kernel gave {} bytes for a {} of {}",
            bytes.len(),
            std::any::type_name::<T>(),
            size_of::<T>()
        ),
    })
}

/// A hash map (`BPF_MAP_TYPE_HASH`, or `LRU_HASH`: an LRU map has every operation of a
/// hash map, as aya's `HashMap` takes both) of `K` to `V`.
#[derive(Debug, Clone, Copy)]
#[doc(alias = "BPF_MAP_TYPE_HASH")]
pub struct HashMap<'m, K, V> {
    map: &'m Map,
    _types: PhantomData<(K, V)>,
}

impl<'m, K: Pod, V: Pod> HashMap<'m, K, V> {
    /// `map` as a hash map of `K` to `V`.
    ///
    /// # Errors
    /// Not a hash or LRU hash map; key or value sizes other than `K`'s and `V`'s (the
    /// error names both, and the BTF type where the map has one).
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        check::<K, V>(map, &[MapType::HASH, MapType::LRU_HASH], "a hash map")?;
        Ok(HashMap {
            map,
            _types: PhantomData,
        })
    }

    /// The value at `key`, if any.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn get(&self, key: &K) -> Result<Option<V>, MapError> {
        self.map
            .lookup(bytemuck::bytes_of(key))?
            .map(|v| pod(self.map, &v))
            .transpose()
    }

    /// The value at `key` read under its `bpf_spin_lock` (`BPF_F_LOCK`): a consistent
    /// copy while programs update it under the lock. (The kernel leaves the lock's
    /// own bytes zero in the copy.)
    ///
    /// # Errors
    /// `EINVAL` when the value type has no `bpf_spin_lock` (the map needs BTF for
    /// that); the kernel's errno.
    #[doc(alias = "BPF_F_LOCK")]
    pub fn get_locked(&self, key: &K) -> Result<Option<V>, MapError> {
        self.map
            .lookup_locked(bytemuck::bytes_of(key))?
            .map(|v| pod(self.map, &v))
            .transpose()
    }

    /// Sets `key` to `value` (`flags`: 0, `BPF_NOEXIST` 1, `BPF_EXIST` 2, `BPF_F_LOCK` 4).
    ///
    /// # Errors
    /// The kernel's errno (`E2BIG` when full, `EEXIST`/`ENOENT` per `flags`).
    pub fn insert(&self, key: &K, value: &V, flags: u64) -> Result<(), MapError> {
        self.map
            .update(bytemuck::bytes_of(key), bytemuck::bytes_of(value), flags)
    }

    /// Sets `key` to `value` under the value's `bpf_spin_lock` (`BPF_F_LOCK` added to
    /// `flags`): the kernel copies all but the lock while holding it.
    ///
    /// # Errors
    /// As [`HashMap::get_locked`]; as [`HashMap::insert`].
    #[doc(alias = "BPF_F_LOCK")]
    pub fn insert_locked(&self, key: &K, value: &V, flags: u64) -> Result<(), MapError> {
        self.insert(key, value, flags | F_LOCK)
    }

    /// Removes `key`.
    ///
    /// # Errors
    /// The kernel's errno (`ENOENT` when absent).
    pub fn remove(&self, key: &K) -> Result<(), MapError> {
        self.map.delete(bytemuck::bytes_of(key))
    }

    /// The value at `key`, removed in the same step (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`,
    /// hash maps since Linux 5.14).
    ///
    /// # Errors
    /// The kernel's errno (`EINVAL` on kernels without it for hash maps).
    pub fn take(&self, key: &K) -> Result<Option<V>, MapError> {
        self.map
            .lookup_and_delete(bytemuck::bytes_of(key))?
            .map(|v| pod(self.map, &v))
            .transpose()
    }

    /// Every key.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn keys(&self) -> Result<Vec<K>, MapError> {
        self.map.keys()?.iter().map(|k| pod(self.map, k)).collect()
    }

    /// Every entry, read in batches where the kernel has them (see
    /// [`HashMap::batch_iter`] for the same without collecting).
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn iter(&self) -> Result<Vec<(K, V)>, MapError> {
        self.batch_iter(64).collect()
    }

    /// An iterator over the entries, reading `batch` of them at a time with
    /// `BPF_MAP_LOOKUP_BATCH` (key by key where the kernel has no batch lookup): no
    /// allocation per entry, and it stops reading when dropped. A map that programs
    /// change meanwhile may show an entry twice or miss one, as any walk of it does.
    pub fn batch_iter(&self, batch: u32) -> Entries<'m, K, V> {
        Entries::new(self.map, batch, pod_value::<V>)
    }

    /// Calls `f` with each entry, read `batch` at a time as [`HashMap::batch_iter`]
    /// does; returns how many there were.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn for_each(&self, batch: u32, mut f: impl FnMut(K, V)) -> Result<usize, MapError> {
        let mut bad = None;
        let n =
            self.map
                .for_each_entry(batch, |k, v| match (pod(self.map, k), pod(self.map, v)) {
                    (Ok(k), Ok(v)) => f(k, v),
                    (Err(e), _) | (_, Err(e)) => bad = Some(e),
                })?;
        bad.map_or(Ok(n), Err)
    }

    /// Sets every `(key, value)` of `entries` with one `BPF_MAP_UPDATE_BATCH` (one at
    /// a time on kernels without it); `flags`: 0, or `BPF_F_LOCK` (4), the only flag
    /// the kernel's batch update takes.
    ///
    /// # Errors
    /// The kernel's errno (`EINVAL` for other flags; `E2BIG` when the map fills up: the
    /// entries before are set).
    pub fn insert_batch(&self, entries: &[(K, V)], flags: u64) -> Result<(), MapError> {
        let mut keys = Vec::with_capacity(entries.len() * size_of::<K>());
        let mut values = Vec::with_capacity(entries.len() * size_of::<V>());
        for (k, v) in entries {
            keys.extend_from_slice(bytemuck::bytes_of(k));
            values.extend_from_slice(bytemuck::bytes_of(v));
        }
        self.map.update_flat(&keys, &values, entries.len(), flags)
    }

    /// Removes every key of `keys` with one `BPF_MAP_DELETE_BATCH` (one at a time on
    /// kernels without it).
    ///
    /// # Errors
    /// The kernel's errno (`ENOENT` for an absent key: the keys before are removed).
    pub fn remove_batch(&self, keys: &[K]) -> Result<(), MapError> {
        self.map.delete_flat(bytemuck::cast_slice(keys), keys.len())
    }

    /// The untyped map.
    pub fn map(&self) -> &'m Map {
        self.map
    }
}

/// An LRU hash map (`BPF_MAP_TYPE_LRU_HASH`) of `K` to `V`: a hash map that evicts the
/// least recently used entries when full. Every [`HashMap`] operation applies (through
/// `Deref`); the type says, and its constructor checks, that the map is an LRU one.
#[derive(Debug, Clone, Copy)]
#[doc(alias = "BPF_MAP_TYPE_LRU_HASH")]
pub struct LruHashMap<'m, K, V>(HashMap<'m, K, V>);

impl<'m, K: Pod, V: Pod> LruHashMap<'m, K, V> {
    /// `map` as an LRU hash map of `K` to `V`.
    ///
    /// # Errors
    /// Not an LRU hash map; key or value sizes other than `K`'s and `V`'s.
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        check::<K, V>(map, &[MapType::LRU_HASH], "an LRU hash map")?;
        Ok(LruHashMap(HashMap {
            map,
            _types: PhantomData,
        }))
    }
}

impl<'m, K, V> std::ops::Deref for LruHashMap<'m, K, V> {
    type Target = HashMap<'m, K, V>;

    fn deref(&self) -> &HashMap<'m, K, V> {
        &self.0
    }
}

/// A value as stored: a `V` (the sizes were checked).
fn pod_value<V: Pod>(bytes: &[u8]) -> Option<V> {
    bytemuck::try_pod_read_unaligned(bytes).ok()
}

/// A typed map's entries, read a batch at a time ([`HashMap::batch_iter`],
/// [`PerCpuHashMap::batch_iter`], [`Array::batch_iter`]). Each item is a key and its
/// value, or the error that ended the walk (the last item).
#[derive(Debug)]
pub struct Entries<'m, K, V> {
    walk: EntryBatches<'m>,
    /// The next entry of the batch read last, and how many it has.
    at: usize,
    len: usize,
    done: bool,
    value: fn(&[u8]) -> Option<V>,
    _key: PhantomData<fn() -> K>,
}

impl<'m, K, V> Entries<'m, K, V> {
    fn new(map: &'m Map, batch: u32, value: fn(&[u8]) -> Option<V>) -> Self {
        Entries {
            walk: map.batches(batch),
            at: 0,
            len: 0,
            done: false,
            value,
            _key: PhantomData,
        }
    }
}

impl<K: Pod, V> Iterator for Entries<'_, K, V> {
    type Item = Result<(K, V), MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.at == self.len {
            match self.walk.next_batch() {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(n) => (self.len, self.at) = (n, 0),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        let entry = self
            .walk
            .get(self.at)
            .and_then(|(k, v)| Some((bytemuck::try_pod_read_unaligned(k).ok()?, (self.value)(v)?)));
        self.at += 1;
        Some(entry.ok_or_else(|| {
            self.done = true;
            MapError::Typed {
                map: self.walk.map.name().to_string(),
                why: format!(
                    "an entry the kernel gave does not read as {} and {}",
                    std::any::type_name::<K>(),
                    std::any::type_name::<V>()
                ),
            }
        }))
    }
}

impl<K: Pod, V> std::iter::FusedIterator for Entries<'_, K, V> {}

/// An array (`BPF_MAP_TYPE_ARRAY`) of `V`, indexed from 0.
#[derive(Debug, Clone, Copy)]
pub struct Array<'m, V> {
    map: &'m Map,
    _types: PhantomData<V>,
}

impl<'m, V: Pod> Array<'m, V> {
    /// `map` as an array of `V`.
    ///
    /// # Errors
    /// Not an array; a value size other than `V`'s.
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        check::<u32, V>(map, &[MapType::ARRAY], "an array")?;
        Ok(Array {
            map,
            _types: PhantomData,
        })
    }

    /// The number of elements.
    pub fn len(&self) -> u32 {
        self.map.max_entries()
    }

    /// Whether the array has no element (never: the kernel refuses empty arrays).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `index`.
    ///
    /// # Errors
    /// `index` past the end (`ENOENT`); the kernel's errno.
    pub fn get(&self, index: u32) -> Result<V, MapError> {
        self.map
            .lookup(&index.to_ne_bytes())?
            .map(|v| pod(self.map, &v))
            .transpose()?
            .ok_or_else(|| self.past_end(index))
    }

    /// Sets element `index`.
    ///
    /// # Errors
    /// `index` past the end; the kernel's errno.
    pub fn set(&self, index: u32, value: &V) -> Result<(), MapError> {
        self.map
            .update(&index.to_ne_bytes(), bytemuck::bytes_of(value), 0)
    }

    /// Element `index` read under its `bpf_spin_lock` (`BPF_F_LOCK`).
    ///
    /// # Errors
    /// `EINVAL` when the value type has no `bpf_spin_lock`; `index` past the end.
    #[doc(alias = "BPF_F_LOCK")]
    pub fn get_locked(&self, index: u32) -> Result<V, MapError> {
        self.map
            .lookup_locked(&index.to_ne_bytes())?
            .map(|v| pod(self.map, &v))
            .transpose()?
            .ok_or_else(|| self.past_end(index))
    }

    /// Sets element `index` under its `bpf_spin_lock` (`BPF_F_LOCK`).
    ///
    /// # Errors
    /// As [`Array::get_locked`].
    #[doc(alias = "BPF_F_LOCK")]
    pub fn set_locked(&self, index: u32, value: &V) -> Result<(), MapError> {
        self.map
            .update(&index.to_ne_bytes(), bytemuck::bytes_of(value), F_LOCK)
    }

    /// An iterator over `(index, value)`, reading `batch` elements at a time with
    /// `BPF_MAP_LOOKUP_BATCH` (one by one on kernels without it).
    pub fn batch_iter(&self, batch: u32) -> Entries<'m, u32, V> {
        Entries::new(self.map, batch, pod_value::<V>)
    }

    #[cold]
    fn past_end(&self, index: u32) -> MapError {
        MapError::Typed {
            map: self.map.name().to_string(),
            why: format!("index {index} is past its {} elements", self.len()),
        }
    }
}

/// A per-CPU array (`BPF_MAP_TYPE_PERCPU_ARRAY`): each element holds one `V` per
/// possible CPU.
#[derive(Debug, Clone, Copy)]
pub struct PerCpuArray<'m, V> {
    map: &'m Map,
    _types: PhantomData<V>,
}

impl<'m, V: Pod> PerCpuArray<'m, V> {
    /// `map` as a per-CPU array of `V`.
    ///
    /// # Errors
    /// Not a per-CPU array; a value size other than `V`'s.
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        check::<u32, V>(map, &[MapType::PERCPU_ARRAY], "a per-CPU array")?;
        Ok(PerCpuArray {
            map,
            _types: PhantomData,
        })
    }

    /// Element `index`: its value on each possible CPU, in CPU order.
    ///
    /// # Errors
    /// `index` past the end; the kernel's errno.
    pub fn get(&self, index: u32) -> Result<Vec<V>, MapError> {
        let all = self
            .map
            .lookup(&index.to_ne_bytes())?
            .ok_or_else(|| MapError::Typed {
                map: self.map.name().to_string(),
                why: format!(
                    "index {index} is past its {} elements",
                    self.map.max_entries()
                ),
            })?;
        // The kernel rounds each CPU's value up to 8 bytes.
        let stride = size_of::<V>().next_multiple_of(8);
        Ok(all
            .chunks(stride)
            .map(|c| bytemuck::pod_read_unaligned(&c[..size_of::<V>()]))
            .collect())
    }

    /// Element `index` summed over the CPUs with `add` (what a per-CPU counter is for).
    ///
    /// # Errors
    /// As [`PerCpuArray::get`].
    pub fn sum(&self, index: u32, add: impl Fn(V, V) -> V) -> Result<Option<V>, MapError> {
        Ok(self.get(index)?.into_iter().reduce(add))
    }
}

/// A per-CPU hash map (`BPF_MAP_TYPE_PERCPU_HASH`, or `LRU_PERCPU_HASH`) of `K` to one
/// `V` per possible CPU.
#[derive(Debug, Clone, Copy)]
pub struct PerCpuHashMap<'m, K, V> {
    map: &'m Map,
    _types: PhantomData<(K, V)>,
}

impl<'m, K: Pod, V: Pod> PerCpuHashMap<'m, K, V> {
    /// `map` as a per-CPU hash map of `K` to `V`.
    ///
    /// # Errors
    /// Not a per-CPU hash map; key or value sizes other than `K`'s and `V`'s.
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        check::<K, V>(
            map,
            &[MapType::PERCPU_HASH, MapType::LRU_PERCPU_HASH],
            "a per-CPU hash map",
        )?;
        Ok(PerCpuHashMap {
            map,
            _types: PhantomData,
        })
    }

    /// The values at `key` on each possible CPU, in CPU order, if the key is there.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn get(&self, key: &K) -> Result<Option<Vec<V>>, MapError> {
        Ok(self
            .map
            .lookup(bytemuck::bytes_of(key))?
            .map(|all| per_cpu(&all)))
    }

    /// An iterator over the entries, each key with its values on each possible CPU,
    /// reading `batch` entries at a time (see [`HashMap::batch_iter`]).
    pub fn batch_iter(&self, batch: u32) -> Entries<'m, K, Vec<V>> {
        Entries::new(self.map, batch, |all| Some(per_cpu(all)))
    }
}

/// One `V` per CPU from a per-CPU value as the kernel copies it: each rounded up to 8
/// bytes.
fn per_cpu<V: Pod>(all: &[u8]) -> Vec<V> {
    let stride = size_of::<V>().next_multiple_of(8);
    all.chunks(stride)
        .filter(|c| c.len() >= size_of::<V>())
        .map(|c| bytemuck::pod_read_unaligned(&c[..size_of::<V>()]))
        .collect()
}

/// A queue (`BPF_MAP_TYPE_QUEUE`) of `V`: first in, first out.
#[derive(Debug, Clone, Copy)]
#[doc(alias = "BPF_MAP_TYPE_QUEUE")]
pub struct Queue<'m, V> {
    map: &'m Map,
    _types: PhantomData<V>,
}

impl<'m, V: Pod> Queue<'m, V> {
    /// `map` as a queue of `V`.
    ///
    /// # Errors
    /// Not a queue (a stack is a [`Stack`]); a value size other than `V`'s.
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        expect_type(map, &[MapType::QUEUE], "a queue")?;
        check_value::<V>(map)?;
        Ok(Queue {
            map,
            _types: PhantomData,
        })
    }

    /// Adds `value` at the back.
    ///
    /// # Errors
    /// The kernel's errno (`E2BIG` when full).
    pub fn push(&self, value: &V) -> Result<(), MapError> {
        self.map.push(bytemuck::bytes_of(value))
    }

    /// Takes the oldest value out, if any.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn pop(&self) -> Result<Option<V>, MapError> {
        self.map.pop()?.map(|v| pod(self.map, &v)).transpose()
    }

    /// The oldest value, left in place, if any.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn peek(&self) -> Result<Option<V>, MapError> {
        self.map.peek()?.map(|v| pod(self.map, &v)).transpose()
    }
}

/// A stack (`BPF_MAP_TYPE_STACK`) of `V`: last in, first out.
#[derive(Debug, Clone, Copy)]
#[doc(alias = "BPF_MAP_TYPE_STACK")]
pub struct Stack<'m, V> {
    map: &'m Map,
    _types: PhantomData<V>,
}

impl<'m, V: Pod> Stack<'m, V> {
    /// `map` as a stack of `V`.
    ///
    /// # Errors
    /// Not a stack (a queue is a [`Queue`]); a value size other than `V`'s.
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        expect_type(map, &[MapType::STACK], "a stack")?;
        check_value::<V>(map)?;
        Ok(Stack {
            map,
            _types: PhantomData,
        })
    }

    /// Puts `value` on top.
    ///
    /// # Errors
    /// The kernel's errno (`E2BIG` when full).
    pub fn push(&self, value: &V) -> Result<(), MapError> {
        self.map.push(bytemuck::bytes_of(value))
    }

    /// Takes the newest value off, if any.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn pop(&self) -> Result<Option<V>, MapError> {
        self.map.pop()?.map(|v| pod(self.map, &v)).transpose()
    }

    /// The newest value, left in place, if any.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn peek(&self) -> Result<Option<V>, MapError> {
        self.map.peek()?.map(|v| pod(self.map, &v)).transpose()
    }
}

/// The key of an LPM trie: a prefix length in bits, then the address bytes (`struct
/// bpf_lpm_trie_key` with its data, e.g. `LpmKey<[u8; 4]>` for IPv4), sent as the
/// kernel lays it out: the 4-byte length, then the address, no padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LpmKey<A> {
    /// How many leading bits of `addr` the entry matches.
    pub prefix_len: u32,
    /// The address, in network byte order.
    pub addr: A,
}

impl<A: Pod> LpmKey<A> {
    fn bytes(&self) -> Vec<u8> {
        let mut b = self.prefix_len.to_ne_bytes().to_vec();
        b.extend_from_slice(bytemuck::bytes_of(&self.addr));
        b
    }
}

/// A longest-prefix-match trie (`BPF_MAP_TYPE_LPM_TRIE`) from addresses `A` to `V`.
#[derive(Debug, Clone, Copy)]
pub struct LpmTrie<'m, A, V> {
    map: &'m Map,
    _types: PhantomData<(A, V)>,
}

impl<'m, A: Pod, V: Pod> LpmTrie<'m, A, V> {
    /// `map` as an LPM trie from `A` to `V` (its keys are [`LpmKey<A>`]).
    ///
    /// # Errors
    /// Not an LPM trie; key or value sizes other than those of `LpmKey<A>` and `V`.
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        expect_type(map, &[MapType::LPM_TRIE], "an LPM trie")?;
        check_value::<V>(map)?;
        // The key: 4 bytes of prefix length, then an `A`.
        fit(
            map,
            "key",
            map.btf_types().key.as_ref(),
            map.key_size(),
            &format!("a prefix length with {}", std::any::type_name::<A>()),
            4 + size_of::<A>(),
        )?;
        Ok(LpmTrie {
            map,
            _types: PhantomData,
        })
    }

    /// The value of the longest prefix that matches `addr` (all its bits), if any.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn longest_match(&self, addr: &A) -> Result<Option<V>, MapError> {
        let key = LpmKey {
            prefix_len: (size_of::<A>() * 8) as u32,
            addr: *addr,
        };
        self.map
            .lookup(&key.bytes())?
            .map(|v| pod(self.map, &v))
            .transpose()
    }

    /// Sets the entry for `key` (a prefix) to `value`.
    ///
    /// # Errors
    /// The kernel's errno (a prefix longer than the address: `EINVAL`).
    pub fn insert(&self, key: &LpmKey<A>, value: &V) -> Result<(), MapError> {
        self.map.update(&key.bytes(), bytemuck::bytes_of(value), 0)
    }

    /// Removes the entry for `key` (the exact prefix).
    ///
    /// # Errors
    /// The kernel's errno (`ENOENT` when absent).
    pub fn remove(&self, key: &LpmKey<A>) -> Result<(), MapError> {
        self.map.delete(&key.bytes())
    }
}

/// Checks only the value size (maps without keys).
fn check_value<V>(map: &Map) -> Result<(), MapError> {
    fit(
        map,
        "value",
        map.btf_types().value.as_ref(),
        map.value_size(),
        std::any::type_name::<V>(),
        size_of::<V>(),
    )
}

/// A ring or perf buffer record as a `T` (the struct the program sends), or `None` for
/// a record shorter than `T` (the program sent something else). Longer records (perf
/// buffers pad to 8 bytes) are read from their start.
pub fn record<T: Pod>(bytes: &[u8]) -> Option<T> {
    bytes
        .get(..size_of::<T>())
        .map(bytemuck::pod_read_unaligned)
}

/// The text of a fixed-size C string field (`char comm[16]`): up to its first NUL.
pub fn c_str(field: &[u8]) -> std::borrow::Cow<'_, str> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end])
}

/// A program array (`BPF_MAP_TYPE_PROG_ARRAY`): the programs `bpf_tail_call` jumps to,
/// by index.
#[derive(Debug, Clone, Copy)]
pub struct ProgArray<'m> {
    map: &'m Map,
}

impl<'m> ProgArray<'m> {
    /// `map` as a program array.
    ///
    /// # Errors
    /// Not a program array.
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        expect_type(map, &[MapType::PROG_ARRAY], "a program array")?;
        Ok(ProgArray { map })
    }

    /// Puts program `prog` (its fd) at `index`.
    ///
    /// # Errors
    /// `index` past the end; a program of another type than the array's first one.
    pub fn set(&self, index: u32, prog: std::os::fd::BorrowedFd<'_>) -> Result<(), MapError> {
        use std::os::fd::AsRawFd as _;
        self.map
            .update(&index.to_ne_bytes(), &prog.as_raw_fd().to_ne_bytes(), 0)
    }

    /// Empties slot `index`.
    ///
    /// # Errors
    /// The kernel's errno (`ENOENT` when already empty).
    pub fn clear(&self, index: u32) -> Result<(), MapError> {
        self.map.delete(&index.to_ne_bytes())
    }

    /// The kernel id of the program at `index`, if any.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn program_id(&self, index: u32) -> Result<Option<u32>, MapError> {
        Ok(self
            .map
            .lookup(&index.to_ne_bytes())?
            .map(|v| bytemuck::pod_read_unaligned(&v[..4])))
    }
}

/// A map of maps (`BPF_MAP_TYPE_ARRAY_OF_MAPS` by `u32` index, `HASH_OF_MAPS` by `K`).
#[derive(Debug, Clone, Copy)]
pub struct MapOfMaps<'m, K> {
    map: &'m Map,
    _types: PhantomData<K>,
}

impl<'m, K: Pod> MapOfMaps<'m, K> {
    /// `map` as a map of maps keyed by `K` (`u32` for an array of maps).
    ///
    /// # Errors
    /// Not a map of maps; a key size other than `K`'s.
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        expect_type(
            map,
            &[MapType::ARRAY_OF_MAPS, MapType::HASH_OF_MAPS],
            "a map of maps",
        )?;
        fit(
            map,
            "key",
            map.btf_types().key.as_ref(),
            map.key_size(),
            std::any::type_name::<K>(),
            size_of::<K>(),
        )?;
        Ok(MapOfMaps {
            map,
            _types: PhantomData,
        })
    }

    /// Puts map `inner` (its fd) at `key`.
    ///
    /// # Errors
    /// A map unlike the inner map template; the kernel's errno.
    pub fn set(&self, key: &K, inner: std::os::fd::BorrowedFd<'_>) -> Result<(), MapError> {
        use std::os::fd::AsRawFd as _;
        self.map
            .update(bytemuck::bytes_of(key), &inner.as_raw_fd().to_ne_bytes(), 0)
    }

    /// The kernel id of the map at `key`, if any.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn map_id(&self, key: &K) -> Result<Option<u32>, MapError> {
        Ok(self
            .map
            .lookup(bytemuck::bytes_of(key))?
            .map(|v| bytemuck::pod_read_unaligned(&v[..4])))
    }
}

/// A ring buffer (`BPF_MAP_TYPE_RINGBUF`, Linux 5.8+) whose records are `T`s: the
/// consumer of [`crate::ringbuf::RingBuf`], each record read as a `T` (see [`record`])
/// and handed over by value. A record shorter than `T` is not handed over but counted
/// ([`RingBuf::short_records`]); to read records of several shapes, use the untyped
/// consumer ([`RingBuf::untyped`]). Several rings in one wait: [`crate::ringbuf::RingBufs`].
///
/// ```no_run
/// # fn f(map: &oxbpf_maps::Map) -> Result<(), oxbpf_maps::MapError> {
/// #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
/// #[repr(C)]
/// struct Event { pid: u32, comm: [u8; 16], _pad: [u8; 4] }
/// let mut events = oxbpf_maps::typed::RingBuf::<Event>::new(map)?;
/// events.poll(100, |e| println!("{} {}", e.pid, oxbpf_maps::typed::c_str(&e.comm)))?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[doc(alias = "BPF_MAP_TYPE_RINGBUF")]
pub struct RingBuf<T> {
    ring: crate::ringbuf::RingBuf,
    /// The map, to wait on (a ring buffer's fd is readable when it has records).
    fd: OwnedFd,
    short: u64,
    _record: PhantomData<fn() -> T>,
}

impl<T: Pod> RingBuf<T> {
    /// Maps the ring buffer `map` to consume its records as `T`s.
    ///
    /// # Errors
    /// As [`crate::ringbuf::RingBuf::new`]: not a ring buffer, or it cannot be mapped;
    /// the map's fd cannot be duplicated ([`MapError::Wait`]).
    pub fn new(map: &Map) -> Result<Self, MapError> {
        let ring = crate::ringbuf::RingBuf::new(map)?;
        let fd = map.as_fd().try_clone_to_owned().map_err(MapError::Wait)?;
        Ok(RingBuf {
            ring,
            fd,
            short: 0,
            _record: PhantomData,
        })
    }

    /// Calls `f` with each record committed since the last call, as a `T`, in order;
    /// returns how many it handed over.
    ///
    /// # Errors
    /// The ring is corrupt (see [`crate::ringbuf::RingBuf::consume`]).
    pub fn consume(&mut self, mut f: impl FnMut(T)) -> Result<usize, MapError> {
        let mut short = 0;
        let n = self.ring.consume(|r| match record::<T>(r) {
            Some(t) => f(t),
            None => short += 1,
        })?;
        if short > 0 {
            log::debug!(
                "map `{}`: {short} ring buffer records shorter than {} ({} bytes) skipped",
                self.ring.name(),
                std::any::type_name::<T>(),
                size_of::<T>()
            );
            self.short += short as u64;
        }
        Ok(n - short)
    }

    /// Hands over the records there are; if there are none, waits up to `timeout_ms`
    /// (-1: until one comes) for some, then hands them over. Returns how many (0 on
    /// timeout or a signal).
    ///
    /// # Errors
    /// `poll` failed ([`MapError::Wait`]); the ring is corrupt.
    #[doc(alias = "ring_buffer__poll")]
    pub fn poll(&mut self, timeout_ms: i32, mut f: impl FnMut(T)) -> Result<usize, MapError> {
        let n = self.consume(&mut f)?;
        if n > 0 {
            return Ok(n);
        }
        oxbpf_sys::events::poll(&[self.fd.as_fd()], timeout_ms).map_err(MapError::Wait)?;
        self.consume(f)
    }

    /// How many records were too short to be a `T`, since the consumer was made.
    pub fn short_records(&self) -> u64 {
        self.short
    }

    /// The untyped consumer, for records of other shapes.
    pub fn untyped(&mut self) -> &mut crate::ringbuf::RingBuf {
        &mut self.ring
    }
}

impl<T> AsFd for RingBuf<T> {
    /// The map's fd: readable when the ring has records (to wait in another loop).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What a typed perf event array delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerfEvent<T> {
    /// A sample, read as a `T` (the kernel pads samples to 8 bytes; the padding is not
    /// part of it).
    Sample {
        /// The CPU whose ring it came from.
        cpu: u32,
        /// The sample.
        value: T,
    },
    /// The kernel dropped this many samples on `cpu`: the consumer fell behind.
    Lost {
        /// The CPU.
        cpu: u32,
        /// How many.
        count: u64,
    },
}

/// A perf event array (`BPF_MAP_TYPE_PERF_EVENT_ARRAY`) used as an output buffer whose
/// samples are `T`s: the rings of [`crate::perfbuf::PerfBuf`], one per possible CPU,
/// each sample read as a `T`. Samples shorter than `T` are counted
/// ([`PerfEventArray::short_samples`]), not handed over; losses are.
#[derive(Debug)]
#[doc(alias = "BPF_MAP_TYPE_PERF_EVENT_ARRAY")]
pub struct PerfEventArray<T> {
    buf: PerfBuf,
    short: u64,
    _sample: PhantomData<fn() -> T>,
}

impl<T: Pod> PerfEventArray<T> {
    /// Opens a ring of `pages` data pages (a power of two) for each possible CPU and
    /// stores them in `map`, as [`PerfBuf::new`] does.
    ///
    /// # Errors
    /// The possible CPUs cannot be read ([`MapError::Cpus`]); as [`PerfBuf::new`]: not a
    /// perf event array, `pages` not a power of two, a ring cannot be opened.
    #[doc(alias = "perf_buffer__new")]
    pub fn new(map: &Map, pages: usize) -> Result<Self, MapError> {
        let cpus = crate::possible_cpus().map_err(MapError::Cpus)?;
        Ok(PerfEventArray {
            buf: PerfBuf::new(map, cpus, pages)?,
            short: 0,
            _sample: PhantomData,
        })
    }

    /// Calls `f` with every sample (as a `T`) and loss now in the rings; returns how
    /// many it handed over.
    pub fn consume(&mut self, mut f: impl FnMut(PerfEvent<T>)) -> usize {
        let mut short = 0;
        let n = self.buf.consume(|r| match r {
            PerfRecord::Sample { cpu, data } => match record::<T>(data) {
                Some(value) => f(PerfEvent::Sample { cpu, value }),
                None => short += 1,
            },
            PerfRecord::Lost { cpu, count } => f(PerfEvent::Lost { cpu, count }),
        });
        self.short += short as u64;
        n - short
    }

    /// Hands over what the rings hold; if nothing, waits up to `timeout_ms` (-1: until
    /// something comes), then hands that over. Returns how many (0 on timeout).
    ///
    /// # Errors
    /// `poll` failed ([`MapError::Wait`]).
    #[doc(alias = "perf_buffer__poll")]
    pub fn poll(
        &mut self,
        timeout_ms: i32,
        mut f: impl FnMut(PerfEvent<T>),
    ) -> Result<usize, MapError> {
        let n = self.consume(&mut f);
        if n > 0 {
            return Ok(n);
        }
        oxbpf_sys::events::poll(&self.buf.fds(), timeout_ms).map_err(MapError::Wait)?;
        Ok(self.consume(f))
    }

    /// How many samples were too short to be a `T`, since the rings were opened.
    pub fn short_samples(&self) -> u64 {
        self.short
    }

    /// The untyped rings (their fds, to wait on in another loop; raw samples).
    pub fn untyped(&mut self) -> &mut PerfBuf {
        &mut self.buf
    }
}

fn expect_type(map: &Map, types: &[MapType], want: &'static str) -> Result<(), MapError> {
    if types.contains(&map.map_type()) {
        Ok(())
    } else {
        Err(MapError::WrongType {
            map: map.name().to_string(),
            got: map.map_type(),
            want,
        })
    }
}
