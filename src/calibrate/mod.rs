//! Extrinsic calibration from a checkerboard: find the board's inner corners in a camera's
//! checkerboard clip ([`checkerboard`]), then the camera pose that projects the board's corners
//! (world: the board, origin at an inner corner, X along the `cols` corners, Y along the
//! `rows`, Z = X × Y; metres) onto them, through the camera's known intrinsics and lens
//! distortion: a homography for the first guess, then Gauss-Newton on the reprojection error.
//!
//! A board with an odd number of squares each way looks the same turned by 180°; the
//! labelling puts Z pointing away from the camera (into the floor when the board lies on
//! it) and the origin at whichever of the two candidate corners appears nearer the image's
//! top-left. Cameras that see the board from opposite sides can therefore disagree by that
//! half turn: check the rig picture (`replay360 inspect`), or use a board with an even number
//! of squares along one side.

pub mod checkerboard;

use crate::camera::{CameraFromWorld, Intrinsics, Pixel};
use checkerboard::Grey;
use nalgebra::{Rotation3, Vector2, Vector3};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("cannot read the checkerboard clip ({source}): {path}")]
    Media {
        path: PathBuf,
        #[source]
        source: crate::media::MediaError,
    },
    #[error("the clip has no frames: {0}")]
    Empty(PathBuf),
    #[error(
        "no {cols}x{rows} checkerboard found (inner corners; is the whole board in view and still?): {path}"
    )]
    NotFound {
        cols: usize,
        rows: usize,
        path: PathBuf,
    },
    #[error("the board's pose could not be solved ({0}): {1}")]
    Pose(String, PathBuf),
    #[error("the clip is {got_w}x{got_h} but the intrinsics are for {want_w}x{want_h}: {path}")]
    Size {
        path: PathBuf,
        got_w: u32,
        got_h: u32,
        want_w: u32,
        want_h: u32,
    },
}

/// A checkerboard: inner corners along each side and the square size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Board {
    pub cols: usize,
    pub rows: usize,
    /// Edge of one square (m).
    pub square_m: f64,
}

impl Board {
    /// Corner `(i, j)` in board coordinates (m), row-major like [`checkerboard::Detection`].
    pub fn points(&self) -> Vec<Vector3<f64>> {
        (0..self.rows)
            .flat_map(|j| {
                (0..self.cols).map(move |i| {
                    Vector3::new(i as f64 * self.square_m, j as f64 * self.square_m, 0.0)
                })
            })
            .collect()
    }
}

/// One camera's calibration from its checkerboard clip.
#[derive(Debug, Clone)]
pub struct CheckerboardPose {
    pub pose: CameraFromWorld,
    /// The corners found (image pixels), row-major.
    pub corners: Vec<Vector2<f64>>,
    /// RMS reprojection error over the corners (px).
    pub rms_px: f64,
    pub max_px: f64,
    /// Frames averaged.
    pub frames: usize,
}

/// Averages up to `max_frames` frames spread through the clip (the board must stay still; the
/// average beats sensor noise).
pub fn average_frames(path: &Path, max_frames: usize) -> Result<(Grey, usize), CalibrationError> {
    let media = |source| CalibrationError::Media {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = crate::media::VideoReader::open(path, 1).map_err(media)?;
    let total = reader
        .info()
        .frame_count
        .unwrap_or(max_frames as u64)
        .max(1) as usize;
    let stride = total.div_ceil(max_frames.max(1)).max(1);
    let mut sum: Option<Grey> = None;
    let mut n = 0usize;
    let mut k = 0usize;
    while let Some(frame) = reader.next_frame().map_err(media)? {
        if k.is_multiple_of(stride) {
            let g = Grey::from_rgb(&frame.image);
            match &mut sum {
                None => sum = Some(g),
                Some(s) if s.width == g.width && s.height == g.height => {
                    for (a, b) in s.data.iter_mut().zip(&g.data) {
                        *a += b;
                    }
                }
                Some(_) => {}
            }
            n += 1;
            if n >= max_frames {
                break;
            }
        }
        k += 1;
    }
    let mut s = sum.ok_or_else(|| CalibrationError::Empty(path.to_path_buf()))?;
    for v in &mut s.data {
        *v /= n as f32;
    }
    Ok((s, n))
}

fn reprojection(
    pose: &CameraFromWorld,
    k: &Intrinsics,
    world: &[Vector3<f64>],
    image: &[Vector2<f64>],
) -> Vec<f64> {
    let mut r = Vec::with_capacity(world.len() * 2);
    for (w, p) in world.iter().zip(image) {
        let c = pose.rotation * w + pose.translation;
        let z = c.z.max(1e-9);
        let q = k.pixel_from_normalised(c.x / z, c.y / z);
        r.push(q.x - p.x);
        r.push(q.y - p.y);
    }
    r
}

/// The pose that projects `world` (z = 0 plane) onto `image` through `k`: homography first
/// guess, then Gauss-Newton with a numeric Jacobian on rotation vector and translation.
pub fn solve_pose(
    k: &Intrinsics,
    world: &[Vector3<f64>],
    image: &[Vector2<f64>],
) -> Result<CameraFromWorld, String> {
    let norm: Vec<Vector2<f64>> = image
        .iter()
        .map(|p| {
            let (x, y) = k.normalised_from_pixel(&Pixel::new(p.x, p.y));
            Vector2::new(x, y)
        })
        .collect();
    let plane: Vec<Vector2<f64>> = world.iter().map(|w| Vector2::new(w.x, w.y)).collect();
    let h = checkerboard::homography(&plane, &norm).ok_or("degenerate corners")?;
    let (h1, h2, h3) = (h.column(0), h.column(1), h.column(2));
    let mut lambda = 2.0 / (h1.norm() + h2.norm());
    if h3.z * lambda < 0.0 {
        lambda = -lambda;
    }
    let r1: Vector3<f64> = h1 * lambda;
    let r2: Vector3<f64> = h2 * lambda;
    let r3 = r1.cross(&r2);
    let m = nalgebra::Matrix3::from_columns(&[r1, r2, r3]);
    let svd = m.svd(true, true);
    let (u, vt) = (svd.u.ok_or("svd")?, svd.v_t.ok_or("svd")?);
    let mut r = u * vt;
    if r.determinant() < 0.0 {
        r = -r;
    }
    let mut rvec = Rotation3::from_matrix_unchecked(r).scaled_axis();
    let mut t: Vector3<f64> = h3 * lambda;
    let pose_of = |rv: &Vector3<f64>, t: &Vector3<f64>| CameraFromWorld {
        rotation: Rotation3::new(*rv),
        translation: *t,
    };
    let cost = |rv: &Vector3<f64>, t: &Vector3<f64>| {
        reprojection(&pose_of(rv, t), k, world, image)
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
    };
    let mut damping = 1e-3;
    let mut current = cost(&rvec, &t);
    for _ in 0..60 {
        let r0 = reprojection(&pose_of(&rvec, &t), k, world, image);
        let n = r0.len();
        let mut jac = nalgebra::DMatrix::<f64>::zeros(n, 6);
        for p in 0..6 {
            let eps = if p < 3 { 1e-7 } else { 1e-7 * (1.0 + t.norm()) };
            let (mut rv, mut tt) = (rvec, t);
            if p < 3 {
                rv[p] += eps;
            } else {
                tt[p - 3] += eps;
            }
            let r1 = reprojection(&pose_of(&rv, &tt), k, world, image);
            for q in 0..n {
                jac[(q, p)] = (r1[q] - r0[q]) / eps;
            }
        }
        let jt = jac.transpose();
        let mut a = &jt * &jac;
        for d in 0..6 {
            a[(d, d)] *= 1.0 + damping;
        }
        let g = &jt * nalgebra::DVector::from_vec(r0);
        let Some(step) = a.lu().solve(&(-g)) else {
            break;
        };
        let rv2 = rvec + Vector3::new(step[0], step[1], step[2]);
        let t2 = t + Vector3::new(step[3], step[4], step[5]);
        let c2 = cost(&rv2, &t2);
        if c2 < current {
            let done = (current - c2) < 1e-12 * (1.0 + current);
            rvec = rv2;
            t = t2;
            current = c2;
            damping = (damping * 0.3).max(1e-9);
            if done {
                break;
            }
        } else {
            damping *= 10.0;
            if damping > 1e8 {
                break;
            }
        }
    }
    let pose = pose_of(&rvec, &t);
    if !pose.translation.iter().all(|v| v.is_finite()) {
        return Err("did not converge".into());
    }
    Ok(pose)
}

/// Chooses the labelling of a detected lattice (see the module documentation) and solves the
/// pose for it: of the four labellings that keep rows and columns (identity, mirror in i,
/// mirror in j, half turn) the two with Z away from the camera remain, and the origin goes to
/// the candidate corner nearer the image's top-left.
pub fn orient(
    det: &checkerboard::Detection,
    k: &Intrinsics,
    board: &Board,
) -> Option<(CameraFromWorld, Vec<Vector2<f64>>)> {
    let world = board.points();
    let (c, r) = (board.cols, board.rows);
    let relabel = |flip_i: bool, flip_j: bool| -> Vec<Vector2<f64>> {
        (0..r)
            .flat_map(|j| {
                (0..c).map(move |i| {
                    let ii = if flip_i { c - 1 - i } else { i };
                    let jj = if flip_j { r - 1 - j } else { j };
                    (ii, jj)
                })
            })
            .map(|(i, j)| det.corners[j * c + i])
            .collect()
    };
    let mut candidates = Vec::new();
    for (fi, fj) in [(false, false), (true, false), (false, true), (true, true)] {
        let corners = relabel(fi, fj);
        let Ok(pose) = solve_pose(k, &world, &corners) else {
            continue;
        };
        if pose.centre().z < 0.0 {
            candidates.push((pose, corners));
        }
    }
    candidates.into_iter().min_by(|a, b| {
        let key = |c: &[Vector2<f64>]| c[0].x + c[0].y;
        key(&a.1).total_cmp(&key(&b.1))
    })
}

/// Finds the board in `clip` and solves the camera's pose in the board's frame.
pub fn calibrate(
    clip: &Path,
    k: &Intrinsics,
    board: &Board,
    max_frames: usize,
) -> Result<CheckerboardPose, CalibrationError> {
    let (img, frames) = average_frames(clip, max_frames)?;
    if (img.width as u32, img.height as u32) != (k.width, k.height) {
        return Err(CalibrationError::Size {
            path: clip.to_path_buf(),
            got_w: img.width as u32,
            got_h: img.height as u32,
            want_w: k.width,
            want_h: k.height,
        });
    }
    let rectify = |p: Vector2<f64>| {
        let (x, y) = k.normalised_from_pixel(&Pixel::new(p.x, p.y));
        Vector2::new(k.fx * x + k.cx, k.fy * y + k.cy)
    };
    let det =
        checkerboard::find_board(&img, board.cols, board.rows, &rectify).ok_or_else(|| {
            CalibrationError::NotFound {
                cols: board.cols,
                rows: board.rows,
                path: clip.to_path_buf(),
            }
        })?;
    let world = board.points();
    let (pose, corners) = orient(&det, k, board).ok_or_else(|| {
        CalibrationError::Pose("no labelling faces the camera".into(), clip.to_path_buf())
    })?;
    let res = reprojection(&pose, k, &world, &corners);
    let errs: Vec<f64> = res
        .chunks(2)
        .map(|e| (e[0] * e[0] + e[1] * e[1]).sqrt())
        .collect();
    let rms = (errs.iter().map(|e| e * e).sum::<f64>() / errs.len() as f64).sqrt();
    let max = errs.iter().copied().fold(0.0, f64::max);
    Ok(CheckerboardPose {
        pose,
        corners,
        rms_px: rms,
        max_px: max,
        frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::{Distortion, WorldFromCamera};

    /// Renders a board (with a white margin) seen by `pose` and finds it again.
    #[test]
    fn finds_a_rendered_board_and_recovers_the_pose() {
        let k = Intrinsics {
            width: 640,
            height: 480,
            fx: 520.0,
            fy: 520.0,
            cx: 322.0,
            cy: 236.0,
            distortion: Distortion::RadialTangential {
                k1: -0.2,
                k2: 0.05,
                p1: 0.0,
                p2: 0.0,
                k3: 0.0,
            },
        };
        let board = Board {
            cols: 8,
            rows: 6,
            square_m: 0.1,
        };
        // A camera 3 m away and 2 m above the board, looking down at it obliquely.
        let centre = nalgebra::Point3::new(0.35, 0.25, 0.0);
        let eye = nalgebra::Point3::new(0.9, -2.2, -1.8);
        let truth = WorldFromCamera::looking_at(eye, centre, -Vector3::z()).inverse();
        // Ray-cast the board plane per pixel (4x4 supersampled).
        let inv = truth.inverse();
        let mut img = Grey::new(640, 480);
        for y in 0..480 {
            for x in 0..640 {
                let mut acc = 0.0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let px = Pixel::new(
                            x as f64 - 0.375 + sx as f64 * 0.25,
                            y as f64 - 0.375 + sy as f64 * 0.25,
                        );
                        let (nx, ny) = k.normalised_from_pixel(&px);
                        let d = inv.rotation * Vector3::new(nx, ny, 1.0);
                        let o = inv.centre;
                        let s = -o.z / d.z;
                        let p = o + d * s;
                        let (u, v) = (p.x / 0.1 + 1.0, p.y / 0.1 + 1.0);
                        let inside =
                            s > 0.0 && (-0.5..9.5).contains(&u) && (-0.5..7.5).contains(&v);
                        let val = if !inside {
                            0.35
                        } else if (0.0..9.0).contains(&u) && (0.0..7.0).contains(&v) {
                            if (u.floor() as i64 + v.floor() as i64) % 2 == 0 {
                                0.08
                            } else {
                                0.92
                            }
                        } else {
                            0.92
                        };
                        acc += val;
                    }
                }
                img.data[y * 640 + x] = (acc / 16.0) as f32;
            }
        }
        let rectify = |p: Vector2<f64>| {
            let (x, y) = k.normalised_from_pixel(&Pixel::new(p.x, p.y));
            Vector2::new(k.fx * x + k.cx, k.fy * y + k.cy)
        };
        let det = checkerboard::find_board(&img, 8, 6, &rectify).expect("board found");
        assert!(det.homography_rms_px < 0.3, "{}", det.homography_rms_px);
        let (pose, corners) = orient(&det, &k, &board).expect("pose");
        // The found labelling may be any of the board's symmetries; the camera's height
        // above the board and its distance to the board's centre do not depend on it.
        let c = pose.centre();
        let board_centre = Vector3::new(0.35, 0.25, 0.0);
        let dist = (c.coords - board_centre).norm();
        let true_dist = (eye.coords - board_centre).norm();
        assert!((c.z + 1.8).abs() < 0.01, "height {}", c.z);
        assert!((dist - true_dist).abs() < 0.01, "{dist} vs {true_dist}");
        let res = reprojection(&pose, &k, &board.points(), &corners);
        let rms = (res.iter().map(|v| v * v).sum::<f64>() / (res.len() / 2) as f64).sqrt();
        assert!(rms < 0.1, "reprojection rms {rms} px");
    }
}
