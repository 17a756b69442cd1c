// GraphAggregate: Y[t] = reduce over edges e (src_e → t) of w_e · X[src_e].
// One thread per (edge, feature), feature fastest, so a warp reads a row of X and updates a
// row of Y with consecutive addresses. Y is accumulated in place as 32-bit words:
// - sum/mean: f32 bits, added by a compare-and-swap loop (WGSL has no float atomics);
// - max: an order-preserving u32 image of the float, combined with atomicMax;
// with a count of incoming edges per node (scratch) for the mean and for empty nodes.
// Passes: clear (Y and counts), scatter_*, then finalize_mean / finalize_max.
// Edges outside [0, Nn) are skipped (the CPU kernel reports them).
//
// params: Nn, F, E, count_edges (0 or 1)
// bindings: Y, counts, then X, edges (i32 words: sources then targets), weight.

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read_write> acc: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> edges: array<i32>;
@group(0) @binding(5) var<storage, read> weight: array<f32>;

const WG: u32 = 256u;
const SIGN: u32 = 0x80000000u;

struct Message {
    valid: bool,
    edge: u32,
    // Index into Y.
    out: u32,
    value: f32,
}

// The message of thread i, counting its edge once (on feature 0) when the counts are needed.
fn message(i: u32) -> Message {
    var m = Message(false, 0u, 0u, 0.0);
    let nn = params[0];
    let f = params[1];
    let e = params[2];
    if (f == 0u || i >= e * f) {
        return m;
    }
    let edge = i / f;
    let c = i - edge * f;
    let src = edges[edge];
    let dst = edges[e + edge];
    if (src < 0 || dst < 0 || u32(src) >= nn || u32(dst) >= nn) {
        return m;
    }
    if (c == 0u && params[3] != 0u) {
        atomicAdd(&counts[u32(dst)], 1u);
    }
    m.valid = true;
    m.edge = edge;
    m.out = u32(dst) * f + c;
    m.value = x[u32(src) * f + c];
    return m;
}

fn add(i: u32, v: f32) {
    var old = atomicLoad(&acc[i]);
    loop {
        let r = atomicCompareExchangeWeak(&acc[i], old, bitcast<u32>(bitcast<f32>(old) + v));
        if (r.exchanged) {
            break;
        }
        old = r.old_value;
    }
}

// Orders like the floats: negatives below 0x80000000 (reversed), positives above.
fn key(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    if ((b & SIGN) != 0u) {
        return ~b;
    }
    return b | SIGN;
}

fn unkey(k: u32) -> f32 {
    if ((k & SIGN) != 0u) {
        return bitcast<f32>(k & ~SIGN);
    }
    return bitcast<f32>(~k);
}

@compute @workgroup_size(256)
fn clear(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i < params[0] * params[1]) {
        atomicStore(&acc[i], 0u);
    }
    if (i < params[0]) {
        atomicStore(&counts[i], 0u);
    }
}

@compute @workgroup_size(256)
fn scatter_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let m = message(gid.x + gid.y * nwg.x * WG);
    if (m.valid) {
        add(m.out, m.value);
    }
}

@compute @workgroup_size(256)
fn scatter_sum_w(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let m = message(gid.x + gid.y * nwg.x * WG);
    if (m.valid) {
        add(m.out, m.value * weight[m.edge]);
    }
}

@compute @workgroup_size(256)
fn scatter_max(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let m = message(gid.x + gid.y * nwg.x * WG);
    if (m.valid) {
        atomicMax(&acc[m.out], key(m.value));
    }
}

@compute @workgroup_size(256)
fn scatter_max_w(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let m = message(gid.x + gid.y * nwg.x * WG);
    if (m.valid) {
        atomicMax(&acc[m.out], key(m.value * weight[m.edge]));
    }
}

@compute @workgroup_size(256)
fn finalize_mean(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= params[0] * params[1]) {
        return;
    }
    let n = atomicLoad(&counts[i / params[1]]);
    if (n > 0u) {
        let mean = bitcast<f32>(atomicLoad(&acc[i])) / f32(n);
        atomicStore(&acc[i], bitcast<u32>(mean));
    }
}

@compute @workgroup_size(256)
fn finalize_max(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= params[0] * params[1]) {
        return;
    }
    var v = 0.0;
    if (atomicLoad(&counts[i / params[1]]) > 0u) {
        v = unkey(atomicLoad(&acc[i]));
    }
    atomicStore(&acc[i], bitcast<u32>(v));
}
