//! Multi-lane MD5: the digests of several independent messages computed in lock-step.
//!
//! Why: a ring lookup is one md5 plus a near-free search, so md5 *is* the lookup cost.
//! One MD5 block is 64 strictly serial steps (each step needs the previous one's
//! result), so a single message leaves most of a modern core idle waiting on latency.
//! Hashing `N` unrelated messages at once gives the CPU `N` independent dependency
//! chains to overlap, and because every lane does the same operation on a `[u32; N]`
//! the compiler can also auto-vectorise the lanes (SSE2 is the x86-64 baseline, so no
//! `target-cpu` flag is needed). All of this in safe Rust: the workspace forbids
//! `unsafe`, which rules out `std::arch` intrinsics.
//!
//! Messages may have any length and different lengths: lanes run in lock-step for the
//! blocks all of them have, then each lane with blocks left finishes on its own (the
//! same code with one lane). Ring keys of one page almost always share a length (uuids),
//! so in practice everything runs in lock-step.
//!
//! The output is tooz's ring position: the 16 digest bytes read as a big-endian
//! `u128`, exactly [`crate::key_position`].

/// Lanes hashed in lock-step by the ring's batch lookups.
///
/// Measured with criterion `lookup-8x32/owners_of_batch1024` (8 members × 32
/// partitions, 10,000 36-byte uuid keys, pages of 1024, default release profile, no
/// `target-cpu`) on the shared 2-core AMD EPYC box, one after the other:
///
/// | LANES | batch lookups/s | single-key `owner` in the same run |
/// |------:|----------------:|-----------------------------------:|
/// |     4 |        20.3 M/s |                           7.2 M/s  |
/// |     8 |    20.0–20.9 M/s |                       6.3–7.3 M/s  |
/// |    16 |        20.4 M/s |                           7.1 M/s  |
///
/// The differences are within the noise of a shared machine, as expected: LLVM
/// vectorises the lane loop 4 wide with the x86-64 baseline (SSE2), so more lanes only
/// mean more vector iterations. 8 is kept because it is exactly one AVX2 vector: in a
/// standalone microbenchmark of this code, md5 alone went from ~23 M/s (SSE2, any of
/// 4/8/16) to ~39 M/s at 8 lanes when built with `-C target-cpu=x86-64-v3`; 4 lanes
/// cannot use that width.
pub(crate) const LANES: usize = 8;

const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// Number of 64-byte blocks of a `len`-byte message after MD5 padding (0x80, zeros,
/// 8-byte length).
fn block_count(len: usize) -> usize {
    len / 64 + if len % 64 < 56 { 1 } else { 2 }
}

/// Writes block `j` of `msg`'s padded form (`nb` blocks in all) as 16 little-endian words
/// into lane `lane` of `w`.
///
/// Words are assembled straight from the message bytes, never through a padded byte
/// buffer: copying the tail into a buffer and reading it back as words stalled on
/// store-to-load forwarding (the word holding the `0x80` byte mixes two stores) and
/// cost about a tenth of the whole batch lookup.
#[inline(always)]
fn load_block<const N: usize>(
    msg: &[u8],
    j: usize,
    nb: usize,
    w: &mut [[u32; N]; 16],
    lane: usize,
) {
    let len = msg.len();
    let start = j * 64;
    let tail = msg.get(start..).unwrap_or(&[]);
    if let Some(block) = tail.get(..64) {
        // Entirely message bytes: no padding in this block.
        for (row, word) in w.iter_mut().zip(block.chunks_exact(4)) {
            row[lane] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        }
    } else {
        // The message's last bytes (if any), then 0x80 (unless an earlier block had
        // it), then zeros.
        let words = tail.chunks_exact(4);
        let rest = words.remainder();
        let mut i = 0;
        for word in words {
            w[i][lane] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            i += 1;
        }
        if start <= len {
            let mut x = 0x80u32 << (8 * rest.len());
            for (k, &byte) in rest.iter().enumerate() {
                x |= u32::from(byte) << (8 * k);
            }
            w[i][lane] = x;
            i += 1;
        }
        for row in &mut w[i..] {
            row[lane] = 0;
        }
    }
    if j + 1 == nb {
        // MD5 ends with the message length in bits, modulo 2^64, little-endian. The
        // last block always has room for it (that is what `block_count` ensures), so
        // words 14 and 15 hold only zero padding here before being overwritten.
        let bits = (len as u64).wrapping_mul(8);
        w[14][lane] = bits as u32;
        w[15][lane] = (bits >> 32) as u32;
    }
}

#[inline(always)]
fn f(b: u32, c: u32, d: u32) -> u32 {
    d ^ (b & (c ^ d))
}

#[inline(always)]
fn g(b: u32, c: u32, d: u32) -> u32 {
    c ^ (d & (b ^ c))
}

#[inline(always)]
fn h(b: u32, c: u32, d: u32) -> u32 {
    b ^ c ^ d
}

#[inline(always)]
fn i(b: u32, c: u32, d: u32) -> u32 {
    c ^ (b | !d)
}

/// One MD5 compression of block `w` into `state`, for `N` lanes at once.
///
/// Written as a plain loop over the lanes around the whole 64-step compression, with
/// each lane's words at the same index of `[u32; N]` arrays: LLVM's loop vectoriser
/// turns that into 4-wide SSE2 code for any `N` ≥ 4 (and 8-wide AVX2 code when built
/// with `target-cpu=x86-64-v3` or better). The other natural shape, a lane loop *inside*
/// every step, was measured too: it only vectorised for `N` = 16 (≈ 10% faster there
/// in a microbenchmark) and fell back to scalar code spilling registers for `N` = 8
/// (half the speed), too fragile to depend on.
#[inline(always)]
fn compress<const N: usize>(state: &mut [[u32; N]; 4], w: &[[u32; N]; 16]) {
    for l in 0..N {
        let [mut a, mut b, mut c, mut d] = [state[0][l], state[1][l], state[2][l], state[3][l]];
        macro_rules! step {
            ($fun:ident, $a:ident, $b:ident, $c:ident, $d:ident, $g:expr, $k:expr, $s:expr) => {
                let t = $a
                    .wrapping_add($fun($b, $c, $d))
                    .wrapping_add($k)
                    .wrapping_add(w[$g][l]);
                $a = $b.wrapping_add(t.rotate_left($s));
            };
        }
        // Round 1.
        step!(f, a, b, c, d, 0, 0xd76a_a478, 7);
        step!(f, d, a, b, c, 1, 0xe8c7_b756, 12);
        step!(f, c, d, a, b, 2, 0x2420_70db, 17);
        step!(f, b, c, d, a, 3, 0xc1bd_ceee, 22);
        step!(f, a, b, c, d, 4, 0xf57c_0faf, 7);
        step!(f, d, a, b, c, 5, 0x4787_c62a, 12);
        step!(f, c, d, a, b, 6, 0xa830_4613, 17);
        step!(f, b, c, d, a, 7, 0xfd46_9501, 22);
        step!(f, a, b, c, d, 8, 0x6980_98d8, 7);
        step!(f, d, a, b, c, 9, 0x8b44_f7af, 12);
        step!(f, c, d, a, b, 10, 0xffff_5bb1, 17);
        step!(f, b, c, d, a, 11, 0x895c_d7be, 22);
        step!(f, a, b, c, d, 12, 0x6b90_1122, 7);
        step!(f, d, a, b, c, 13, 0xfd98_7193, 12);
        step!(f, c, d, a, b, 14, 0xa679_438e, 17);
        step!(f, b, c, d, a, 15, 0x49b4_0821, 22);
        // Round 2.
        step!(g, a, b, c, d, 1, 0xf61e_2562, 5);
        step!(g, d, a, b, c, 6, 0xc040_b340, 9);
        step!(g, c, d, a, b, 11, 0x265e_5a51, 14);
        step!(g, b, c, d, a, 0, 0xe9b6_c7aa, 20);
        step!(g, a, b, c, d, 5, 0xd62f_105d, 5);
        step!(g, d, a, b, c, 10, 0x0244_1453, 9);
        step!(g, c, d, a, b, 15, 0xd8a1_e681, 14);
        step!(g, b, c, d, a, 4, 0xe7d3_fbc8, 20);
        step!(g, a, b, c, d, 9, 0x21e1_cde6, 5);
        step!(g, d, a, b, c, 14, 0xc337_07d6, 9);
        step!(g, c, d, a, b, 3, 0xf4d5_0d87, 14);
        step!(g, b, c, d, a, 8, 0x455a_14ed, 20);
        step!(g, a, b, c, d, 13, 0xa9e3_e905, 5);
        step!(g, d, a, b, c, 2, 0xfcef_a3f8, 9);
        step!(g, c, d, a, b, 7, 0x676f_02d9, 14);
        step!(g, b, c, d, a, 12, 0x8d2a_4c8a, 20);
        // Round 3.
        step!(h, a, b, c, d, 5, 0xfffa_3942, 4);
        step!(h, d, a, b, c, 8, 0x8771_f681, 11);
        step!(h, c, d, a, b, 11, 0x6d9d_6122, 16);
        step!(h, b, c, d, a, 14, 0xfde5_380c, 23);
        step!(h, a, b, c, d, 1, 0xa4be_ea44, 4);
        step!(h, d, a, b, c, 4, 0x4bde_cfa9, 11);
        step!(h, c, d, a, b, 7, 0xf6bb_4b60, 16);
        step!(h, b, c, d, a, 10, 0xbebf_bc70, 23);
        step!(h, a, b, c, d, 13, 0x289b_7ec6, 4);
        step!(h, d, a, b, c, 0, 0xeaa1_27fa, 11);
        step!(h, c, d, a, b, 3, 0xd4ef_3085, 16);
        step!(h, b, c, d, a, 6, 0x0488_1d05, 23);
        step!(h, a, b, c, d, 9, 0xd9d4_d039, 4);
        step!(h, d, a, b, c, 12, 0xe6db_99e5, 11);
        step!(h, c, d, a, b, 15, 0x1fa2_7cf8, 16);
        step!(h, b, c, d, a, 2, 0xc4ac_5665, 23);
        // Round 4.
        step!(i, a, b, c, d, 0, 0xf429_2244, 6);
        step!(i, d, a, b, c, 7, 0x432a_ff97, 10);
        step!(i, c, d, a, b, 14, 0xab94_23a7, 15);
        step!(i, b, c, d, a, 5, 0xfc93_a039, 21);
        step!(i, a, b, c, d, 12, 0x655b_59c3, 6);
        step!(i, d, a, b, c, 3, 0x8f0c_cc92, 10);
        step!(i, c, d, a, b, 10, 0xffef_f47d, 15);
        step!(i, b, c, d, a, 1, 0x8584_5dd1, 21);
        step!(i, a, b, c, d, 8, 0x6fa8_7e4f, 6);
        step!(i, d, a, b, c, 15, 0xfe2c_e6e0, 10);
        step!(i, c, d, a, b, 6, 0xa301_4314, 15);
        step!(i, b, c, d, a, 13, 0x4e08_11a1, 21);
        step!(i, a, b, c, d, 4, 0xf753_7e82, 6);
        step!(i, d, a, b, c, 11, 0xbd3a_f235, 10);
        step!(i, c, d, a, b, 2, 0x2ad7_d2bb, 15);
        step!(i, b, c, d, a, 9, 0xeb86_d391, 21);
        state[0][l] = state[0][l].wrapping_add(a);
        state[1][l] = state[1][l].wrapping_add(b);
        state[2][l] = state[2][l].wrapping_add(c);
        state[3][l] = state[3][l].wrapping_add(d);
    }
}

/// The digest bytes `a‖b‖c‖d` (each little-endian) read as a big-endian `u128`.
fn position([a, b, c, d]: [u32; 4]) -> u128 {
    (u128::from(a.swap_bytes()) << 96)
        | (u128::from(b.swap_bytes()) << 64)
        | (u128::from(c.swap_bytes()) << 32)
        | u128::from(d.swap_bytes())
}

/// Ring positions (md5 as big-endian `u128`) of `N` messages, hashed in lock-step.
///
/// Equal to `msgs.map(key_position)`. Lanes only go in lock-step for the blocks every
/// message has; longer messages finish alone, so callers wanting speed should batch
/// keys of similar length (which a page of uuid resources already is). A caller with
/// fewer than `N` messages can repeat one of them in the spare lanes.
#[inline(always)]
pub(crate) fn positions<const N: usize>(msgs: &[&[u8]; N]) -> [u128; N] {
    let nb: [usize; N] = std::array::from_fn(|l| block_count(msgs[l].len()));
    let common = nb.iter().copied().min().unwrap_or(0);
    let mut state: [[u32; N]; 4] = INIT.map(|x| [x; N]);
    let mut w = [[0u32; N]; 16];
    for j in 0..common {
        for (lane, msg) in msgs.iter().enumerate() {
            load_block(msg, j, nb[lane], &mut w, lane);
        }
        compress(&mut state, &w);
    }
    std::array::from_fn(|lane| {
        let mut one: [[u32; 1]; 4] = std::array::from_fn(|k| [state[k][lane]]);
        let mut w1 = [[0u32; 1]; 16];
        for j in common..nb[lane] {
            load_block(msgs[lane], j, nb[lane], &mut w1, 0);
            compress(&mut one, &w1);
        }
        position(one.map(|[x]| x))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::{Digest, Md5};
    use proptest::prelude::*;

    fn reference(msg: &[u8]) -> u128 {
        u128::from_be_bytes(Md5::digest(msg).into())
    }

    /// Hashes any number of messages in chunks of `N`, padding the last chunk by
    /// repeating its first message, as the ring does.
    fn batch<const N: usize>(msgs: &[Vec<u8>]) -> Vec<u128> {
        let mut out = Vec::with_capacity(msgs.len());
        for chunk in msgs.chunks(N) {
            let lanes: [&[u8]; N] =
                std::array::from_fn(|l| chunk.get(l).unwrap_or(&chunk[0]).as_slice());
            out.extend_from_slice(&positions(&lanes)[..chunk.len()]);
        }
        out
    }

    fn check_all(msgs: &[Vec<u8>]) {
        let want: Vec<u128> = msgs.iter().map(|m| reference(m)).collect();
        assert_eq!(batch::<1>(msgs), want, "1 lane");
        assert_eq!(batch::<2>(msgs), want, "2 lanes");
        assert_eq!(batch::<4>(msgs), want, "4 lanes");
        assert_eq!(batch::<8>(msgs), want, "8 lanes");
        assert_eq!(batch::<16>(msgs), want, "16 lanes");
        assert_eq!(batch::<LANES>(msgs), want, "LANES lanes");
    }

    #[test]
    fn block_counts() {
        assert_eq!(block_count(0), 1);
        assert_eq!(block_count(55), 1);
        assert_eq!(block_count(56), 2);
        assert_eq!(block_count(63), 2);
        assert_eq!(block_count(64), 2);
        assert_eq!(block_count(119), 2);
        assert_eq!(block_count(120), 3);
    }

    #[test]
    fn rfc1321_suite() {
        let msgs: Vec<Vec<u8>> = [
            "",
            "a",
            "abc",
            "message digest",
            "abcdefghijklmnopqrstuvwxyz",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let want: [u128; 7] = [
            0xd41d8cd98f00b204e9800998ecf8427e,
            0x0cc175b9c0f1b6a831c399e269772661,
            0x900150983cd24fb0d6963f7d28e17f72,
            0xf96b697d7cb7938d525a2f31aaf161d0,
            0xc3fcd3d76192e4007dfb496cca67e13b,
            0xd174ab98d277d9f5a5611c2c9f419d9f,
            0x57edf4a22be3c955ac49da2e2107b67a,
        ];
        assert_eq!(batch::<8>(&msgs), want);
        check_all(&msgs);
    }

    #[test]
    fn every_length_around_block_boundaries() {
        // Lengths 0..=200 in one batch: lanes with 1, 2, 3 and 4 blocks side by side,
        // and every padding boundary (55/56, 63/64, 119/120).
        let msgs: Vec<Vec<u8>> = (0..=200u8)
            .map(|n| (0..n).map(|i| i.wrapping_mul(31) ^ n).collect())
            .collect();
        check_all(&msgs);
        let mut rev = msgs.clone();
        rev.reverse();
        check_all(&rev);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn matches_md5_crate(
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..40)
        ) {
            let want: Vec<u128> = msgs.iter().map(|m| reference(m)).collect();
            prop_assert_eq!(batch::<4>(&msgs), want.clone());
            prop_assert_eq!(batch::<8>(&msgs), want.clone());
            prop_assert_eq!(batch::<16>(&msgs), want.clone());
            prop_assert_eq!(batch::<LANES>(&msgs), want);
        }
    }
}
