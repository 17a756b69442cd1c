// SsimMap: per-pixel SSIM with a separable Gaussian window over the valid region.
//
// One workgroup computes a tile of 32×32 outputs of one plane. The input rows the tile needs
// (32 + window − 1) are walked in chunks of 8: first every invocation filters one row segment
// horizontally (the five moments x, y, x², y², xy) into workgroup memory, then every
// invocation adds the chunk's rows that fall in its window into the vertical sums of its four
// output rows (one column, four consecutive rows, held as vec4s). Any window size works:
// workgroup memory holds one chunk, not the window.
//
// params: 0 tiles, 1 tiles_x, 2 tiles per plane, 3 h, 4 w, 5 ho, 6 wo, 7 window, 8 c1 (f32),
// 9 c2 (f32), then the window weights (f32) with three zeros on each side: weight k is at
// params[10 + 3 + k] for k in −3 .. window + 3.

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const TW: u32 = 32u; // output columns per tile = invocations per row
const TY: u32 = 8u; // invocation rows = input rows per chunk
const RPT: u32 = 4u; // output rows per invocation
const TH: u32 = 32u; // output rows per tile (TY * RPT)
const PLANE: u32 = 256u; // TW * TY: one moment plane of a chunk

// moment m of chunk row r, column c at m * PLANE + r * TW + c
var<workgroup> mom: array<f32, 1280>;

// Padded weight: index i is weight i − 3 (zero outside the window).
fn pw(i: u32) -> f32 {
    return bitcast<f32>(params[10u + i]);
}

fn ssim(mx: f32, my: f32, exx: f32, eyy: f32, exy: f32, c1: f32, c2: f32) -> f32 {
    let vx = exx - mx * mx;
    let vy = eyy - my * my;
    let cxy = exy - mx * my;
    return ((2.0 * mx * my + c1) * (2.0 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let tile = wg.x + wg.y * nwg.x;
    if (tile >= params[0]) {
        return;
    }
    let tiles_x = params[1];
    let h = params[3];
    let w = params[4];
    let ho = params[5];
    let wo = params[6];
    let win = params[7];
    let plane = tile / params[2];
    let t = tile % params[2];
    let oy0 = (t / tiles_x) * TH;
    let ox0 = (t % tiles_x) * TW;
    let tx = li % TW;
    let ty = li / TW;
    let col = ox0 + tx;
    // Input rows of the tile (tile-local), and the ones this invocation's outputs need.
    let nrows = min(TH + win - 1u, h - oy0);
    let first = ty * RPT;
    let last = first + RPT - 1u + win;
    let src0 = (plane * h + oy0) * w + col;

    var mx = vec4<f32>(0.0);
    var my = vec4<f32>(0.0);
    var sxx = vec4<f32>(0.0);
    var syy = vec4<f32>(0.0);
    var sxy = vec4<f32>(0.0);
    for (var c0 = 0u; c0 < nrows; c0 += TY) {
        // Horizontal pass: row c0 + ty, column col.
        let r = c0 + ty;
        var a0 = 0.0;
        var a1 = 0.0;
        var a2 = 0.0;
        var a3 = 0.0;
        var a4 = 0.0;
        if (r < nrows && col < wo) {
            let p = src0 + r * w;
            for (var k = 0u; k < win; k++) {
                let g = pw(k + 3u);
                let xv = x[p + k];
                let yv = y[p + k];
                let gx = g * xv;
                let gy = g * yv;
                a0 += gx;
                a1 += gy;
                a2 = fma(gx, xv, a2);
                a3 = fma(gy, yv, a3);
                a4 = fma(gx, yv, a4);
            }
        }
        let o = ty * TW + tx;
        mom[o] = a0;
        mom[PLANE + o] = a1;
        mom[2u * PLANE + o] = a2;
        mom[3u * PLANE + o] = a3;
        mom[4u * PLANE + o] = a4;
        workgroupBarrier();
        // Vertical pass: the chunk's rows inside this invocation's windows.
        let lo = max(c0, first);
        let hi = min(min(c0 + TY, nrows), last);
        for (var rr = lo; rr < hi; rr++) {
            let i0 = rr - first + 3u;
            let g = vec4<f32>(pw(i0), pw(i0 - 1u), pw(i0 - 2u), pw(i0 - 3u));
            let q = (rr - c0) * TW + tx;
            mx = fma(g, vec4<f32>(mom[q]), mx);
            my = fma(g, vec4<f32>(mom[PLANE + q]), my);
            sxx = fma(g, vec4<f32>(mom[2u * PLANE + q]), sxx);
            syy = fma(g, vec4<f32>(mom[3u * PLANE + q]), syy);
            sxy = fma(g, vec4<f32>(mom[4u * PLANE + q]), sxy);
        }
        workgroupBarrier();
    }
    if (col >= wo) {
        return;
    }
    let c1 = bitcast<f32>(params[8]);
    let c2 = bitcast<f32>(params[9]);
    let oy = oy0 + first;
    let dst = (plane * ho + oy) * wo + col;
    if (oy < ho) {
        out[dst] = ssim(mx.x, my.x, sxx.x, syy.x, sxy.x, c1, c2);
    }
    if (oy + 1u < ho) {
        out[dst + wo] = ssim(mx.y, my.y, sxx.y, syy.y, sxy.y, c1, c2);
    }
    if (oy + 2u < ho) {
        out[dst + 2u * wo] = ssim(mx.z, my.z, sxx.z, syy.z, sxy.z, c1, c2);
    }
    if (oy + 3u < ho) {
        out[dst + 3u * wo] = ssim(mx.w, my.w, sxx.w, syy.w, sxy.w, c1, c2);
    }
}
