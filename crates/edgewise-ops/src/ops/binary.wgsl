// Binary networks (BinaryGemm, BinaryConv2d): ±1 dot products by XOR and popcount.
//
// Passes:
//   prep                       aux = [scale (n) | bias or 0 (n) | key or 0 (words)], as u32 bits
//   pack | im2col[_masked]     sign bits of the activations (a >= 0 -> 1) XOR key, word-major:
//                              bits[w * rows + r] holds taps 32w..32w+31 of row r; the masked
//                              im2col also writes which taps fall inside the image
//   gemv | gemm | conv[_masked]  y = scale * (valid - 2 * popcount((a ^ w) & mask)) + bias
//
// Each entry point uses exactly bindings 0..k, so variables of different entry points share
// binding numbers (allowed: bindings must be unique per entry point only).

@group(0) @binding(0) var<storage, read> params: array<u32>;

// ---- prep: params n, words, has_bias, has_key --------------------------------------------

@group(0) @binding(1) var<storage, read_write> aux_out: array<u32>;
@group(0) @binding(2) var<storage, read> scale_in: array<f32>;
@group(0) @binding(3) var<storage, read> bias_in: array<f32>;
@group(0) @binding(4) var<storage, read> key_in: array<u32>;

@compute @workgroup_size(64)
fn prep(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 64u;
    let n = params[0];
    if (i < n) {
        aux_out[i] = bitcast<u32>(scale_in[i]);
        var b = 0.0;
        if (params[2] != 0u) {
            b = bias_in[i];
        }
        aux_out[n + i] = bitcast<u32>(b);
    }
    if (i < params[1]) {
        var k = 0u;
        if (params[3] != 0u) {
            k = key_in[i];
        }
        aux_out[2u * n + i] = k;
    }
}

// ---- pack (GEMM): params rows, k, words, n ------------------------------------------------
// ---- im2col (conv): params rows, taps, words, m, c, h, w, oh, ow, kh, kw, sh, sw, dh, dw,
//      pad top, pad left (the conv passes share this block) -------------------------------

@group(0) @binding(1) var<storage, read> act: array<f32>;
@group(0) @binding(2) var<storage, read> aux_in: array<u32>;
@group(0) @binding(3) var<storage, read_write> bits_out: array<u32>;
@group(0) @binding(4) var<storage, read_write> mask_out: array<u32>;

@compute @workgroup_size(256)
fn pack(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let rows = params[0];
    let k = params[1];
    let words = params[2];
    if (i >= rows * words) {
        return;
    }
    let w = i / rows;
    let r = i - w * rows;
    let base = r * k + 32u * w;
    let count = min(32u, k - 32u * w);
    var b = 0u;
    for (var j = 0u; j < count; j++) {
        if (act[base + j] >= 0.0) {
            b |= 1u << j;
        }
    }
    bits_out[i] = b ^ aux_in[2u * params[3] + w];
}

// Word `w` of output position `p`: (sign bits, validity mask).
fn im2col_word(w: u32, p: u32) -> vec2<u32> {
    let taps = params[1];
    let c_in = params[4];
    let h = params[5];
    let wd = params[6];
    let ow = params[8];
    let kh = params[9];
    let kw = params[10];
    let ohw = params[7] * ow;
    let b = p / ohw;
    let q = p - b * ohw;
    let oy = q / ow;
    let ox = q - oy * ow;
    let y0 = i32(oy * params[11]) - i32(params[15]);
    let x0 = i32(ox * params[12]) - i32(params[16]);
    let dh = i32(params[13]);
    let dw = i32(params[14]);
    let k0 = 32u * w;
    let count = min(32u, taps - k0);
    let khw = kh * kw;
    var c = k0 / khw;
    let rem = k0 - c * khw;
    var ky = rem / kw;
    var kx = rem - ky * kw;
    var bits = 0u;
    var mask = 0u;
    for (var j = 0u; j < count; j++) {
        let iy = y0 + i32(ky) * dh;
        let ix = x0 + i32(kx) * dw;
        if (iy >= 0 && iy < i32(h) && ix >= 0 && ix < i32(wd)) {
            mask |= 1u << j;
            if (act[((b * c_in + c) * h + u32(iy)) * wd + u32(ix)] >= 0.0) {
                bits |= 1u << j;
            }
        }
        kx += 1u;
        if (kx == kw) {
            kx = 0u;
            ky += 1u;
            if (ky == kh) {
                ky = 0u;
                c += 1u;
            }
        }
    }
    return vec2<u32>(bits, mask);
}

@compute @workgroup_size(256)
fn im2col(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let rows = params[0];
    if (i >= rows * params[2]) {
        return;
    }
    let w = i / rows;
    let v = im2col_word(w, i - w * rows);
    bits_out[i] = v.x ^ aux_in[2u * params[3] + w];
}

@compute @workgroup_size(256)
fn im2col_masked(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * 256u;
    let rows = params[0];
    if (i >= rows * params[2]) {
        return;
    }
    let w = i / rows;
    let v = im2col_word(w, i - w * rows);
    bits_out[i] = v.x ^ aux_in[2u * params[3] + w];
    mask_out[i] = v.y;
}

// ---- popcount GEMM: gemv, gemm (params as pack), conv[_masked] (params as im2col) --------

@group(0) @binding(1) var<storage, read> bits_in: array<u32>;
@group(0) @binding(2) var<storage, read> wts: array<u32>;
@group(0) @binding(3) var<storage, read> aux: array<u32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read> mask_in: array<u32>;

const TILE: u32 = 64u;    // rows and output channels per workgroup
const TK: u32 = 16u;      // words staged per step
const WSTRIDE: u32 = 65u; // padded row of the weight tile: conflict-free transposed stores
const A_OFF: u32 = 0u;    // activation tile [TK][TILE]
const M_OFF: u32 = 1024u; // mask tile [TK][TILE]
const W_OFF: u32 = 2048u; // weight tile [TK][WSTRIDE]
// One array for every tile (12.1 KiB); the GEMV reduction reuses its first 2048 words.
var<workgroup> smem: array<u32, 3088>;

fn affine(c: u32, n: u32, dot: i32) -> f32 {
    return bitcast<f32>(aux[c]) * f32(dot) + bitcast<f32>(aux[n + c]);
}

// Stages words k0..k0+TK of rows r0..r0+TILE of a word-major operand.
fn load_a(k0: u32, r0: u32, rows: u32, words: u32, lid: u32) {
    for (var q = 0u; q < 4u; q++) {
        let e = lid + 256u * q;
        let kk = e / TILE;
        let r = r0 + e % TILE;
        var v = 0u;
        if (k0 + kk < words && r < rows) {
            v = bits_in[(k0 + kk) * rows + r];
        }
        smem[A_OFF + e] = v;
    }
}

fn load_m(k0: u32, r0: u32, rows: u32, words: u32, lid: u32) {
    for (var q = 0u; q < 4u; q++) {
        let e = lid + 256u * q;
        let kk = e / TILE;
        let r = r0 + e % TILE;
        var v = 0u;
        if (k0 + kk < words && r < rows) {
            v = mask_in[(k0 + kk) * rows + r];
        }
        smem[M_OFF + e] = v;
    }
}

// Stages words k0..k0+TK of weight rows c0..c0+TILE (row-major [n, words]), transposed.
fn load_w(k0: u32, c0: u32, n: u32, words: u32, lid: u32) {
    for (var q = 0u; q < 4u; q++) {
        let e = lid + 256u * q;
        let c = e / TK;
        let kk = e % TK;
        var v = 0u;
        if (c0 + c < n && k0 + kk < words) {
            v = wts[(c0 + c) * words + k0 + kk];
        }
        smem[W_OFF + kk * WSTRIDE + c] = v;
    }
}

// acc[i * 4 + j] += popcount(a[ra + 16i] ^ w[rw + 16j]) over `steps` staged words.
fn mac(acc: ptr<function, array<u32, 16>>, ra: u32, rw: u32, steps: u32) {
    for (var kk = 0u; kk < steps; kk++) {
        var a: array<u32, 4>;
        var w: array<u32, 4>;
        for (var i = 0u; i < 4u; i++) {
            a[i] = smem[A_OFF + kk * TILE + ra + 16u * i];
            w[i] = smem[W_OFF + kk * WSTRIDE + rw + 16u * i];
        }
        for (var i = 0u; i < 4u; i++) {
            for (var j = 0u; j < 4u; j++) {
                (*acc)[i * 4u + j] += countOneBits(a[i] ^ w[j]);
            }
        }
    }
}

fn mac_masked(acc: ptr<function, array<u32, 16>>, ra: u32, rw: u32, steps: u32) {
    for (var kk = 0u; kk < steps; kk++) {
        var a: array<u32, 4>;
        var m: array<u32, 4>;
        var w: array<u32, 4>;
        for (var i = 0u; i < 4u; i++) {
            a[i] = smem[A_OFF + kk * TILE + ra + 16u * i];
            m[i] = smem[M_OFF + kk * TILE + ra + 16u * i];
            w[i] = smem[W_OFF + kk * WSTRIDE + rw + 16u * i];
        }
        for (var i = 0u; i < 4u; i++) {
            for (var j = 0u; j < 4u; j++) {
                (*acc)[i * 4u + j] += countOneBits((a[i] ^ w[j]) & m[i]);
            }
        }
    }
}

// Y[rows, n] for at most 8 rows: 8 channels per workgroup, 32 lanes splitting each channel's
// words (coalesced weight reads), then a tree reduction over the lanes in workgroup memory.
@compute @workgroup_size(256)
fn gemv(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let rows = params[0];
    let k = params[1];
    let words = params[2];
    let n = params[3];
    let c = (wid.x + wid.y * nwg.x) * 8u + lid / 32u;
    let lane = lid % 32u;
    var acc: array<u32, 8>;
    if (c < n) {
        for (var w = lane; w < words; w += 32u) {
            let wv = wts[c * words + w];
            for (var r = 0u; r < 8u; r++) {
                if (r < rows) {
                    acc[r] += countOneBits(bits_in[w * rows + r] ^ wv);
                }
            }
        }
    }
    for (var r = 0u; r < 8u; r++) {
        smem[r * 256u + lid] = acc[r];
    }
    workgroupBarrier();
    for (var off = 16u; off > 0u; off >>= 1u) {
        if (lane < off) {
            for (var r = 0u; r < 8u; r++) {
                smem[r * 256u + lid] += smem[r * 256u + lid + off];
            }
        }
        workgroupBarrier();
    }
    if (lane == 0u && c < n) {
        for (var r = 0u; r < rows; r++) {
            y[r * n + c] = affine(c, n, i32(k) - 2 * i32(smem[r * 256u + lid]));
        }
    }
}

// Y[rows, n]: a 64 x 64 tile per workgroup; invocation (tx, ty) holds rows ty + 16i and
// channels tx + 16j, so neighbours write neighbouring channels.
@compute @workgroup_size(256)
fn gemm(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let rows = params[0];
    let k = params[1];
    let words = params[2];
    let n = params[3];
    let r0 = (wid.y + wid.z * nwg.y) * TILE;
    let c0 = wid.x * TILE;
    if (r0 >= rows) {
        return;
    }
    let tx = lid % 16u;
    let ty = lid / 16u;
    var acc: array<u32, 16>;
    for (var k0 = 0u; k0 < words; k0 += TK) {
        load_a(k0, r0, rows, words, lid);
        load_w(k0, c0, n, words, lid);
        workgroupBarrier();
        mac(&acc, ty, tx, min(TK, words - k0));
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let r = r0 + ty + 16u * i;
        for (var j = 0u; j < 4u; j++) {
            let c = c0 + tx + 16u * j;
            if (r < rows && c < n) {
                y[r * n + c] = affine(c, n, i32(k) - 2 * i32(acc[i * 4u + j]));
            }
        }
    }
}

// Taps of output position p that fall inside the image.
fn valid_taps(p: u32) -> u32 {
    let h = i32(params[5]);
    let wd = i32(params[6]);
    let ow = params[8];
    let q = p % (params[7] * ow);
    let oy = q / ow;
    let ox = q - oy * ow;
    let y0 = i32(oy * params[11]) - i32(params[15]);
    let x0 = i32(ox * params[12]) - i32(params[16]);
    var vy = 0u;
    for (var ky = 0u; ky < params[9]; ky++) {
        let iy = y0 + i32(ky * params[13]);
        vy += select(0u, 1u, iy >= 0 && iy < h);
    }
    var vx = 0u;
    for (var kx = 0u; kx < params[10]; kx++) {
        let ix = x0 + i32(kx * params[14]);
        vx += select(0u, 1u, ix >= 0 && ix < wd);
    }
    return params[4] * vy * vx;
}

// Writes a conv tile: invocation (tx, ty) holds positions tx + 16i and channels ty + 16j,
// so neighbours write neighbouring pixels of one output plane.
fn conv_store(acc: ptr<function, array<u32, 16>>, r0: u32, c0: u32, tx: u32, ty: u32, masked: bool) {
    let rows = params[0];
    let m = params[3];
    let ohw = params[7] * params[8];
    for (var i = 0u; i < 4u; i++) {
        let r = r0 + tx + 16u * i;
        if (r < rows) {
            var valid = params[1];
            if (masked) {
                valid = valid_taps(r);
            }
            let b = r / ohw;
            let q = r - b * ohw;
            for (var j = 0u; j < 4u; j++) {
                let c = c0 + ty + 16u * j;
                if (c < m) {
                    y[(b * m + c) * ohw + q] = affine(c, m, i32(valid) - 2 * i32((*acc)[i * 4u + j]));
                }
            }
        }
    }
}

@compute @workgroup_size(256)
fn conv(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let rows = params[0];
    let words = params[2];
    let r0 = (wid.y + wid.z * nwg.y) * TILE;
    let c0 = wid.x * TILE;
    if (r0 >= rows) {
        return;
    }
    let tx = lid % 16u;
    let ty = lid / 16u;
    var acc: array<u32, 16>;
    for (var k0 = 0u; k0 < words; k0 += TK) {
        load_a(k0, r0, rows, words, lid);
        load_w(k0, c0, params[3], words, lid);
        workgroupBarrier();
        mac(&acc, tx, ty, min(TK, words - k0));
        workgroupBarrier();
    }
    conv_store(&acc, r0, c0, tx, ty, false);
}

@compute @workgroup_size(256)
fn conv_masked(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let rows = params[0];
    let words = params[2];
    let r0 = (wid.y + wid.z * nwg.y) * TILE;
    let c0 = wid.x * TILE;
    if (r0 >= rows) {
        return;
    }
    let tx = lid % 16u;
    let ty = lid / 16u;
    var acc: array<u32, 16>;
    for (var k0 = 0u; k0 < words; k0 += TK) {
        load_a(k0, r0, rows, words, lid);
        load_m(k0, r0, rows, words, lid);
        load_w(k0, c0, params[3], words, lid);
        workgroupBarrier();
        mac_masked(&acc, tx, ty, min(TK, words - k0));
        workgroupBarrier();
    }
    conv_store(&acc, r0, c0, tx, ty, true);
}
