//! The defect model's pre- and post-processing.
//!
//! The model (`onnx/defect.onnx`) takes a `64×64` grayscale image in `[0, 1]` and returns its
//! reconstruction and the `SsimMap` of image and reconstruction over the valid region
//! (`58×58` for the window 7). The per-pixel anomaly score is `1 − ssim`, brought back to
//! `64×64` by replicating the edges (the map of the valid region is centred, `off = 3`).
//!
//! - [`prepare`]: any image (RGBA bytes, gray bytes or gray floats, any size) to the model's
//!   input: the centred square crop, area-averaged down (or up) to `64×64`, Rec. 709
//!   luminance of the sRGB values in `[0, 1]`.
//! - [`analyze`]: the model's `ssim` to the heatmap, the mask (`score > threshold`), the boxes
//!   of the 8-connected components of the mask with at least `min_area` pixels, and the
//!   image's score (the heatmap's maximum).
//!
//! Every function validates its arguments and returns `Err` naming the problem; none panics.

/// The model's input side.
pub const SIZE: usize = 64;
/// The SSIM window of the exported `SsimMap`.
pub const WINDOW: usize = 7;
/// The side of the `SsimMap` (the valid region).
pub const INNER: usize = SIZE - WINDOW + 1;
/// The largest side [`prepare`] accepts.
pub const MAX_SIDE: usize = 16_384;
/// The largest heatmap side [`analyze`] accepts.
pub const MAX_MAP: usize = 4_096;

/// Pixels of an image, row-major.
#[derive(Clone, Copy, Debug)]
pub enum Pixels<'a> {
    /// 4 bytes per pixel, sRGB and alpha (the layout of `ImageData.data`); alpha is ignored.
    Rgba8(&'a [u8]),
    /// 1 byte per pixel, gray levels `0..=255`.
    Gray8(&'a [u8]),
    /// 1 float per pixel, gray levels in `[0, 1]` (values outside are clamped).
    Gray(&'a [f32]),
}

impl Pixels<'_> {
    fn channels(&self) -> usize {
        match self {
            Pixels::Rgba8(_) => 4,
            _ => 1,
        }
    }

    fn len(&self) -> usize {
        match self {
            Pixels::Rgba8(p) | Pixels::Gray8(p) => p.len(),
            Pixels::Gray(p) => p.len(),
        }
    }

    /// The gray level of pixel `i` in `[0, 1]`; `i` is in range (checked by the caller).
    fn gray(&self, i: usize) -> f64 {
        match self {
            Pixels::Rgba8(p) => {
                let c = &p[4 * i..4 * i + 3];
                (0.2126 * c[0] as f64 + 0.7152 * c[1] as f64 + 0.0722 * c[2] as f64) / 255.0
            }
            Pixels::Gray8(p) => p[i] as f64 / 255.0,
            Pixels::Gray(p) => (p[i] as f64).clamp(0.0, 1.0),
        }
    }
}

/// The model's input (`64×64` gray levels in `[0, 1]`, row-major) from an image of
/// `width × height` pixels: the centred square crop of side `min(width, height)`, resized by
/// area averaging (each output pixel is the mean of the source area it covers, partial pixels
/// weighted by their covered fraction), gray as Rec. 709 luminance of the RGB bytes.
/// Errors on a zero or too large side, a length that does not match, or a non-finite float.
pub fn prepare(pixels: Pixels, width: usize, height: usize) -> Result<Vec<f32>, String> {
    resize(pixels, width, height, SIZE)
}

/// [`prepare`] to any output side `out` (`1..=MAX_MAP`).
pub fn resize(pixels: Pixels, width: usize, height: usize, out: usize) -> Result<Vec<f32>, String> {
    for (name, v) in [("width", width), ("height", height)] {
        if v == 0 || v > MAX_SIDE {
            return Err(format!("{name} must be in 1..={MAX_SIDE}, got {v}"));
        }
    }
    if out == 0 || out > MAX_MAP {
        return Err(format!(
            "the output side must be in 1..={MAX_MAP}, got {out}"
        ));
    }
    let want = width * height * pixels.channels();
    if pixels.len() != want {
        let what = match pixels {
            Pixels::Rgba8(_) => "RGBA bytes (4 per pixel)",
            Pixels::Gray8(_) => "gray bytes",
            Pixels::Gray(_) => "gray floats",
        };
        return Err(format!(
            "pixels: a {width}×{height} image has {want} {what}, got {}",
            pixels.len()
        ));
    }
    if let Pixels::Gray(p) = pixels
        && let Some(i) = p.iter().position(|v| !v.is_finite())
    {
        return Err(format!("pixels: value {} at index {i} is not finite", p[i]));
    }
    let side = width.min(height);
    let (x0, y0) = ((width - side) / 2, (height - side) / 2);
    // Source span of each output row/column: [k·side/out, (k+1)·side/out) in source pixels.
    let scale = side as f64 / out as f64;
    let spans: Vec<Vec<(usize, f64)>> = (0..out)
        .map(|k| {
            let (a, b) = (k as f64 * scale, (k + 1) as f64 * scale);
            let first = a.floor() as usize;
            let last = (b.ceil() as usize).min(side);
            (first..last)
                .map(|s| (s, ((s + 1) as f64).min(b) - (s as f64).max(a)))
                .filter(|&(_, w)| w > 0.0)
                .collect()
        })
        .collect();
    let mut img = vec![0.0f32; out * out];
    for (oy, ys) in spans.iter().enumerate() {
        for (ox, xs) in spans.iter().enumerate() {
            let mut sum = 0.0;
            for &(sy, wy) in ys {
                let row = (y0 + sy) * width + x0;
                for &(sx, wx) in xs {
                    sum += wy * wx * pixels.gray(row + sx);
                }
            }
            img[oy * out + ox] = (sum / (scale * scale)).clamp(0.0, 1.0) as f32;
        }
    }
    Ok(img)
}

/// A connected region of the mask.
#[derive(Clone, Debug, PartialEq)]
pub struct Region {
    /// Leftmost column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width of the bounding box, in pixels.
    pub w: usize,
    /// Height of the bounding box, in pixels.
    pub h: usize,
    /// Number of pixels in the region.
    pub area: usize,
    /// The highest score in the region.
    pub score: f32,
}

/// What [`analyze`] finds in one image.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// Side of the heatmap and the mask.
    pub size: usize,
    /// The anomaly score `1 − ssim` per pixel, `size × size` row-major, edges replicated.
    pub heatmap: Vec<f32>,
    /// 1 where `heatmap > threshold`, else 0.
    pub mask: Vec<u8>,
    /// The 8-connected regions of the mask with at least `min_area` pixels, highest score
    /// first (ties: larger area first, then top-left first).
    pub boxes: Vec<Region>,
    /// The image's anomaly score: the heatmap's maximum.
    pub score: f32,
    /// Whether the image is flagged defective: at least one region is left.
    pub flagged: bool,
}

/// A `inner × inner` map centred in `size × size` (offset `(size − inner) / 2`), edges
/// replicated: how an SSIM map, smaller than its image, becomes a per-pixel heatmap (training
/// scores its test images this way too). `0 < inner ≤ size` and `map.len() == inner²` are the
/// caller's to check.
pub fn pad_edges(map: &[f32], inner: usize, size: usize) -> Vec<f32> {
    let off = (size - inner) / 2;
    let mut out = vec![0f32; size * size];
    for y in 0..size {
        let sy = y.saturating_sub(off).min(inner - 1);
        for x in 0..size {
            let sx = x.saturating_sub(off).min(inner - 1);
            out[y * size + x] = map[sy * inner + sx];
        }
    }
    out
}

/// The 8-connected components of `mask` (`size × size`), each as its pixels' indices in
/// scan order of their first pixel.
fn components(mask: &[u8], size: usize) -> Vec<Vec<usize>> {
    let mut seen = vec![false; mask.len()];
    let mut out = vec![];
    let mut stack = vec![];
    for start in 0..mask.len() {
        if mask[start] == 0 || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut pixels = vec![];
        while let Some(i) = stack.pop() {
            pixels.push(i);
            let (x, y) = (i % size, i / size);
            for ny in y.saturating_sub(1)..=(y + 1).min(size - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(size - 1) {
                    let j = ny * size + nx;
                    if mask[j] != 0 && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        out.push(pixels);
    }
    out
}

/// The heatmap, mask, boxes and score of one image from the model's `ssim` output
/// (`inner × inner`, row-major) at the input side `size`: score `1 − ssim` padded to
/// `size × size` by replicating edges, mask `score > threshold`, boxes of the 8-connected
/// regions with `area ≥ min_area`.
/// Errors when `ssim.len() != inner²`, `inner` is 0 or above `size`, `size` above
/// [`MAX_MAP`], or `threshold` or an ssim value is not finite.
pub fn analyze(
    ssim: &[f32],
    inner: usize,
    size: usize,
    threshold: f32,
    min_area: usize,
) -> Result<Analysis, String> {
    if size == 0 || size > MAX_MAP {
        return Err(format!("size must be in 1..={MAX_MAP}, got {size}"));
    }
    if inner == 0 || inner > size {
        return Err(format!(
            "inner (the ssim map's side) must be in 1..={size}, got {inner}"
        ));
    }
    if ssim.len() != inner * inner {
        return Err(format!(
            "ssim: a {inner}×{inner} map has {} values, got {}",
            inner * inner,
            ssim.len()
        ));
    }
    if let Some(i) = ssim.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "ssim: value {} at index {i} is not finite",
            ssim[i]
        ));
    }
    if !threshold.is_finite() {
        return Err(format!("threshold must be finite, got {threshold}"));
    }
    let score: Vec<f32> = ssim.iter().map(|s| 1.0 - s).collect();
    let heatmap = pad_edges(&score, inner, size);
    let mask: Vec<u8> = heatmap.iter().map(|&s| u8::from(s > threshold)).collect();
    let mut boxes: Vec<Region> = components(&mask, size)
        .into_iter()
        .filter(|c| c.len() >= min_area.max(1))
        .map(|c| {
            let (mut x0, mut y0, mut x1, mut y1) = (size, size, 0, 0);
            let mut best = f32::NEG_INFINITY;
            for &i in &c {
                let (x, y) = (i % size, i / size);
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
                best = best.max(heatmap[i]);
            }
            Region {
                x: x0,
                y: y0,
                w: x1 - x0 + 1,
                h: y1 - y0 + 1,
                area: c.len(),
                score: best,
            }
        })
        .collect();
    boxes.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.area.cmp(&a.area))
            .then((a.y, a.x).cmp(&(b.y, b.x)))
    });
    let image_score = heatmap.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    Ok(Analysis {
        size,
        flagged: !boxes.is_empty(),
        heatmap,
        mask,
        boxes,
        score: image_score,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator for test data (independent of the crate's).
    fn lcg(seed: u32) -> impl FnMut() -> f32 {
        let mut s = seed;
        move || {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32
        }
    }

    #[test]
    fn prepare_of_a_64_gray_float_image_is_the_image() {
        let mut r = lcg(1);
        let img: Vec<f32> = (0..SIZE * SIZE).map(|_| r()).collect();
        let out = prepare(Pixels::Gray(&img), SIZE, SIZE).unwrap();
        for (a, b) in out.iter().zip(&img) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn prepare_averages_blocks_and_uses_rec709_luminance() {
        // 128×128 RGBA, each 2×2 block one colour: the output is that colour's luminance.
        let n = 2 * SIZE;
        let mut r = lcg(2);
        let colours: Vec<[u8; 3]> = (0..SIZE * SIZE)
            .map(|_| {
                [
                    (r() * 255.0) as u8,
                    (r() * 255.0) as u8,
                    (r() * 255.0) as u8,
                ]
            })
            .collect();
        let mut rgba = vec![0u8; n * n * 4];
        for y in 0..n {
            for x in 0..n {
                let c = colours[(y / 2) * SIZE + x / 2];
                rgba[4 * (y * n + x)..4 * (y * n + x) + 4].copy_from_slice(&[c[0], c[1], c[2], 9]);
            }
        }
        let out = prepare(Pixels::Rgba8(&rgba), n, n).unwrap();
        for (i, c) in colours.iter().enumerate() {
            let want = (0.2126 * c[0] as f32 + 0.7152 * c[1] as f32 + 0.0722 * c[2] as f32) / 255.0;
            assert!(
                (out[i] - want).abs() < 1e-5,
                "pixel {i}: {} vs {want}",
                out[i]
            );
        }
    }

    #[test]
    fn prepare_crops_the_centre_and_area_averages_fractional_pixels() {
        // 96 wide × 48 tall gray bytes: the centre 48×48 square (columns 24..72) is kept and
        // each output pixel covers 0.75×0.75 source pixels.
        let (w, h) = (96, 48);
        let mut r = lcg(3);
        let bytes: Vec<u8> = (0..w * h).map(|_| (r() * 255.0) as u8).collect();
        let out = prepare(Pixels::Gray8(&bytes), w, h).unwrap();
        // Naive: the mean of 48×48 midpoint samples of the piecewise-constant source over
        // each output cell, exact here: sample spacing 1/64 px, pixel edges on multiples of 1/4.
        let s = 48.0 / 64.0;
        for oy in [0usize, 1, 17, 40, 63] {
            for ox in [0usize, 5, 31, 62, 63] {
                let mut sum = 0.0;
                let k = 48;
                for j in 0..k {
                    for i in 0..k {
                        let sy = (oy as f64 + (j as f64 + 0.5) / k as f64) * s;
                        let sx = (ox as f64 + (i as f64 + 0.5) / k as f64) * s;
                        sum += bytes[sy as usize * w + 24 + sx as usize] as f64 / 255.0;
                    }
                }
                let want = (sum / (k * k) as f64) as f32;
                let got = out[oy * SIZE + ox];
                assert!((got - want).abs() < 1e-4, "({ox},{oy}): {got} vs {want}");
            }
        }
        // Upsampling a 2×2 image: each output quadrant takes its source pixel.
        let up = prepare(Pixels::Gray(&[0.0, 1.0, 0.25, 0.5]), 2, 2).unwrap();
        assert_eq!(
            (up[0], up[63], up[64 * 63], up[64 * 64 - 1]),
            (0.0, 1.0, 0.25, 0.5)
        );
    }

    #[test]
    fn prepare_rejects_bad_input_with_a_named_problem() {
        let e = prepare(Pixels::Rgba8(&[0; 12]), 2, 2).unwrap_err();
        assert!(e.contains("16 RGBA bytes") && e.contains("got 12"), "{e}");
        assert!(
            prepare(Pixels::Gray(&[]), 0, 0)
                .unwrap_err()
                .contains("width")
        );
        let e = prepare(Pixels::Gray(&[0.0, f32::NAN]), 2, 1).unwrap_err();
        assert!(e.contains("index 1"), "{e}");
        assert!(prepare(Pixels::Gray8(&[]), MAX_SIDE + 1, 1).is_err());
    }

    /// `1 − ssim` padded as [`pad_edges`] describes, written per pixel.
    fn naive_heatmap(ssim: &[f32], inner: usize, size: usize) -> Vec<f32> {
        let off = ((size - inner) / 2) as i64;
        (0..size * size)
            .map(|i| {
                let x = ((i % size) as i64 - off).clamp(0, inner as i64 - 1) as usize;
                let y = ((i / size) as i64 - off).clamp(0, inner as i64 - 1) as usize;
                1.0 - ssim[y * inner + x]
            })
            .collect()
    }

    /// Connected components by repeated label propagation until nothing changes.
    fn naive_labels(mask: &[u8], size: usize) -> Vec<usize> {
        let mut label: Vec<usize> = (0..mask.len()).collect();
        loop {
            let mut changed = false;
            for i in 0..mask.len() {
                if mask[i] == 0 {
                    continue;
                }
                let (x, y) = ((i % size) as i64, (i / size) as i64);
                for dy in -1..=1i64 {
                    for dx in -1..=1i64 {
                        let (nx, ny) = (x + dx, y + dy);
                        if nx < 0 || ny < 0 || nx >= size as i64 || ny >= size as i64 {
                            continue;
                        }
                        let j = (ny * size as i64 + nx) as usize;
                        if mask[j] != 0 && label[j] < label[i] {
                            label[i] = label[j];
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                return label;
            }
        }
    }

    #[test]
    fn analyze_matches_a_naive_heatmap_mask_and_labelling() {
        for seed in 0..6 {
            let mut r = lcg(10 + seed);
            // Mostly similar (ssim ~ 0.9) with blobs of low similarity.
            let mut ssim: Vec<f32> = (0..INNER * INNER).map(|_| 0.85 + 0.15 * r()).collect();
            for _ in 0..(3 + seed as usize) {
                let (cx, cy, rad) = (r() * 58.0, r() * 58.0, 1.0 + r() * 5.0);
                for y in 0..INNER {
                    for x in 0..INNER {
                        let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                        if d < rad {
                            ssim[y * INNER + x] = 0.2 + 0.5 * r();
                        }
                    }
                }
            }
            let (threshold, min_area) = (0.3, 4);
            let a = analyze(&ssim, INNER, SIZE, threshold, min_area).unwrap();
            let heat = naive_heatmap(&ssim, INNER, SIZE);
            assert_eq!(a.heatmap, heat);
            let mask: Vec<u8> = heat.iter().map(|&s| (s > threshold) as u8).collect();
            assert_eq!(a.mask, mask);
            let max = heat.iter().copied().fold(f32::MIN, f32::max);
            assert_eq!(a.score, max);

            let labels = naive_labels(&mask, SIZE);
            let mut want = vec![];
            for l in 0..mask.len() {
                let px: Vec<usize> = (0..mask.len())
                    .filter(|&i| mask[i] == 1 && labels[i] == l)
                    .collect();
                if px.len() < min_area {
                    continue;
                }
                let xs = px.iter().map(|i| i % SIZE);
                let ys = px.iter().map(|i| i / SIZE);
                let (x0, x1) = (xs.clone().min().unwrap(), xs.max().unwrap());
                let (y0, y1) = (ys.clone().min().unwrap(), ys.max().unwrap());
                let score = px.iter().map(|&i| heat[i]).fold(f32::MIN, f32::max);
                want.push((x0, y0, x1 - x0 + 1, y1 - y0 + 1, px.len(), score));
            }
            let mut got: Vec<_> = a
                .boxes
                .iter()
                .map(|b| (b.x, b.y, b.w, b.h, b.area, b.score))
                .collect();
            assert!(!want.is_empty(), "seed {seed}: the test data has regions");
            assert!(
                a.boxes.windows(2).all(|p| p[0].score >= p[1].score),
                "boxes sorted by score"
            );
            got.sort_by_key(|a| (a.1, a.0));
            want.sort_by_key(|a| (a.1, a.0));
            assert_eq!(got, want, "seed {seed}");
            assert_eq!(a.flagged, !want.is_empty());
        }
    }

    #[test]
    fn diagonal_neighbours_join_and_min_area_filters() {
        // Everything similar (score 0) but a diagonal line of 3 pixels and an isolated pixel.
        let mut ssim = vec![1.0f32; INNER * INNER];
        for (x, y) in [(10, 10), (11, 11), (12, 12), (40, 20)] {
            ssim[y * INNER + x] = 0.0;
        }
        let a = analyze(&ssim, INNER, SIZE, 0.5, 2).unwrap();
        assert_eq!(a.boxes.len(), 1, "{:?}", a.boxes);
        let b = &a.boxes[0];
        // Map pixel (x, y) lands at (x + 3, y + 3) in the 64×64 heatmap.
        assert_eq!(
            (b.x, b.y, b.w, b.h, b.area, b.score),
            (13, 13, 3, 3, 3, 1.0)
        );
        assert_eq!(a.mask.iter().filter(|&&m| m == 1).count(), 4);
        let all = analyze(&ssim, INNER, SIZE, 0.5, 1).unwrap();
        assert_eq!(all.boxes.len(), 2);
        let none = analyze(&ssim, INNER, SIZE, 1.0, 1).unwrap();
        assert!(none.boxes.is_empty() && !none.flagged);
        assert_eq!(none.score, 1.0);
    }

    #[test]
    fn edges_are_replicated_into_the_border() {
        let ssim: Vec<f32> = (0..INNER * INNER).map(|i| i as f32 / 10_000.0).collect();
        let a = analyze(&ssim, INNER, SIZE, 2.0, 1).unwrap();
        assert_eq!(a.heatmap[0], 1.0 - ssim[0], "corner");
        assert_eq!(a.heatmap[SIZE - 1], 1.0 - ssim[INNER - 1]);
        assert_eq!(a.heatmap[SIZE * SIZE - 1], 1.0 - ssim[INNER * INNER - 1]);
        assert_eq!(
            a.heatmap[10 * SIZE + 2],
            1.0 - ssim[7 * INNER],
            "left border, row 10"
        );
    }

    #[test]
    fn analyze_rejects_bad_input_with_a_named_problem() {
        let e = analyze(&[0.5; 10], INNER, SIZE, 0.1, 1).unwrap_err();
        assert!(e.contains("3364") && e.contains("got 10"), "{e}");
        assert!(
            analyze(&[0.5; 4], 2, 1, 0.1, 1)
                .unwrap_err()
                .contains("inner")
        );
        assert!(
            analyze(&[0.5; 4], 2, 64, f32::NAN, 1)
                .unwrap_err()
                .contains("threshold")
        );
        let e = analyze(&[0.5, f32::INFINITY, 0.1, 0.1], 2, 64, 0.1, 1).unwrap_err();
        assert!(e.contains("index 1"), "{e}");
        assert!(analyze(&[], 0, 64, 0.1, 1).is_err());
        assert!(analyze(&[0.5], 1, MAX_MAP + 1, 0.1, 1).is_err());
    }
}
