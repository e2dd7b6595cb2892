//! View-dependent colour: each splat keeps what the cameras that saw it best saw (up to
//! [`VIEW_SAMPLES`] of them: the direction to the camera, the colour and the camera's weight),
//! and a virtual view blends them by angle, nearest cameras first. The renderer does it per
//! vertex on the GPU (`shaders/splat.wgsl`); [`ViewSamples::blend`] is the same blend on the
//! CPU, the reference for tests.
//!
//! Packed as the GPU reads it, two `u32` per sample: the direction in octahedral coordinates
//! (two signed 16-bit normals, `unpack2x16snorm`), then the colour's sRGB bytes and the
//! weight as a byte (`unpack4x8unorm`, red in the low byte). A weight of zero is an unused
//! sample; weights are relative (the largest of a splat's is 255).

/// Cameras' samples kept per splat: the heaviest (most squarely facing, visible) ones.
pub const VIEW_SAMPLES: usize = 6;

/// The angular width of the blend: a camera `a` radians from the view weighs
/// `exp(-(1 - cos a) / BLEND_WIDTH)` on top of its own weight (for small angles a Gaussian
/// of standard deviation `sqrt(BLEND_WIDTH)`: 0.05 → 13°). Chosen on rig cameras left out of
/// a 12-camera aerials16 reconstruction (athlete PSNR): 0.3 (31°) 19.67 dB, 0.12 19.74,
/// 0.08 19.85, 0.05 19.86 with the floor below, against 19.56 without view samples.
pub const BLEND_WIDTH: f32 = 0.05;

/// Added to every camera's angular weight, so a view far from all of them (beyond about 50°
/// from the nearest) takes the weighted mean of what they saw rather than the one nearest
/// camera's colour. Larger floors blur views between the cameras (0.05: 0.1 dB less above).
pub const BLEND_FLOOR: f32 = 0.0005;

/// One camera's view of a splat, unpacked.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ViewSample {
    /// Unit vector from the splat towards the camera (world frame, Z up).
    pub towards_camera: [f32; 3],
    /// sRGB.
    pub colour: [u8; 3],
    /// Relative weight, 0..=1 (0: unused).
    pub weight: f32,
}

/// A splat's samples, packed (see the module's documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewSamples(pub [[u32; 2]; VIEW_SAMPLES]);

fn sign_not_zero(v: f32) -> f32 {
    if v >= 0.0 { 1.0 } else { -1.0 }
}

/// A unit vector in octahedral coordinates (each in -1..=1).
pub fn oct_encode(v: [f32; 3]) -> [f32; 2] {
    let l1 = v[0].abs() + v[1].abs() + v[2].abs();
    if l1 <= 0.0 {
        return [0.0, 0.0];
    }
    let (x, y) = (v[0] / l1, v[1] / l1);
    if v[2] >= 0.0 {
        [x, y]
    } else {
        [
            (1.0 - y.abs()) * sign_not_zero(x),
            (1.0 - x.abs()) * sign_not_zero(y),
        ]
    }
}

/// The unit vector of octahedral coordinates `p`.
pub fn oct_decode(p: [f32; 2]) -> [f32; 3] {
    let z = 1.0 - p[0].abs() - p[1].abs();
    let (mut x, mut y) = (p[0], p[1]);
    if z < 0.0 {
        let (ox, oy) = (x, y);
        x = (1.0 - oy.abs()) * sign_not_zero(ox);
        y = (1.0 - ox.abs()) * sign_not_zero(oy);
    }
    let n = (x * x + y * y + z * z).sqrt();
    [x / n, y / n, z / n]
}

fn snorm16(v: f32) -> u32 {
    ((v.clamp(-1.0, 1.0) * 32767.0).round() as i16) as u16 as u32
}

fn from_snorm16(b: u32) -> f32 {
    ((b & 0xffff) as u16 as i16 as f32 / 32767.0).max(-1.0)
}

impl ViewSample {
    pub fn pack(&self) -> [u32; 2] {
        let [u, v] = oct_encode(self.towards_camera);
        let w = (self.weight.clamp(0.0, 1.0) * 255.0).round() as u32;
        let [r, g, b] = self.colour.map(u32::from);
        [
            snorm16(u) | (snorm16(v) << 16),
            r | (g << 8) | (b << 16) | (w << 24),
        ]
    }

    pub fn unpack(p: [u32; 2]) -> Self {
        let dir = oct_decode([from_snorm16(p[0]), from_snorm16(p[0] >> 16)]);
        Self {
            towards_camera: dir,
            colour: [p[1] as u8, (p[1] >> 8) as u8, (p[1] >> 16) as u8],
            weight: (p[1] >> 24) as f32 / 255.0,
        }
    }
}

impl ViewSamples {
    /// Packs up to [`VIEW_SAMPLES`] samples, heaviest first, weights made relative to the
    /// heaviest (samples beyond the first [`VIEW_SAMPLES`] are dropped).
    pub fn new(samples: &[ViewSample]) -> Self {
        let top = samples.iter().map(|s| s.weight).fold(0.0f32, f32::max);
        let mut out = Self::default();
        if top <= 0.0 {
            return out;
        }
        for (slot, s) in out.0.iter_mut().zip(samples) {
            *slot = ViewSample {
                weight: s.weight / top,
                ..*s
            }
            .pack();
        }
        out
    }

    /// The samples in use (weight above zero).
    pub fn samples(&self) -> impl Iterator<Item = ViewSample> + '_ {
        self.0
            .iter()
            .map(|p| ViewSample::unpack(*p))
            .filter(|s| s.weight > 0.0)
    }

    pub fn is_empty(&self) -> bool {
        self.samples().next().is_none()
    }

    /// The same samples seen after the splat turns by `rotation`.
    pub fn rotated(&self, rotation: &nalgebra::UnitQuaternion<f32>) -> Self {
        self.map_directions(|d| (rotation * nalgebra::Vector3::from(d)).into())
    }

    /// The packed words in file order: each sample's direction, then its colour and weight.
    pub fn words(&self) -> [u32; 2 * VIEW_SAMPLES] {
        std::array::from_fn(|j| self.0[j / 2][j % 2])
    }

    /// The inverse of [`Self::words`].
    pub fn from_words(w: [u32; 2 * VIEW_SAMPLES]) -> Self {
        Self(std::array::from_fn(|k| [w[2 * k], w[2 * k + 1]]))
    }

    /// The samples with their directions mapped by `f` (a change of frame).
    pub fn map_directions(&self, f: impl Fn([f32; 3]) -> [f32; 3]) -> Self {
        let mut out = *self;
        for p in out.0.iter_mut() {
            let mut s = ViewSample::unpack(*p);
            if s.weight > 0.0 {
                s.towards_camera = f(s.towards_camera);
                *p = s.pack();
            }
        }
        out
    }

    /// The colour (linear light) seen along `towards_eye` (unit): the samples' colours, each
    /// weighted by its weight times its angular weight ([`BLEND_WIDTH`], [`BLEND_FLOOR`]).
    /// `None` without samples. The shader computes the same.
    pub fn blend(&self, towards_eye: [f32; 3]) -> Option<[f32; 3]> {
        let (mut acc, mut wsum) = ([0.0f32; 3], 0.0f32);
        for s in self.samples() {
            let d = s.towards_camera;
            let cos = d[0] * towards_eye[0] + d[1] * towards_eye[1] + d[2] * towards_eye[2];
            let w = s.weight * (((cos - 1.0) / BLEND_WIDTH).exp() + BLEND_FLOOR);
            for (a, c) in acc.iter_mut().zip(s.colour) {
                *a += w * crate::util::images::srgb_to_linear(c);
            }
            wsum += w;
        }
        (wsum > 0.0).then(|| acc.map(|a| a / wsum))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: [f32; 3]) -> [f32; 3] {
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        v.map(|x| x / n)
    }

    /// Directions over the whole sphere survive packing within 0.01° or so (16-bit
    /// octahedral), colours exactly, weights to a 255th.
    #[test]
    fn samples_pack_and_unpack() {
        for v in [
            [1.0, 0.0, 0.0],
            [0.0, 0.0, -1.0],
            [-0.3, 0.5, -0.8],
            [0.6, -0.7, 0.2],
            [-0.001, -0.999, 0.0],
        ] {
            let d = unit(v);
            let s = ViewSample {
                towards_camera: d,
                colour: [12, 200, 255],
                weight: 0.37,
            };
            let back = ViewSample::unpack(s.pack());
            let dot: f32 = (0..3).map(|k| d[k] * back.towards_camera[k]).sum();
            assert!(dot > 0.999_999, "{d:?} -> {:?}", back.towards_camera);
            assert_eq!(back.colour, s.colour);
            assert!((back.weight - 0.37).abs() <= 0.5 / 255.0);
        }
    }

    /// A view along one camera takes mostly that camera's colour, a view halfway between two
    /// takes their mean, a view far from both their weighted mean; the heaviest samples are
    /// kept; turning the splat turns its samples.
    #[test]
    fn a_view_blends_the_nearest_cameras() {
        let red = ViewSample {
            towards_camera: [1.0, 0.0, 0.0],
            colour: [255, 0, 0],
            weight: 1.0,
        };
        let blue = ViewSample {
            towards_camera: unit([0.0, 1.0, 0.0]),
            colour: [0, 0, 255],
            weight: 0.5,
        };
        let s = ViewSamples::new(&[red, blue]);
        let along_red = s.blend([1.0, 0.0, 0.0]).expect("samples");
        assert!(along_red[0] > 0.95 && along_red[2] < 0.05, "{along_red:?}");
        let along_blue = s.blend([0.0, 1.0, 0.0]).expect("samples");
        assert!(along_blue[2] > 0.9 && along_blue[0] < 0.1, "{along_blue:?}");
        // Halfway, each camera's angular weight is the same: the weights decide (2:1).
        let half = s.blend(unit([1.0, 1.0, 0.0])).expect("samples");
        assert!((half[0] - 2.0 / 3.0).abs() < 0.01 && (half[2] - 1.0 / 3.0).abs() < 0.01);
        // From behind both (90° and 180° away) the floor dominates: near the 2:1 mean.
        let behind = s.blend([-1.0, 0.0, 0.0]).expect("samples");
        assert!((behind[0] - 2.0 / 3.0).abs() < 0.05, "{behind:?}");
        assert!(ViewSamples::default().blend([1.0, 0.0, 0.0]).is_none());

        // More samples than slots: the first (heaviest) ones are kept.
        let many: Vec<ViewSample> = (0..VIEW_SAMPLES + 2)
            .map(|i| ViewSample {
                weight: 1.0 - 0.1 * i as f32,
                ..red
            })
            .collect();
        assert_eq!(ViewSamples::new(&many).samples().count(), VIEW_SAMPLES);

        let quarter = nalgebra::UnitQuaternion::from_axis_angle(
            &nalgebra::Vector3::z_axis(),
            std::f32::consts::FRAC_PI_2,
        );
        let turned = s.rotated(&quarter);
        let now_red = turned.blend([0.0, 1.0, 0.0]).expect("samples");
        assert!(now_red[0] > 0.95, "{now_red:?}");
    }
}
