//! How `oxbpf run` prints ring buffer and perf buffer records: as a struct of the
//! object's BTF where one is known for the map, in hex otherwise. A ring buffer map has
//! no value type (the kernel sees only bytes), so the type is either named by the user
//! (`--event-type [MAP=]STRUCT`) or guessed from the conventional name the libbpf
//! examples use (`struct event`, `struct *_event`), and applied only to records at
//! least that long.

use std::fmt::Write as _;

use oxbpf_loader::btf::format::decode;
use oxbpf_loader::btf::{Btf, Kind, TypeId};
use oxbpf_loader::uapi::Endian;

/// The struct chosen for one map's records.
pub(crate) struct RecordType<'a> {
    btf: &'a Btf,
    id: TypeId,
    size: usize,
    /// `struct NAME`, for the startup line.
    pub(crate) name: String,
    /// Named by the user (not guessed).
    pub(crate) chosen: bool,
}

impl<'a> RecordType<'a> {
    /// The type for `map`'s records: the user's `MAP=STRUCT` or `STRUCT`, else the
    /// one struct whose name says it is an event.
    ///
    /// # Errors
    /// A requested struct that the object's BTF does not define.
    pub(crate) fn for_map(
        btf: Option<&'a Btf>,
        map: &str,
        requested: &[String],
    ) -> Result<Option<RecordType<'a>>, String> {
        let wanted = requested
            .iter()
            .find_map(|r| r.split_once('=').filter(|(m, _)| *m == map).map(|(_, t)| t))
            .or_else(|| {
                requested
                    .iter()
                    .find(|r| !r.contains('='))
                    .map(String::as_str)
            });
        let Some(btf) = btf else {
            return match wanted {
                Some(t) => Err(format!("--event-type {t}: the object has no BTF")),
                None => Ok(None),
            };
        };
        let (id, chosen) = match wanted {
            Some(t) => {
                let name = t.strip_prefix("struct ").unwrap_or(t);
                let id = btf
                    .find(name, Kind::Struct)
                    .or_else(|| btf.find(name, Kind::Union))
                    .ok_or_else(|| {
                        format!(
                            "--event-type {t}: the object's BTF has no struct or union `{name}`"
                        )
                    })?;
                (id, true)
            }
            None => match guess(btf) {
                Some(id) => (id, false),
                None => return Ok(None),
            },
        };
        let size = btf
            .size_of(id)
            .map_err(|e| format!("record type {id:?}: {e}"))? as usize;
        let name = btf
            .type_by_id(id)
            .ok()
            .and_then(|t| t.name().ok().map(str::to_string))
            .unwrap_or_default();
        Ok(Some(RecordType {
            btf,
            id,
            size,
            name: format!("struct {name}"),
            chosen,
        }))
    }

    /// A record as typed fields, with any bytes past the struct in hex; `None` for a
    /// record shorter than the struct (printed in hex by the caller).
    pub(crate) fn show(&self, record: &[u8]) -> Option<String> {
        if record.len() < self.size || self.size == 0 {
            return None;
        }
        let v = decode(self.btf, self.id, &record[..self.size], Endian::NATIVE).ok()?;
        let mut s = v.to_string();
        if record.len() > self.size {
            let _ = write!(s, " + {}", crate::cmd::run::hex(&record[self.size..]));
        }
        Some(s)
    }
}

/// The single struct named like an event record (`event`, `event_t`, `*_event`,
/// `*_event_t`), kernel tracepoint layouts excluded; `None` when there is no such
/// struct or more than one.
fn guess(btf: &Btf) -> Option<TypeId> {
    let mut found = None;
    for id in btf.ids() {
        let Ok(t) = btf.type_by_id(id) else { continue };
        if t.kind() != Kind::Struct {
            continue;
        }
        let Ok(name) = t.name() else { continue };
        let base = name.strip_suffix("_t").unwrap_or(name);
        let eventish = base == "event" || base.ends_with("_event");
        if !eventish || name.starts_with("trace_event_") || name.starts_with("perf_") {
            continue;
        }
        if found.is_some() {
            log::debug!("several event-like structs; records stay in hex unless --event-type");
            return None;
        }
        found = Some(id);
    }
    found
}
