// TemporalBandpass as two matrix products over all traces at once (M traces of T samples,
// J = 2·count columns: cosine and sine of each kept bin k_c = k_lo + c):
//   forward: C[m, j] = s_j · Σ_n X[m, n] · B[n, j]      (C: scratch, M × J)
//   inverse: Y[m, n] = Σ_j C[m, j] · B[n, j]             (Y: output, M × T)
// with B[n, 2c] = cos θ, B[n, 2c + 1] = sin θ, θ = 2π·((k_c·n) mod T)/T, taken from a table of
// cos/sin(2πi/T) computed in f64 on the host, so every angle is exact to f32. Since
// X_k = Σ x cos θ − i Σ x sin θ, Re(X_k e^{iθ}) = C_cos·cos θ + C_sin·sin θ. The scale s_j is
// numpy's irfft weight: 2/T, or 1/T for the DC and Nyquist bins, whose sine part is dropped.
//
// Both products use 64 × 64 output tiles per workgroup (4 × 4 per thread, rows and columns
// strided by 16 so workgroup-memory reads are broadcast or consecutive) and a depth of 16
// per step; the twiddle operand is generated while loading its tile. A trace tile of 64
// shares every twiddle it loads.
//
// params: T, M, k_lo, count, column tiles, then (cos, sin)(2πi/T) as f32 bits for i in 0..T.

@group(0) @binding(0) var<storage, read> params: array<u32>;
// forward
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> coef: array<f32>;
// inverse
@group(0) @binding(1) var<storage, read> coef_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const TILE: u32 = 64u;
const DEPTH: u32 = 16u;
const PAD: u32 = 65u; // TILE + 1: a_tile row stride, avoiding bank conflicts on stores
const HEADER: u32 = 5u;

var<workgroup> a_tile: array<f32, 1040>; // DEPTH × PAD, [depth][row]
var<workgroup> b_tile: array<f32, 1024>; // DEPTH × TILE, [depth][col]

// B[n, j]: the cosine (even j) or sine (odd j) of bin k_lo + j/2 at sample n.
fn twiddle(j: u32, n: u32) -> f32 {
    let t = params[0];
    let k = params[2] + j / 2u;
    let i = (k * n) % t;
    return bitcast<f32>(params[HEADER + 2u * i + (j & 1u)]);
}

fn tile_products(acc: ptr<function, array<f32, 16>>, tx: u32, ty: u32) {
    for (var d = 0u; d < DEPTH; d++) {
        var a: array<f32, 4>;
        var b: array<f32, 4>;
        for (var i = 0u; i < 4u; i++) {
            a[i] = a_tile[d * PAD + ty + 16u * i];
            b[i] = b_tile[d * TILE + tx + 16u * i];
        }
        for (var i = 0u; i < 4u; i++) {
            for (var j = 0u; j < 4u; j++) {
                (*acc)[i * 4u + j] += a[i] * b[j];
            }
        }
    }
}

struct Tile {
    valid: bool,
    row0: u32,
    col0: u32,
}

fn tile_of(wid: vec3<u32>, nwg: vec3<u32>, rows: u32) -> Tile {
    let tile = wid.x + wid.y * nwg.x;
    let col_tiles = params[4];
    let row_tiles = (rows + TILE - 1u) / TILE;
    return Tile(tile < row_tiles * col_tiles, (tile / col_tiles) * TILE, (tile % col_tiles) * TILE);
}

@compute @workgroup_size(256)
fn forward(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let t = params[0];
    let m_len = params[1];
    let cols = 2u * params[3];
    let tile = tile_of(wid, nwg, m_len);
    if (!tile.valid) {
        return;
    }
    let tx = tid % 16u;
    let ty = tid / 16u;
    var acc: array<f32, 16>;
    for (var n0 = 0u; n0 < t; n0 += DEPTH) {
        for (var r = 0u; r < 4u; r++) {
            let e = tid + 256u * r;
            let row = e / DEPTH;
            let d = e % DEPTH;
            let m = tile.row0 + row;
            let n = n0 + d;
            var v = 0.0;
            if (m < m_len && n < t) {
                v = x[m * t + n];
            }
            a_tile[d * PAD + row] = v;
            let bd = e / TILE;
            let col = e % TILE;
            let j = tile.col0 + col;
            let bn = n0 + bd;
            var w = 0.0;
            if (j < cols && bn < t) {
                w = twiddle(j, bn);
            }
            b_tile[bd * TILE + col] = w;
        }
        workgroupBarrier();
        tile_products(&acc, tx, ty);
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let m = tile.row0 + ty + 16u * i;
        for (var jj = 0u; jj < 4u; jj++) {
            let j = tile.col0 + tx + 16u * jj;
            if (m < m_len && j < cols) {
                let k = params[2] + j / 2u;
                var s = 2.0 / f32(t);
                if (k == 0u || 2u * k == t) {
                    s = select(1.0 / f32(t), 0.0, (j & 1u) == 1u);
                }
                coef[m * cols + j] = acc[i * 4u + jj] * s;
            }
        }
    }
}

@compute @workgroup_size(256)
fn inverse(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) tid: u32,
) {
    let t = params[0];
    let m_len = params[1];
    let cols = 2u * params[3];
    let tile = tile_of(wid, nwg, m_len);
    if (!tile.valid) {
        return;
    }
    let tx = tid % 16u;
    let ty = tid / 16u;
    var acc: array<f32, 16>;
    for (var j0 = 0u; j0 < cols; j0 += DEPTH) {
        for (var r = 0u; r < 4u; r++) {
            let e = tid + 256u * r;
            let row = e / DEPTH;
            let d = e % DEPTH;
            let m = tile.row0 + row;
            let j = j0 + d;
            var v = 0.0;
            if (m < m_len && j < cols) {
                v = coef_in[m * cols + j];
            }
            a_tile[d * PAD + row] = v;
            let bd = e / TILE;
            let col = e % TILE;
            let n = tile.col0 + col;
            let bj = j0 + bd;
            var w = 0.0;
            if (bj < cols && n < t) {
                w = twiddle(bj, n);
            }
            b_tile[bd * TILE + col] = w;
        }
        workgroupBarrier();
        tile_products(&acc, tx, ty);
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let m = tile.row0 + ty + 16u * i;
        for (var jj = 0u; jj < 4u; jj++) {
            let n = tile.col0 + tx + 16u * jj;
            if (m < m_len && n < t) {
                y[m * t + n] = acc[i * 4u + jj];
            }
        }
    }
}
