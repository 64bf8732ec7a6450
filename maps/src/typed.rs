//! Typed maps: a loaded [`Map`] seen as `HashMap<K, V>`, `Array<V>`, ... after a check
//! that its type and its key and value sizes are those of `K` and `V`, so every later
//! operation is on Rust values, with no byte offset. `K` and `V` are
//! [`bytemuck::Pod`]: plain old data whose every bit pattern is a value and whose bytes
//! are all initialised (derive it with `#[derive(Pod, Zeroable, Clone, Copy)]` on a
//! `#[repr(C)]` struct without padding). The values cross the kernel boundary as bytes,
//! copied, never reinterpreted in place: no `unsafe` here.
//!
//! ```no_run
//! # fn f(loaded: &oxbpf_maps::Map) -> Result<(), oxbpf_maps::MapError> {
//! use oxbpf_maps::typed::HashMap;
//! let counts: HashMap<'_, u32, u64> = HashMap::new(loaded)?;
//! for (pid, n) in counts.iter()? {
//!     println!("{pid}: {n}");
//! }
//! # Ok(()) }
//! ```

use std::marker::PhantomData;

use bytemuck::Pod;
use oxbpf_sys::uapi::MapType;

use crate::{Map, MapError};

/// Checks that `map` is one of `types` with `K`-sized keys (`u32` indexes for arrays) and
/// `V`-sized values (for per-CPU maps, one CPU's value).
fn check<K, V>(map: &Map, types: &[MapType], want: &'static str) -> Result<(), MapError> {
    expect_type(map, types, want)?;
    let sized = |what: &'static str, rust: usize, map_size: u32, ty: &str| {
        if rust == map_size as usize {
            Ok(())
        } else {
            Err(MapError::Typed {
                map: map.name().to_string(),
                why: format!("its {what}s are {map_size} bytes, and {ty} is {rust}"),
            })
        }
    };
    if !types
        .iter()
        .any(|t| matches!(*t, MapType::ARRAY | MapType::PERCPU_ARRAY))
    {
        sized(
            "key",
            size_of::<K>(),
            map.key_size(),
            std::any::type_name::<K>(),
        )?;
    } else if map.key_size() != 4 {
        sized("key", 4, map.key_size(), "u32")?;
    }
    sized(
        "value",
        size_of::<V>(),
        map.value_size(),
        std::any::type_name::<V>(),
    )
}

/// A hash map (`BPF_MAP_TYPE_HASH`, or `LRU_HASH`) of `K` to `V`.
#[derive(Debug, Clone, Copy)]
pub struct HashMap<'m, K, V> {
    map: &'m Map,
    _types: PhantomData<(K, V)>,
}

impl<'m, K: Pod, V: Pod> HashMap<'m, K, V> {
    /// `map` as a hash map of `K` to `V`.
    ///
    /// # Errors
    /// Not a hash or LRU hash map; key or value sizes other than `K`'s and `V`'s (the
    /// error names both).
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
        Ok(self
            .map
            .lookup(bytemuck::bytes_of(key))?
            .map(|v| bytemuck::pod_read_unaligned(&v)))
    }

    /// Sets `key` to `value` (`flags`: 0, `BPF_NOEXIST` 1, `BPF_EXIST` 2, `BPF_F_LOCK` 4).
    ///
    /// # Errors
    /// The kernel's errno (`E2BIG` when full, `EEXIST`/`ENOENT` per `flags`).
    pub fn insert(&self, key: &K, value: &V, flags: u64) -> Result<(), MapError> {
        self.map
            .update(bytemuck::bytes_of(key), bytemuck::bytes_of(value), flags)
    }

    /// Removes `key`.
    ///
    /// # Errors
    /// The kernel's errno (`ENOENT` when absent).
    pub fn remove(&self, key: &K) -> Result<(), MapError> {
        self.map.delete(bytemuck::bytes_of(key))
    }

    /// Every key.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn keys(&self) -> Result<Vec<K>, MapError> {
        Ok(self
            .map
            .keys()?
            .iter()
            .map(|k| bytemuck::pod_read_unaligned(k))
            .collect())
    }

    /// Every entry, read in batches where the kernel has them.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn iter(&self) -> Result<Vec<(K, V)>, MapError> {
        Ok(self
            .map
            .entries(64)?
            .iter()
            .map(|e| {
                (
                    bytemuck::pod_read_unaligned(&e.0),
                    bytemuck::pod_read_unaligned(&e.1),
                )
            })
            .collect())
    }

    /// The value at `key` read under its `bpf_spin_lock` (`BPF_F_LOCK`), for values
    /// that hold one; write one the same way with `insert(key, value, F_LOCK)`.
    ///
    /// # Errors
    /// The kernel's errno (`EINVAL` when the value holds no spin lock).
    pub fn get_locked(&self, key: &K) -> Result<Option<V>, MapError> {
        Ok(self
            .map
            .lookup_locked(bytemuck::bytes_of(key))?
            .map(|v| bytemuck::pod_read_unaligned(&v)))
    }

    /// Takes the value at `key` out of the map, if any (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`).
    ///
    /// # Errors
    /// The kernel's errno (hash maps only since 5.14).
    pub fn take(&self, key: &K) -> Result<Option<V>, MapError> {
        Ok(self
            .map
            .lookup_and_delete(bytemuck::bytes_of(key))?
            .map(|v| bytemuck::pod_read_unaligned(&v)))
    }

    /// Sets every `(key, value)` in batches where the kernel has them (one call per
    /// element before 5.6), as [`Map::update_all`] does.
    ///
    /// # Errors
    /// The kernel's errno for the first element refused.
    pub fn insert_all(&self, entries: &[(K, V)], flags: u64) -> Result<(), MapError> {
        let raw: Vec<crate::Entry> = entries
            .iter()
            .map(|(k, v)| {
                (
                    bytemuck::bytes_of(k).to_vec(),
                    bytemuck::bytes_of(v).to_vec(),
                )
            })
            .collect();
        self.map.update_all(&raw, flags)
    }

    /// Removes every key of `keys`, in batches where the kernel has them.
    ///
    /// # Errors
    /// The kernel's errno (`ENOENT` for a key that is absent).
    pub fn remove_all(&self, keys: &[K]) -> Result<(), MapError> {
        let raw: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| bytemuck::bytes_of(k).to_vec())
            .collect();
        self.map.delete_all(&raw)
    }

    /// The untyped map.
    pub fn map(&self) -> &'m Map {
        self.map
    }
}

/// An LRU hash map (`BPF_MAP_TYPE_LRU_HASH`): the same handle as [`HashMap`], which
/// takes both kinds (the kernel evicts; user space reads and writes them alike).
pub type LruHashMap<'m, K, V> = HashMap<'m, K, V>;

/// A stack (`BPF_MAP_TYPE_STACK`): the same handle as [`Queue`], which takes both
/// kinds (`pop` takes the last pushed).
pub type Stack<'m, V> = Queue<'m, V>;

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
            .map(|v| bytemuck::pod_read_unaligned(&v))
            .ok_or_else(|| MapError::Typed {
                map: self.map.name().to_string(),
                why: format!("index {index} is past its {} elements", self.len()),
            })
    }

    /// Sets element `index`.
    ///
    /// # Errors
    /// `index` past the end; the kernel's errno.
    pub fn set(&self, index: u32, value: &V) -> Result<(), MapError> {
        self.map
            .update(&index.to_ne_bytes(), bytemuck::bytes_of(value), 0)
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

/// A queue (`BPF_MAP_TYPE_QUEUE`, first in first out) or stack (`STACK`, last in first
/// out) of `V`.
#[derive(Debug, Clone, Copy)]
pub struct Queue<'m, V> {
    map: &'m Map,
    _types: PhantomData<V>,
}

impl<'m, V: Pod> Queue<'m, V> {
    /// `map` as a queue or stack of `V`.
    ///
    /// # Errors
    /// Not a queue or stack; a value size other than `V`'s.
    pub fn new(map: &'m Map) -> Result<Self, MapError> {
        expect_type(map, &[MapType::QUEUE, MapType::STACK], "a queue or stack")?;
        check_value::<V>(map)?;
        Ok(Queue {
            map,
            _types: PhantomData,
        })
    }

    /// Adds `value` (at the back of a queue, on top of a stack).
    ///
    /// # Errors
    /// The kernel's errno (`E2BIG` when full).
    pub fn push(&self, value: &V) -> Result<(), MapError> {
        self.map.push(bytemuck::bytes_of(value))
    }

    /// Takes the next value out, if any.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn pop(&self) -> Result<Option<V>, MapError> {
        Ok(self.map.pop()?.map(|v| bytemuck::pod_read_unaligned(&v)))
    }

    /// The next value, left in place, if any.
    ///
    /// # Errors
    /// The kernel's errno.
    pub fn peek(&self) -> Result<Option<V>, MapError> {
        Ok(self.map.peek()?.map(|v| bytemuck::pod_read_unaligned(&v)))
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
        if map.key_size() as usize != 4 + size_of::<A>() {
            return Err(MapError::Typed {
                map: map.name().to_string(),
                why: format!(
                    "its keys are {} bytes, and a prefix length with {} is {}",
                    map.key_size(),
                    std::any::type_name::<A>(),
                    4 + size_of::<A>()
                ),
            });
        }
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
        Ok(self
            .map
            .lookup(&key.bytes())?
            .map(|v| bytemuck::pod_read_unaligned(&v)))
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
    if size_of::<V>() == map.value_size() as usize {
        return Ok(());
    }
    Err(MapError::Typed {
        map: map.name().to_string(),
        why: format!(
            "its values are {} bytes, and {} is {}",
            map.value_size(),
            std::any::type_name::<V>(),
            size_of::<V>()
        ),
    })
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
        if size_of::<K>() != map.key_size() as usize {
            return Err(MapError::Typed {
                map: map.name().to_string(),
                why: format!(
                    "its keys are {} bytes, and {} is {}",
                    map.key_size(),
                    std::any::type_name::<K>(),
                    size_of::<K>()
                ),
            });
        }
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
