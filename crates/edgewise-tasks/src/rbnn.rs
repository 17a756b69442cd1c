//! RBNN's key schedule: how a task key and a device root key become the per-layer masks that
//! reconfigure one shared set of binary weights for a task.
//!
//! A binary layer with `taps` weights per output (`K` of `BinaryGemm`, `C·kh·kw` of
//! `BinaryConv2d`) takes a `uint32` key of `ceil(taps/32)` words; the operator uses
//! `W XOR key` for every output row, i.e. flips the sign of the taps whose key bit is set.
//! The key of layer `l` for a task is a deterministic function of the task key, the root key
//! and `l`; its padding bits (past `taps`) are 0, as the operators require.
//!
//! - task key: FNV-1a (64-bit) of the task's name, so tasks are named, not numbered;
//! - layer stream: `Rng::new(task_key ^ root).fork(0x6b65_7900 + l)` (SplitMix64, the same on
//!   every target, wasm32 included): word `i` is the low 32 bits of the `i`-th draw.
//!
//! A wrong task or root key gives other masks: about half of every layer's taps flip, which is
//! what makes the weights useless without the right pair.

use edgewise_data::rng::Rng;

/// The 64-bit key of a task, from its name (FNV-1a).
pub fn task_key(task: &str) -> u64 {
    task.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The key words of layer `layer` (with `taps` weights per output) for the task key `task`
/// and the device root key `root`.
pub fn layer_key(task: u64, root: u64, layer: usize, taps: usize) -> Vec<u32> {
    let mut rng = Rng::new(task ^ root).fork(0x6b65_7900 + layer as u64);
    let mut words: Vec<u32> = (0..taps.div_ceil(32))
        .map(|_| rng.next_u64() as u32)
        .collect();
    if !taps.is_multiple_of(32)
        && let Some(last) = words.last_mut()
    {
        *last &= (1u32 << (taps % 32)) - 1;
    }
    words
}

/// The keys of every layer (`taps[l]` weights per output in layer `l`) for the task named
/// `task` on the device with root key `root`.
pub fn keys(task: &str, root: u64, taps: &[usize]) -> Vec<Vec<u32>> {
    let t = task_key(task);
    taps.iter()
        .enumerate()
        .map(|(l, &k)| layer_key(t, root, l, k))
        .collect()
}

/// The `±1` sign of each tap under `key` (`-1` where the key bit is set): the factor the key
/// applies to a layer's weights, as training uses it.
pub fn signs(key: &[u32], taps: usize) -> Vec<f32> {
    (0..taps)
        .map(|k| {
            let bit = key.get(k / 32).is_some_and(|w| (w >> (k % 32)) & 1 == 1);
            if bit { -1.0 } else { 1.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_published_test_vectors() {
        assert_eq!(task_key(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(task_key("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(task_key("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn keys_have_the_operator_shape_and_zero_padding() {
        for taps in [1, 31, 32, 33, 144, 576] {
            let k = layer_key(7, 9, 2, taps);
            assert_eq!(k.len(), taps.div_ceil(32));
            if !taps.is_multiple_of(32) {
                assert_eq!(k[k.len() - 1] >> (taps % 32), 0, "padding bits of {taps}");
            }
        }
    }

    #[test]
    fn keys_depend_on_task_root_and_layer_and_flip_about_half() {
        let taps = [144, 576, 1024];
        let a = keys("digits", 1, &taps);
        assert_eq!(a, keys("digits", 1, &taps), "deterministic");
        assert_ne!(a, keys("letters", 1, &taps));
        assert_ne!(a, keys("digits", 2, &taps));
        assert_ne!(a[1][..4], a[2][..4], "layers differ");
        for (k, &n) in a.iter().zip(&taps) {
            let ones: u32 = k.iter().map(|w| w.count_ones()).sum();
            let frac = ones as f64 / n as f64;
            assert!((0.4..0.6).contains(&frac), "{frac} of {n} taps flip");
        }
    }

    #[test]
    fn signs_follow_the_key_bits() {
        let s = signs(&[0b101, 1 << 1], 35);
        assert_eq!(s.len(), 35);
        assert_eq!((s[0], s[1], s[2], s[3]), (-1.0, 1.0, -1.0, 1.0));
        assert_eq!((s[32], s[33], s[34]), (1.0, -1.0, 1.0));
    }
}
