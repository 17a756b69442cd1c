// HammingTopK: the k database rows nearest to each query, by (distance, index).
// One workgroup per query; the query code sits in workgroup memory.
// 1. Histogram of the distances (0 ..= 32·Wd) over the whole database, in workgroup memory,
//    spread over `copies` histograms (by thread) to relieve contention, then summed.
// 2. Thread 0 finds d*, the k-th smallest distance: `below` rows are closer, `at` rows are at
//    d*, and the `need = k - below` of those with the smallest indices are taken.
// 3. A second sweep keeps every row closer than d*, and the rows at d* when all of them are
//    needed. Otherwise each thread counts the rows at d* in a contiguous slice of the
//    database, an exclusive scan of the counts orders the slices, and each thread keeps its
//    rows at d* whose rank is below `need`, in index order.
// 4. The k kept rows are written at their rank (rows are distinct, so ranks are too).
// Sweeps go 4 rows per iteration per thread (rows r, r + 256, r + 512, r + 768: neighbouring
// threads read neighbouring rows), for more loads in flight; distances by countOneBits of
// XORed words. Few loop iterations also keep lavapipe exact on large databases: it stops
// every loop of an invocation once they have run 65 535 iterations in all (skipped loops
// included), so a sweep costs it about 5 per 4 rows per thread.
//
// params: Q, D, Wd, k, bins (32·Wd + 1), copies
// outputs: indices (i32 words, widened to i64 by the executor), distances (i32)

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> queries: array<u32>;
@group(0) @binding(2) var<storage, read> db: array<u32>;
@group(0) @binding(3) var<storage, read_write> out_idx: array<i32>;
@group(0) @binding(4) var<storage, read_write> out_dist: array<i32>;

const WG: u32 = 256u;
const HIST: u32 = 2048u;
const KMAX: u32 = 512u;
const WMAX: u32 = 64u;

var<workgroup> hist: array<atomic<u32>, HIST>;
var<workgroup> code: array<u32, WMAX>;
var<workgroup> kept_dist: array<u32, KMAX>;
var<workgroup> kept_row: array<u32, KMAX>;
var<workgroup> slices: array<u32, WG>;
// d*, below, at, need
var<workgroup> sel: vec4<u32>;
var<workgroup> n_less: atomic<u32>;
var<workgroup> n_at: atomic<u32>;

// Four words per iteration, the last ones masked: codes of up to 128 bits (the common sizes)
// take one iteration.
fn distance(row: u32, wd: u32) -> u32 {
    let base = row * wd;
    var s = 0u;
    for (var j = 0u; j < wd; j += 4u) {
        s += countOneBits(code[j] ^ db[base + j]);
        if (j + 1u < wd) {
            s += countOneBits(code[j + 1u] ^ db[base + j + 1u]);
        }
        if (j + 2u < wd) {
            s += countOneBits(code[j + 2u] ^ db[base + j + 2u]);
        }
        if (j + 3u < wd) {
            s += countOneBits(code[j + 3u] ^ db[base + j + 3u]);
        }
    }
    return s;
}

// Sweep 1 for one row.
fn count_row(row: u32, d: u32, wd: u32, mine: u32) {
    if (row < d) {
        atomicAdd(&hist[mine + distance(row, wd)], 1u);
    }
}

// Sweep 2 for one row: keep it if closer than d*, or at d* when every such row is needed.
fn keep_row(row: u32, d: u32, wd: u32, s: vec4<u32>) {
    if (row >= d) {
        return;
    }
    let dist = distance(row, wd);
    if (dist < s.x) {
        let slot = atomicAdd(&n_less, 1u);
        kept_dist[slot] = dist;
        kept_row[slot] = row;
    } else if (dist == s.x && s.z <= s.w) {
        let slot = s.y + atomicAdd(&n_at, 1u);
        kept_dist[slot] = dist;
        kept_row[slot] = row;
    }
}

fn at_dstar(row: u32, end: u32, wd: u32, dstar: u32) -> u32 {
    return u32(row < end && distance(row, wd) == dstar);
}

// The tie sweep for one row: keeps it at `below + rank` if it is at d* and still needed.
fn take_tie(row: u32, end: u32, wd: u32, s: vec4<u32>, rank: u32) -> u32 {
    if (rank < s.w && at_dstar(row, end, wd, s.x) == 1u) {
        kept_dist[s.y + rank] = s.x;
        kept_row[s.y + rank] = row;
        return rank + 1u;
    }
    return rank;
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let q = wid.x + wid.y * nwg.x;
    if (q >= params[0]) {
        return;
    }
    let d = params[1];
    let wd = params[2];
    let k = params[3];
    let bins = params[4];
    let copies = params[5];

    for (var j = tid; j < wd; j += WG) {
        code[j] = queries[q * wd + j];
    }
    for (var b = tid; b < bins * copies; b += WG) {
        atomicStore(&hist[b], 0u);
    }
    if (tid == 0u) {
        atomicStore(&n_less, 0u);
        atomicStore(&n_at, 0u);
    }
    workgroupBarrier();

    let mine = (tid % copies) * bins;
    for (var row = tid; row < d; row += 4u * WG) {
        count_row(row, d, wd, mine);
        count_row(row + WG, d, wd, mine);
        count_row(row + 2u * WG, d, wd, mine);
        count_row(row + 3u * WG, d, wd, mine);
    }
    workgroupBarrier();
    if (copies > 1u) {
        for (var b = tid; b < bins; b += WG) {
            var s = 0u;
            for (var c = 0u; c < copies; c++) {
                s += atomicLoad(&hist[c * bins + b]);
            }
            atomicStore(&hist[b], s);
        }
    }
    workgroupBarrier();

    if (tid == 0u) {
        var below = 0u;
        var b = 0u;
        var at = 0u;
        loop {
            at = atomicLoad(&hist[b]);
            if (below + at >= k || b + 1u >= bins) {
                break;
            }
            below += at;
            b += 1u;
        }
        sel = vec4<u32>(b, below, at, k - below);
    }
    let s = workgroupUniformLoad(&sel);
    let all_at = s.z <= s.w;

    for (var row = tid; row < d; row += 4u * WG) {
        keep_row(row, d, wd, s);
        keep_row(row + WG, d, wd, s);
        keep_row(row + 2u * WG, d, wd, s);
        keep_row(row + 3u * WG, d, wd, s);
    }

    // Rows at d*, when fewer are needed than there are: in index order, by contiguous slices.
    // (Barriers stay in uniform control flow: the branches are inside.)
    let len = (d + WG - 1u) / WG;
    let start = min(d, tid * len);
    let end = min(d, start + len);
    var count = 0u;
    if (!all_at) {
        for (var row = start; row < end; row += 4u) {
            count += at_dstar(row, end, wd, s.x) + at_dstar(row + 1u, end, wd, s.x)
                + at_dstar(row + 2u, end, wd, s.x) + at_dstar(row + 3u, end, wd, s.x);
        }
    }
    slices[tid] = count;
    workgroupBarrier();
    if (tid == 0u && !all_at) {
        var run = 0u;
        for (var j = 0u; j < WG; j++) {
            let c = slices[j];
            slices[j] = run;
            run += c;
        }
    }
    workgroupBarrier();
    if (!all_at) {
        var rank = slices[tid];
        for (var row = start; row < end && rank < s.w; row += 4u) {
            rank = take_tie(row, end, wd, s, rank);
            rank = take_tie(row + 1u, end, wd, s, rank);
            rank = take_tie(row + 2u, end, wd, s, rank);
            rank = take_tie(row + 3u, end, wd, s, rank);
        }
    }
    workgroupBarrier();

    for (var j = tid; j < k; j += WG) {
        let dj = kept_dist[j];
        let rj = kept_row[j];
        var rank = 0u;
        for (var i = 0u; i < k; i++) {
            let di = kept_dist[i];
            if (di < dj || (di == dj && kept_row[i] < rj)) {
                rank += 1u;
            }
        }
        out_idx[q * k + rank] = i32(rj);
        out_dist[q * k + rank] = i32(dj);
    }
}
