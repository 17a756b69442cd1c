// BlockDct / BlockIdct: out = A · F · Aᵀ on every B×B tile F, with A the orthonormal DCT-II
// matrix (BlockDct) or its transpose (BlockIdct). The host passes A transposed after the
// header: params[HDR + x * B + u] = A[u, x].
//
// `tiles` (B ≤ 32): one workgroup takes a segment of T consecutive tiles of one tile row
// (a B × T·B block of the image, at most 1024 values): it loads the block into workgroup
// memory with coalesced row reads, applies A down the columns, then Aᵀ along the rows, and
// writes the block back. Each invocation owns up to four elements e = li + 256·j, decomposed
// once as (row u, column c in the segment, column v in its tile).
// params: 0 B, 1 W, 2 T·B, 3 segments per tile row, 4 workgroups, then Aᵀ.
//
// `rows` then `cols` (any B): the two products through a scratch buffer, one element per
// invocation. params: 0 B, 1 W, 2 elements, then Aᵀ.

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const WG: u32 = 256u;
const HDR: u32 = 8u;

var<workgroup> s_in: array<f32, 1024>;
var<workgroup> s_mid: array<f32, 1024>;
var<workgroup> s_at: array<f32, 1024>;

fn at(i: u32) -> f32 {
    return bitcast<f32>(params[HDR + i]);
}

// (row u, column c in the segment, column v in the tile) of segment element e.
fn elem(e: u32, b: u32, tb: u32) -> vec3<u32> {
    let u = e / tb;
    let c = e - u * tb;
    return vec3<u32>(u, c, c % b);
}

fn load(e: vec3<u32>, b: u32, tb: u32, base: u32, w: u32, width: u32) {
    if (e.x < b) {
        var v = 0.0;
        if (e.y < width) {
            v = src[base + e.x * w + e.y];
        }
        s_in[e.x * tb + e.y] = v;
    }
}

// mid[u, c] = Σ_x A[u, x] · F[x, c]
fn down(e: vec3<u32>, b: u32, tb: u32) {
    if (e.x < b) {
        var acc = 0.0;
        for (var x = 0u; x < b; x++) {
            acc = fma(s_at[x * b + e.x], s_in[x * tb + e.y], acc);
        }
        s_mid[e.x * tb + e.y] = acc;
    }
}

// out[u, v] = Σ_y mid[u, y] · A[v, y], within the element's tile.
fn across(e: vec3<u32>, b: u32, tb: u32, base: u32, w: u32, width: u32) {
    if (e.x < b && e.y < width) {
        let m0 = e.x * tb + e.y - e.z;
        var acc = 0.0;
        for (var y = 0u; y < b; y++) {
            acc = fma(s_mid[m0 + y], s_at[y * b + e.z], acc);
        }
        dst[base + e.x * w + e.y] = acc;
    }
}

@compute @workgroup_size(256)
fn tiles(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let wid = wg.x + wg.y * nwg.x;
    if (wid >= params[4]) {
        return;
    }
    let b = params[0];
    let w = params[1];
    let tb = params[2];
    let segs = params[3];
    // Tile rows of every plane are stacked: tile row s starts at s·B·W.
    let col0 = (wid % segs) * tb;
    let base = (wid / segs) * b * w + col0;
    let width = min(tb, w - col0);
    for (var i = li; i < b * b; i += WG) {
        s_at[i] = at(i);
    }
    let e0 = elem(li, b, tb);
    let e1 = elem(li + WG, b, tb);
    let e2 = elem(li + 2u * WG, b, tb);
    let e3 = elem(li + 3u * WG, b, tb);
    load(e0, b, tb, base, w, width);
    load(e1, b, tb, base, w, width);
    load(e2, b, tb, base, w, width);
    load(e3, b, tb, base, w, width);
    workgroupBarrier();
    down(e0, b, tb);
    down(e1, b, tb);
    down(e2, b, tb);
    down(e3, b, tb);
    workgroupBarrier();
    across(e0, b, tb, base, w, width);
    across(e1, b, tb, base, w, width);
    across(e2, b, tb, base, w, width);
    across(e3, b, tb, base, w, width);
}

// scratch[r, c] = Σ_x A[u, x] · X[r − u + x, c], u = r mod B (rows of all planes stacked).
@compute @workgroup_size(256)
fn rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= params[2]) {
        return;
    }
    let b = params[0];
    let w = params[1];
    let r = i / w;
    let c = i - r * w;
    let u = r % b;
    let first = (r - u) * w + c;
    var acc = 0.0;
    for (var x = 0u; x < b; x++) {
        acc = fma(at(x * b + u), src[first + x * w], acc);
    }
    dst[i] = acc;
}

// out[r, c] = Σ_y scratch[r, c − v + y] · A[v, y], v = c mod B.
@compute @workgroup_size(256)
fn cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= params[2]) {
        return;
    }
    let b = params[0];
    let w = params[1];
    let v = (i % w) % b;
    let first = i - v;
    var acc = 0.0;
    for (var y = 0u; y < b; y++) {
        acc = fma(src[first + y], at(y * b + v), acc);
    }
    dst[i] = acc;
}
