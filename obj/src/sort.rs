//! One stable sort for the loader's short lists, whatever their element type.
//!
//! `slice::sort_by_key` is generic over the element and the key function, so each call
//! site gets its own copy of the standard library's sort: about 3.5 KiB of code each in
//! the static CLI, for lists of a few dozen entries (a section's symbols, an object's
//! maps, func_info records). Here the keys are sorted with their positions, as
//! `(u64, usize)` pairs through one shared instance, and the elements then moved into
//! that order.

/// Sorts `v` by `key`, keeping elements with equal keys in their order, as
/// `sort_by_key` does.
pub fn sort_by_key<T>(v: &mut Vec<T>, key: impl Fn(&T) -> u64) {
    let mut order: Vec<(u64, usize)> = v.iter().map(key).zip(0..).collect();
    // Each position appears once, so an unstable sort of the pairs is a stable sort of
    // the keys.
    order.sort_unstable();
    let mut slots: Vec<Option<T>> = v.drain(..).map(Some).collect();
    v.extend(
        order
            .into_iter()
            .filter_map(|(_, i)| slots.get_mut(i).and_then(Option::take)),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn equal_keys_keep_their_order() {
        let mut v = vec![(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
        super::sort_by_key(&mut v, |&(k, _)| k);
        assert_eq!(v, [(0, 'd'), (1, 'b'), (1, 'e'), (3, 'a'), (3, 'c')]);
        let mut empty: Vec<u8> = Vec::new();
        super::sort_by_key(&mut empty, |&b| u64::from(b));
        assert!(empty.is_empty());
    }
}
