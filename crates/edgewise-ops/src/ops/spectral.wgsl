// SpectralConv1d / SpectralConv2d as truncated DFTs: only the kept modes are ever computed.
//
// Complex values are stored interleaved (re, im). Passes that transform along an axis of
// length n carry a twiddle table after TW header words of params:
// params[TW + 2j] = cos(2πj/n), params[TW + 2j + 1] = sin(2πj/n), j < n (computed in f64 on
// the host), read at index (k·j) mod n.
//
// Entry points (bindings: 1 src, 2 dst, 3 wr, 4 wi):
//   rdft    real rows -> kept bins, as split-K partial sums (workgroup-tiled matrix product)
//   rowdft  complex DFT along H of the kept columns, for the 2·m1 kept rows
//   sum_splits  adds the split-K partial sums of rdft
//   mix     per-position complex channel mixing with the weights
//   irowdft inverse complex DFT along H of the kept rows, for every row h
//   irdft   kept bins -> real rows with irfft's Hermitian weights (workgroup-tiled)

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> wr: array<f32>;
@group(0) @binding(4) var<storage, read> wi: array<f32>;

const WG: u32 = 256u;
const TW: u32 = 8u;

fn twiddle(j: u32) -> vec2<f32> {
    return vec2<f32>(bitcast<f32>(params[TW + 2u * j]), bitcast<f32>(params[TW + 2u * j + 1u]));
}

// ---- rdft ----------------------------------------------------------------------------------
// params: rows, n, modes, splits, chunk, mode blocks, row blocks.
// A workgroup computes 64 rows x 16 modes over one slice [s·chunk, (s+1)·chunk) of the
// samples, in tiles of 32 samples: each thread owns one mode and 4 rows (ty + 16·j).
// dst[((s·rows + row)·modes + k)·2 + {0, 1}] = Σ_j x[row, j]·(cos, −sin)(2π·k·j/n).

const RD_ROWS: u32 = 64u;
const RD_MODES: u32 = 16u;
const RD_TILE: u32 = 32u;

var<workgroup> rd_x: array<f32, 2048>; // RD_ROWS x RD_TILE samples
var<workgroup> rd_cos: array<f32, 512>; // RD_TILE x RD_MODES
var<workgroup> rd_sin: array<f32, 512>;

@compute @workgroup_size(256)
fn rdft(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let rows = params[0];
    let n = params[1];
    let modes = params[2];
    let splits = params[3];
    let chunk = params[4];
    let kblocks = params[5];
    let mblocks = params[6];
    let wid = wg.x + wg.y * nwg.x;
    if (wid >= kblocks * mblocks * splits) {
        return;
    }
    let kb = wid % kblocks;
    let mb = (wid / kblocks) % mblocks;
    let s = wid / (kblocks * mblocks);
    let tx = t % RD_MODES;
    let ty = t / RD_MODES;
    let row0 = mb * RD_ROWS;
    let j_begin = s * chunk;
    let j_end = min(j_begin + chunk, n);
    var re = vec4<f32>(0.0);
    var im = vec4<f32>(0.0);
    for (var j0 = j_begin; j0 < j_end; j0 += RD_TILE) {
        for (var e = t; e < RD_ROWS * RD_TILE; e += WG) {
            let row = row0 + e / RD_TILE;
            let j = j0 + e % RD_TILE;
            var v = 0.0;
            if (row < rows && j < j_end) {
                v = src[row * n + j];
            }
            rd_x[e] = v;
        }
        for (var e = t; e < RD_TILE * RD_MODES; e += WG) {
            let j = j0 + e / RD_MODES;
            let k = kb * RD_MODES + e % RD_MODES;
            var w = vec2<f32>(0.0);
            if (j < j_end && k < modes) {
                w = twiddle((k * j) % n);
            }
            rd_cos[e] = w.x;
            rd_sin[e] = w.y;
        }
        workgroupBarrier();
        for (var c = 0u; c < RD_TILE; c++) {
            let cs = rd_cos[c * RD_MODES + tx];
            let sn = rd_sin[c * RD_MODES + tx];
            let v = vec4<f32>(
                rd_x[ty * RD_TILE + c],
                rd_x[(ty + 16u) * RD_TILE + c],
                rd_x[(ty + 32u) * RD_TILE + c],
                rd_x[(ty + 48u) * RD_TILE + c],
            );
            re += v * cs;
            im -= v * sn;
        }
        workgroupBarrier();
    }
    let k = kb * RD_MODES + tx;
    if (k >= modes) {
        return;
    }
    for (var q = 0u; q < 4u; q++) {
        let row = row0 + ty + 16u * q;
        if (row < rows) {
            let o = ((s * rows + row) * modes + k) * 2u;
            dst[o] = re[q];
            dst[o + 1u] = im[q];
        }
    }
}

// ---- rowdft / irowdft ----------------------------------------------------------------------
// params: channels (B·C), H, m1, m2. Kept row rr < 2·m1 is frequency rr (rr < m1) or
// H − 2·m1 + rr.

fn kept_row(rr: u32, h: u32, m1: u32) -> u32 {
    return select(h - 2u * m1 + rr, rr, rr < m1);
}

// src [C, H, m2] complex -> dst [C, 2·m1, m2]: Σ_h src[c, h, col]·e^{−2πi·r·h/H}.
@compute @workgroup_size(256)
fn rowdft(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    let h = params[1];
    let m1 = params[2];
    let m2 = params[3];
    if (i >= params[0] * 2u * m1 * m2) {
        return;
    }
    let col = i % m2;
    let r = kept_row((i / m2) % (2u * m1), h, m1);
    let ch = i / (2u * m1 * m2);
    var acc = vec2<f32>(0.0);
    var idx = 0u;
    for (var y = 0u; y < h; y++) {
        let o = ((ch * h + y) * m2 + col) * 2u;
        let z = vec2<f32>(src[o], src[o + 1u]);
        let w = twiddle(idx);
        acc += vec2<f32>(z.x * w.x + z.y * w.y, z.y * w.x - z.x * w.y);
        idx += r;
        if (idx >= h) {
            idx -= h;
        }
    }
    dst[2u * i] = acc.x;
    dst[2u * i + 1u] = acc.y;
}

// src [C, 2·m1, m2] complex -> dst [C, H, m2]: Σ_rr src[c, rr, col]·e^{+2πi·r·h/H}.
@compute @workgroup_size(256)
fn irowdft(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    let h = params[1];
    let m1 = params[2];
    let m2 = params[3];
    if (i >= params[0] * h * m2) {
        return;
    }
    let col = i % m2;
    let y = (i / m2) % h;
    let ch = i / (h * m2);
    var acc = vec2<f32>(0.0);
    for (var rr = 0u; rr < 2u * m1; rr++) {
        let o = ((ch * 2u * m1 + rr) * m2 + col) * 2u;
        let z = vec2<f32>(src[o], src[o + 1u]);
        let w = twiddle((kept_row(rr, h, m1) * y) % h);
        acc += vec2<f32>(z.x * w.x - z.y * w.y, z.y * w.x + z.x * w.y);
    }
    dst[2u * i] = acc.x;
    dst[2u * i + 1u] = acc.y;
}

// ---- sum_splits ----------------------------------------------------------------------------
// params: len, splits. dst[i] = Σ_s src[s·len + i].
@compute @workgroup_size(256)
fn sum_splits(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    let len = params[0];
    if (i >= len) {
        return;
    }
    var acc = 0.0;
    for (var s = 0u; s < params[1]; s++) {
        acc += src[s * len + i];
    }
    dst[i] = acc;
}

// ---- mix -----------------------------------------------------------------------------------
// params: B, Cin, Cout, positions P, positions per weight block Q.
// dst[b, o, p] = Σ_i src[b, i, p]·W[p / Q, i, o, p % Q], complex.
@compute @workgroup_size(256)
fn mix(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    let cin = params[1];
    let cout = params[2];
    let p_len = params[3];
    let q_len = params[4];
    if (i >= params[0] * cout * p_len) {
        return;
    }
    let p = i % p_len;
    let o = (i / p_len) % cout;
    let b = i / (p_len * cout);
    let block = p / q_len;
    let q = p % q_len;
    var acc = vec2<f32>(0.0);
    for (var c = 0u; c < cin; c++) {
        let x = 2u * ((b * cin + c) * p_len + p);
        let z = vec2<f32>(src[x], src[x + 1u]);
        let wo = ((block * cin + c) * cout + o) * q_len + q;
        let w = vec2<f32>(wr[wo], wi[wo]);
        acc += vec2<f32>(z.x * w.x - z.y * w.y, z.x * w.y + z.y * w.x);
    }
    dst[2u * i] = acc.x;
    dst[2u * i + 1u] = acc.y;
}

// ---- irdft ---------------------------------------------------------------------------------
// params: rows, n, modes, scale (f32), column blocks, row blocks.
// dst[row, j] = scale·Σ_k a_k·(re·cos − im·sin)(2π·k·j/n), a_k = 1 at DC and Nyquist (whose
// imaginary parts are dropped, as irfft does), 2 elsewhere. A workgroup computes 32 rows x
// 64 samples, in tiles of 16 modes: each thread owns one sample and 8 rows (ty + 4·q).

const IR_ROWS: u32 = 32u;
const IR_COLS: u32 = 64u;
const IR_MODES: u32 = 16u;

var<workgroup> ir_re: array<f32, 512>; // IR_ROWS x IR_MODES
var<workgroup> ir_im: array<f32, 512>;
var<workgroup> ir_cos: array<f32, 1024>; // IR_MODES x IR_COLS
var<workgroup> ir_sin: array<f32, 1024>;

@compute @workgroup_size(256)
fn irdft(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let rows = params[0];
    let n = params[1];
    let modes = params[2];
    let scale = bitcast<f32>(params[3]);
    let nblocks = params[4];
    let mblocks = params[5];
    let wid = wg.x + wg.y * nwg.x;
    if (wid >= nblocks * mblocks) {
        return;
    }
    let nb = wid % nblocks;
    let mb = wid / nblocks;
    let tx = t % IR_COLS;
    let ty = t / IR_COLS;
    let row0 = mb * IR_ROWS;
    let j = nb * IR_COLS + tx;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < modes; k0 += IR_MODES) {
        for (var e = t; e < IR_ROWS * IR_MODES; e += WG) {
            let row = row0 + e / IR_MODES;
            let k = k0 + e % IR_MODES;
            var z = vec2<f32>(0.0);
            if (row < rows && k < modes) {
                let o = (row * modes + k) * 2u;
                z = vec2<f32>(src[o], src[o + 1u]) * (2.0 * scale);
                if (k == 0u || 2u * k == n) {
                    z = vec2<f32>(0.5 * z.x, 0.0);
                }
            }
            ir_re[e] = z.x;
            ir_im[e] = z.y;
        }
        for (var e = t; e < IR_MODES * IR_COLS; e += WG) {
            let k = k0 + e / IR_COLS;
            let jj = nb * IR_COLS + e % IR_COLS;
            var w = vec2<f32>(0.0);
            if (k < modes && jj < n) {
                w = twiddle((k * jj) % n);
            }
            ir_cos[e] = w.x;
            ir_sin[e] = w.y;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < IR_MODES; kk++) {
            let cs = ir_cos[kk * IR_COLS + tx];
            let sn = ir_sin[kk * IR_COLS + tx];
            let r0 = vec4<f32>(
                ir_re[ty * IR_MODES + kk],
                ir_re[(ty + 4u) * IR_MODES + kk],
                ir_re[(ty + 8u) * IR_MODES + kk],
                ir_re[(ty + 12u) * IR_MODES + kk],
            );
            let i0 = vec4<f32>(
                ir_im[ty * IR_MODES + kk],
                ir_im[(ty + 4u) * IR_MODES + kk],
                ir_im[(ty + 8u) * IR_MODES + kk],
                ir_im[(ty + 12u) * IR_MODES + kk],
            );
            let r1 = vec4<f32>(
                ir_re[(ty + 16u) * IR_MODES + kk],
                ir_re[(ty + 20u) * IR_MODES + kk],
                ir_re[(ty + 24u) * IR_MODES + kk],
                ir_re[(ty + 28u) * IR_MODES + kk],
            );
            let i1 = vec4<f32>(
                ir_im[(ty + 16u) * IR_MODES + kk],
                ir_im[(ty + 20u) * IR_MODES + kk],
                ir_im[(ty + 24u) * IR_MODES + kk],
                ir_im[(ty + 28u) * IR_MODES + kk],
            );
            acc0 += r0 * cs - i0 * sn;
            acc1 += r1 * cs - i1 * sn;
        }
        workgroupBarrier();
    }
    if (j >= n) {
        return;
    }
    for (var q = 0u; q < 4u; q++) {
        let ra = row0 + ty + 4u * q;
        if (ra < rows) {
            dst[ra * n + j] = acc0[q];
        }
        let rb = ra + 16u;
        if (rb < rows) {
            dst[rb * n + j] = acc1[q];
        }
    }
}
