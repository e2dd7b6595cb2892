//! Extrinsic calibration from a checkerboard (world: the board, origin at an inner corner, X
//! along the `cols` corners, Y along the `rows`, Z = X × Y; metres): rough poses from lattices
//! of saddle points or dark squares found in the clip ([`checkerboard`]), matched to the board
//! and solved through the camera's intrinsics and lens distortion (a homography for the first
//! guess, then Gauss-Newton on the reprojection error), then refined by fitting the board's
//! picture to the frames ([`board_fit`]), which also measures each corner for the report.
//!
//! A board with an odd number of squares each way looks the same turned by 180°; the
//! labelling puts Z pointing away from the camera (into the floor when the board lies on
//! it) and the origin at whichever of the two candidate corners appears nearer the image's
//! top-left. Cameras that see the board from opposite sides can therefore disagree by that
//! half turn: check the rig picture (`replay360 inspect`) and turn a camera's labelling with
//! [`half_turn`] (`calibrate --turn`), or use a board with an even number of squares along one
//! side.

pub mod board_fit;
pub mod checkerboard;

use crate::camera::{CameraFromWorld, Intrinsics, Pixel};
pub use board_fit::Focal;
use checkerboard::Grey;
use nalgebra::{Rotation3, Vector2, Vector3};
use rayon::prelude::*;
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
    /// Corner `(i, j)` in board coordinates (m), row-major: `points[j * cols + i]`.
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
    /// The inner corners as measured one by one (image pixels), row-major; `None` where a
    /// corner could not be measured on its own.
    pub corners: Vec<Option<Vector2<f64>>>,
    /// RMS and largest distance between the measured corners and the pose's projection of
    /// them (px).
    pub rms_px: f64,
    pub max_px: f64,
    /// Corners measured (of `cols × rows`).
    pub measured: usize,
    /// The board's blur in the picture (px, horizontal and vertical).
    pub blur_px: (f64, f64),
    /// RMS difference between the picture and the fitted board, relative to its contrast.
    pub misfit: f64,
    /// Frames averaged.
    pub frames: usize,
    /// The intrinsics the pose is for: those given, or with the focal length found
    /// ([`board_fit::Focal::Free`]).
    pub intrinsics: Intrinsics,
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

/// The board's labelling for a fitted pose (see the module documentation): of the pose and
/// its half turn about the board's centre (the board looks the same either way), the one
/// whose origin corner appears nearer the image's top-left. Returns the pose and whether it
/// was turned (corner `(i, j)` then is the fit's `(cols-1-i, rows-1-j)`).
pub fn canonical(pose: &CameraFromWorld, k: &Intrinsics, board: &Board) -> (CameraFromWorld, bool) {
    let turned = half_turn(pose, board);
    let key = |p: &CameraFromWorld| {
        let q = p.translation; // where the origin corner lands, before the lens
        let px = k.pixel_from_normalised(q.x / q.z, q.y / q.z);
        px.x + px.y
    };
    if key(&turned) < key(pose) {
        (turned, true)
    } else {
        (*pose, false)
    }
}

/// The same camera with the board labelled the other way round (turned by half a turn about
/// its centre): corner `(i, j)` becomes `(cols-1-i, rows-1-j)`.
pub fn half_turn(pose: &CameraFromWorld, board: &Board) -> CameraFromWorld {
    let (c, r, s) = (board.cols as f64, board.rows as f64, board.square_m);
    let turn = Rotation3::from_axis_angle(&Vector3::z_axis(), std::f64::consts::PI);
    CameraFromWorld {
        rotation: pose.rotation * turn,
        translation: pose.rotation * Vector3::new((c - 1.0) * s, (r - 1.0) * s, 0.0)
            + pose.translation,
    }
}

/// What the points of a lattice are on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LatticeOf {
    /// Inner corners (saddle points): every lattice point is one.
    InnerCorners,
    /// Centres of the dark squares, which sit on every other square diagonally.
    DarkSquares,
}

/// Rough board poses from a lattice of points found in the image (a partial one will do):
/// the lattice is matched to the board every way it fits (which of the board's lattice steps
/// its two steps are, and where on the board it sits; points that fall off the board are
/// dropped if they are few), each way is solved for a pose through the lens, and the ways that
/// explain the points about as well as the best are returned with their RMS (px), best first.
/// Which of them is right (a lattice missing its edge rows fits shifted by one as well) is
/// for [`board_fit::fit`] to tell.
fn lattice_starts(
    k: &Intrinsics,
    board: &Board,
    pts: &[Vector2<f64>],
    lattice: &checkerboard::Lattice,
    of: LatticeOf,
) -> Vec<(f64, CameraFromWorld)> {
    if lattice.len() < 8 {
        return Vec::new();
    }
    let cells: Vec<((i32, i32), Vector2<f64>)> =
        lattice.iter().map(|(&c, &i)| (c, pts[i])).collect();
    // Board positions (in squares) a lattice point can take, and the steps between them.
    let (lo, hi_a, hi_b, offset, steps, det): (i32, i32, i32, f64, &[(i32, i32)], i32) = match of {
        LatticeOf::InnerCorners => (
            0,
            board.cols as i32 - 1,
            board.rows as i32 - 1,
            0.0,
            &[
                (1, 0),
                (-1, 0),
                (0, 1),
                (0, -1),
                (1, 1),
                (1, -1),
                (-1, 1),
                (-1, -1),
            ],
            1,
        ),
        LatticeOf::DarkSquares => (
            -1,
            board.cols as i32 - 1,
            board.rows as i32 - 1,
            0.5,
            &[
                (1, 1),
                (1, -1),
                (-1, 1),
                (-1, -1),
                (2, 0),
                (-2, 0),
                (0, 2),
                (0, -2),
            ],
            2,
        ),
    };
    // Placements: (lattice mapped onto the board's steps, origin, points on the board). A
    // lattice may run past the board (saddles along its outer edge), so the placements kept
    // are those that put nearly as many points on the board as the best.
    let on_board = |(a, b): (i32, i32), (a0, b0): (i32, i32)| {
        (lo..=hi_a).contains(&(a + a0)) && (lo..=hi_b).contains(&(b + b0))
    };
    let mut maps: Vec<Vec<(i32, i32)>> = Vec::new();
    let mut placements = Vec::new();
    for &su in steps {
        for &sv in steps {
            if (su.0 * sv.1 - su.1 * sv.0).abs() != det {
                continue;
            }
            let mapped: Vec<(i32, i32)> = cells
                .iter()
                .map(|&((i, j), _)| (i * su.0 + j * sv.0, i * su.1 + j * sv.1))
                .collect();
            let (amin, amax) = mapped
                .iter()
                .fold((i32::MAX, i32::MIN), |(l, h), c| (l.min(c.0), h.max(c.0)));
            let (bmin, bmax) = mapped
                .iter()
                .fold((i32::MAX, i32::MIN), |(l, h), c| (l.min(c.1), h.max(c.1)));
            for a0 in lo - amax..=hi_a - amin {
                for b0 in lo - bmin..=hi_b - bmax {
                    let n = mapped.iter().filter(|&&c| on_board(c, (a0, b0))).count();
                    if n >= 8 {
                        placements.push((maps.len(), (a0, b0), n));
                    }
                }
            }
            maps.push(mapped);
        }
    }
    let most = placements.iter().map(|p| p.2).max().unwrap_or(0);
    let mut found: Vec<(f64, CameraFromWorld)> = Vec::new();
    for &(m, origin, n) in &placements {
        if n * 10 < most * 9 {
            continue;
        }
        let (world, image): (Vec<Vector3<f64>>, Vec<Vector2<f64>>) = maps[m]
            .iter()
            .zip(&cells)
            .filter(|&(&c, _)| on_board(c, origin))
            .map(|(&(a, b), cell)| {
                let w = Vector3::new(
                    (a + origin.0) as f64 + offset,
                    (b + origin.1) as f64 + offset,
                    0.0,
                ) * board.square_m;
                (w, cell.1)
            })
            .unzip();
        let Ok(pose) = solve_pose(k, &world, &image) else {
            continue;
        };
        // The camera looks at the board's front (Z points away from it).
        if pose.centre().z >= 0.0 {
            continue;
        }
        let r = reprojection(&pose, k, &world, &image);
        let rms = (r.iter().map(|v| v * v).sum::<f64>() / image.len() as f64).sqrt();
        found.push((rms, pose));
    }
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    let Some(best) = found.first().map(|f| f.0) else {
        return Vec::new();
    };
    found.retain(|f| f.0 <= 1.5 * best + 0.5);
    found.truncate(8);
    found
}

/// Rough board poses from the image, best first: from the lattice of its inner corners (the
/// saddle points) and from the lattice of its dark squares (blobs, for a board too small or
/// soft for saddles), each matched to the board by [`lattice_starts`].
pub fn board_starts(img: &Grey, k: &Intrinsics, board: &Board) -> Vec<CameraFromWorld> {
    let mut starts = Vec::new();
    let saddles: Vec<Vector2<f64>> = checkerboard::saddles(img)
        .iter()
        .map(|s| Vector2::new(s.x, s.y))
        .collect();
    // The lattice as grown may run onto the board's outer edge; its inner corners alone may
    // be too few on a soft picture. Both are tried.
    let grown = checkerboard::best_lattice(&saddles, 300, &|l| {
        checkerboard::inner_corners(img, l, &saddles).len()
    });
    let inner = checkerboard::inner_corners(img, &grown, &saddles);
    for lattice in [&grown, &inner] {
        starts.extend(lattice_starts(
            k,
            board,
            &saddles,
            lattice,
            LatticeOf::InnerCorners,
        ));
    }
    let blobs = checkerboard::dark_blobs(img);
    let lattice = checkerboard::best_lattice(&blobs, 120, &|l| l.len());
    let regular = checkerboard::regularise(&blobs, &lattice);
    let lattice = if regular.len() >= lattice.len() {
        regular
    } else {
        lattice
    };
    starts.extend(lattice_starts(
        k,
        board,
        &blobs,
        &lattice,
        LatticeOf::DarkSquares,
    ));
    starts.sort_by(|a, b| a.0.total_cmp(&b.0));
    starts.into_iter().map(|s| s.1).collect()
}

/// Largest misfit (RMS residual over contrast) of a board found.
const MAX_MISFIT: f64 = 0.35;

/// Rough starts fitted at most.
const MAX_FITS: usize = 6;

/// Finds the board in `clip` and solves the camera's pose in the board's frame.
pub fn calibrate(
    clip: &Path,
    k: &Intrinsics,
    board: &Board,
    max_frames: usize,
) -> Result<CheckerboardPose, CalibrationError> {
    let (img, frames) = average_frames(clip, max_frames)?;
    from_average(&img, frames, clip, k, board, Focal::Known)
}

/// [`calibrate`] on frames already averaged (see [`average_frames`]) from `clip`, which
/// errors name; with [`Focal::Free`], `k`'s focal length is only a first guess (see
/// [`calibrate_image`]).
pub fn from_average(
    img: &Grey,
    frames: usize,
    clip: &Path,
    k: &Intrinsics,
    board: &Board,
    focal: Focal,
) -> Result<CheckerboardPose, CalibrationError> {
    if (img.width as u32, img.height as u32) != (k.width, k.height) {
        return Err(CalibrationError::Size {
            path: clip.to_path_buf(),
            got_w: img.width as u32,
            got_h: img.height as u32,
            want_w: k.width,
            want_h: k.height,
        });
    }
    let mut found =
        calibrate_image(img, k, board, focal).ok_or_else(|| CalibrationError::NotFound {
            cols: board.cols,
            rows: board.rows,
            path: clip.to_path_buf(),
        })?;
    found.frames = frames;
    Ok(found)
}

/// Finds the board in one picture and solves the camera's pose in the board's frame: rough
/// starts from lattices of corners or dark squares ([`board_starts`]), each refined by
/// fitting the board's picture to the image ([`board_fit::fit`]); the best fit wins, its pose
/// is labelled ([`canonical`]), and each corner is then measured on its own for the
/// reprojection report.
///
/// With [`Focal::Free`] the focal length is fitted too (square pixels, the principal point
/// and lens distortion as in `k`, which should have none): `k`'s focal length is the first
/// guess. One view of a flat board fixes the focal length only through its perspective, so a
/// board seen nearly face-on leaves it loose.
pub fn calibrate_image(
    img: &Grey,
    k: &Intrinsics,
    board: &Board,
    focal: Focal,
) -> Option<CheckerboardPose> {
    // Rows are averaged first: interlaced video (common in broadcast and in older rigs)
    // alternates between two fields row by row, which breaks up small dark squares; the fit
    // models the extra vertical blur like any other.
    let img = &img.deinterlace();
    let grid = board_fit::RayGrid::new(k);
    let mut starts: Vec<CameraFromWorld> = Vec::new();
    for s in board_starts(img, k, board) {
        // Starts a few centimetres and a degree apart (a pose and its half turn, the same
        // lattice found twice) converge to the same fit.
        let b = canonical(&s, k, board).0;
        let near = |t: &CameraFromWorld| {
            let a = canonical(t, k, board).0;
            (a.centre() - b.centre()).norm() < 0.05
                && (a.rotation * b.rotation.inverse()).angle() < 1f64.to_radians()
        };
        if !starts.iter().any(near) {
            starts.push(s);
        }
    }
    starts.truncate(MAX_FITS);
    let best = starts
        .par_iter()
        .filter_map(|s| board_fit::fit(img, &grid, board, s, focal))
        .min_by(|a, b| a.misfit().total_cmp(&b.misfit()))
        .filter(|f| f.misfit() < MAX_MISFIT)?;
    let mut k = *k;
    k.fx *= best.focal_scale;
    k.fy *= best.focal_scale;
    let k = &k;
    let offsets = board_fit::corner_offsets(img, &grid, k, board, &best);
    let predicted = board_fit::corners(k, board, &best.pose);
    let mut corners: Vec<Option<Vector2<f64>>> = predicted
        .iter()
        .zip(&offsets)
        .map(|(p, d)| d.map(|d| p + d))
        .collect();
    let (pose, turned) = canonical(&best.pose, k, board);
    if turned {
        corners.reverse();
    }
    let errs: Vec<f64> = offsets.iter().flatten().map(|d| d.norm()).collect();
    let rms = (errs.iter().map(|e| e * e).sum::<f64>() / errs.len().max(1) as f64).sqrt();
    Some(CheckerboardPose {
        pose,
        corners,
        rms_px: rms,
        max_px: errs.iter().copied().fold(0.0, f64::max),
        measured: errs.len(),
        blur_px: best.blur_px,
        misfit: best.misfit(),
        frames: 1,
        intrinsics: *k,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::camera::{Distortion, WorldFromCamera};

    pub(crate) fn lens() -> Intrinsics {
        Intrinsics {
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
        }
    }

    pub(crate) const BOARD: Board = Board {
        cols: 8,
        rows: 6,
        square_m: 0.1,
    };

    /// Ray-casts a board of [`BOARD`]'s 9 x 7 squares (dark corners, a white margin of half
    /// a square, grey floor) seen from `pose` through `k`, 4x4 supersampled per pixel.
    pub(crate) fn render_board(k: &Intrinsics, pose: &CameraFromWorld) -> Grey {
        let inv = pose.inverse();
        let (w, h) = (k.width as usize, k.height as usize);
        let mut img = Grey::new(w, h);
        for y in 0..h {
            for x in 0..w {
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
                img.data[y * w + x] = (acc / 16.0) as f32;
            }
        }
        img
    }

    /// The camera's height above the board and its distance to the board's centre are those of
    /// `eye` within `tol` (m); neither depends on which half turn labels the board.
    fn assert_camera_at(
        pose: &CameraFromWorld,
        eye: nalgebra::Point3<f64>,
        board_centre: nalgebra::Point3<f64>,
        tol: f64,
    ) {
        let c = pose.centre();
        let dist = (c - board_centre).norm();
        let true_dist = (eye - board_centre).norm();
        assert!((c.z - eye.z).abs() < tol, "height {} vs {}", c.z, eye.z);
        assert!((dist - true_dist).abs() < tol, "{dist} vs {true_dist}");
    }

    /// Renders a board (with a white margin) seen by `pose` and finds it again: a sharp,
    /// progressive picture, where the saddle lattice gives the start.
    #[test]
    fn finds_a_rendered_board_and_recovers_the_pose() {
        let k = lens();
        // A camera 3 m away and 2 m above the board, looking down at it obliquely.
        let centre = nalgebra::Point3::new(0.35, 0.25, 0.0);
        let eye = nalgebra::Point3::new(0.9, -2.2, -1.8);
        let truth = WorldFromCamera::looking_at(eye, centre, -Vector3::z()).inverse();
        let img = render_board(&k, &truth);
        let found = calibrate_image(&img, &k, &BOARD, Focal::Known).expect("board found");
        assert_eq!(found.measured, 48);
        assert_camera_at(&found.pose, eye, centre, 0.005);
        // Corners measured one by one agree with the fitted pose to a small fraction of a
        // pixel on a clean picture.
        assert!(found.rms_px < 0.1, "corner rms {} px", found.rms_px);
        assert!(found.misfit < 0.05, "misfit {}", found.misfit);
    }

    /// The same board interlaced (odd rows a little darker, as in the Utrecht clips) and seen
    /// far away at a grazing angle, where saddles fail and the dark squares give the start.
    #[test]
    fn finds_a_small_interlaced_board() {
        let k = lens();
        let centre = nalgebra::Point3::new(0.35, 0.25, 0.0);
        let eye = nalgebra::Point3::new(3.6, -3.4, -1.4);
        let truth = WorldFromCamera::looking_at(eye, centre, -Vector3::z()).inverse();
        let mut img = render_board(&k, &truth).blur(0.9);
        for (i, v) in img.data.iter_mut().enumerate() {
            if (i / 640) % 2 == 1 {
                *v *= 0.9;
            }
        }
        let found = calibrate_image(&img, &k, &BOARD, Focal::Known).expect("board found");
        assert_camera_at(&found.pose, eye, centre, 0.02);
        assert!(found.measured >= 40, "{} corners measured", found.measured);
    }

    /// Half a turn maps each corner onto the opposite one, and two half turns are none.
    #[test]
    fn half_turn_relabels_the_corners() {
        let pose = WorldFromCamera::looking_at(
            nalgebra::Point3::new(0.9, -2.2, -1.8),
            nalgebra::Point3::new(0.35, 0.25, 0.0),
            -Vector3::z(),
        )
        .inverse();
        let turned = half_turn(&pose, &BOARD);
        let pts = BOARD.points();
        for (a, b) in pts.iter().zip(pts.iter().rev()) {
            let d =
                (pose.rotation * a + pose.translation) - (turned.rotation * b + turned.translation);
            assert!(d.norm() < 1e-12, "{d:?}");
        }
        let back = half_turn(&turned, &BOARD);
        assert!((back.translation - pose.translation).norm() < 1e-12);
        assert!((back.rotation * pose.rotation.inverse()).angle() < 1e-12);
        assert!((turned.centre() - pose.centre()).norm() > 1.0);
    }

    /// Without intrinsics: a lens without distortion, its focal length guessed 10% long, is
    /// found again from one oblique view of the board, with the pose.
    #[test]
    fn finds_the_focal_length_from_an_oblique_board() {
        let mut k = lens();
        k.distortion = Distortion::None;
        let centre = nalgebra::Point3::new(0.35, 0.25, 0.0);
        let eye = nalgebra::Point3::new(1.6, -2.0, -1.2);
        let truth = WorldFromCamera::looking_at(eye, centre, -Vector3::z()).inverse();
        let img = render_board(&k, &truth).blur(0.8);
        let mut guess = k;
        guess.fx *= 1.1;
        guess.fy *= 1.1;
        let found = calibrate_image(&img, &guess, &BOARD, Focal::Free).expect("board found");
        let f = found.intrinsics.fx;
        // Measured: 520.4 px, the height 1 mm off.
        assert!((f / 520.0 - 1.0).abs() < 0.02, "focal length {f} px");
        assert!(
            (found.pose.centre().z + 1.2).abs() < 0.03,
            "{:?}",
            found.pose.centre()
        );
        assert!(found.rms_px < 0.2, "corner rms {} px", found.rms_px);
    }
}
