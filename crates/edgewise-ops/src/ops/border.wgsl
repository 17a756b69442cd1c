// BorderRound: y = clamp(floor(v) + (fract(v) >= border), qmin, qmax) * scale, v = x / scale.
// params: len, inner, channels, scale_len, border_len, qmin (i32), qmax (i32)

@group(0) @binding(0) var<storage, read> params: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> scale: array<f32>;
@group(0) @binding(3) var<storage, read> border: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

const WG: u32 = 256u;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= params[0]) {
        return;
    }
    let c = (i / max(params[1], 1u)) % max(params[2], 1u);
    let s = scale[min(c, params[3] - 1u)];
    let b = border[min(c, params[4] - 1u)];
    let v = x[i] / s;
    let f = floor(v);
    var q = f;
    if (v - f >= b) {
        q = f + 1.0;
    }
    let lo = f32(bitcast<i32>(params[5]));
    let hi = f32(bitcast<i32>(params[6]));
    y[i] = clamp(q, lo, hi) * s;
}
