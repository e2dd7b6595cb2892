//! Posture skeletons from a reconstructed instant: a tree of joints along the body's medial
//! axis, found from the splat cloud alone (no body model, no ground truth).
//!
//! The method is a level-set (Reeb graph) skeleton: the splats are linked into a neighbourhood
//! graph, geodesic distances are measured from an extremity, and the cloud is cut into bands of
//! equal geodesic distance. Each connected piece of a band is a ring around a limb, the torso or
//! a ski, so its centroid lies on that part's axis; pieces in neighbouring bands that touch are
//! linked. Branches appear where a band splits (shoulders, hips), ends where a limb ends.

use nalgebra::{Point3, Vector3};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// A posture skeleton: joints with a parent each (the root has none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Skeleton {
    pub joints: Vec<Point3<f64>>,
    pub parent: Vec<Option<usize>>,
}

impl Skeleton {
    pub fn is_empty(&self) -> bool {
        self.joints.is_empty()
    }

    /// Bones as (child, parent) index pairs.
    pub fn bones(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.parent
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| (i, p)))
    }

    /// Joints with no children (hands, feet, head, ski tips), the root excluded.
    pub fn ends(&self) -> Vec<usize> {
        let mut children = vec![0usize; self.joints.len()];
        for (_, p) in self.bones() {
            children[p] += 1;
        }
        (0..self.joints.len())
            .filter(|&i| children[i] == 0 && self.parent[i].is_some())
            .collect()
    }

    /// Maximal unbranched polylines (end or branch joint to end or branch joint), for drawing
    /// each limb as one smooth tube.
    pub fn chains(&self) -> Vec<Vec<Point3<f64>>> {
        let n = self.joints.len();
        let mut children = vec![Vec::new(); n];
        for (c, p) in self.bones() {
            children[p].push(c);
        }
        let mut out = Vec::new();
        // Every chain starts at the root or at a branch joint and follows single children.
        for start in 0..n {
            if self.parent[start].is_some() && children[start].len() == 1 {
                continue; // inside a chain
            }
            for &first in &children[start] {
                let mut chain = vec![self.joints[start], self.joints[first]];
                let mut at = first;
                while children[at].len() == 1 {
                    at = children[at][0];
                    chain.push(self.joints[at]);
                }
                out.push(chain);
            }
        }
        out
    }

    /// Distance from `p` to the nearest bone (or joint, for a skeleton without bones).
    pub fn distance_to(&self, p: &Point3<f64>) -> f64 {
        let mut best = self
            .joints
            .iter()
            .map(|j| (j - p).norm())
            .fold(f64::INFINITY, f64::min);
        for (c, q) in self.bones() {
            best = best.min(segment_distance(p, &self.joints[c], &self.joints[q]));
        }
        best
    }
}

fn segment_distance(p: &Point3<f64>, a: &Point3<f64>, b: &Point3<f64>) -> f64 {
    let ab = b - a;
    let len2 = ab.norm_squared();
    let t = if len2 > 0.0 {
        ((p - a).dot(&ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (a + ab * t - p).norm()
}

/// Tuning of [`skeleton`].
#[derive(Debug, Clone, Copy)]
pub struct SkeletonParams {
    /// Spacing of the reconstruction's splats (m): two splats closer than
    /// `link * spacing` are neighbours.
    pub spacing: f64,
    pub link: f64,
    /// Width of a geodesic band (m).
    pub band: f64,
    /// Branches with fewer joints than this (spurs from noise) are pruned.
    pub min_branch: usize,
}

impl SkeletonParams {
    /// Defaults for a reconstruction with splats `spacing` metres apart.
    pub fn for_spacing(spacing: f64) -> Self {
        Self {
            spacing,
            link: 2.0,
            band: (3.0 * spacing).max(0.06),
            min_branch: 2,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
struct Item(f64, usize);
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, Dijkstra wants the smallest first.
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
}

/// Geodesic distances from `source` over the neighbourhood graph (∞ where unreachable).
fn dijkstra(points: &[Point3<f64>], adj: &[Vec<usize>], source: usize) -> Vec<f64> {
    let mut dist = vec![f64::INFINITY; points.len()];
    let mut heap = BinaryHeap::new();
    dist[source] = 0.0;
    heap.push(Item(0.0, source));
    while let Some(Item(d, u)) = heap.pop() {
        if d > dist[u] {
            continue;
        }
        for &v in &adj[u] {
            let nd = d + (points[u] - points[v]).norm();
            if nd < dist[v] {
                dist[v] = nd;
                heap.push(Item(nd, v));
            }
        }
    }
    dist
}

/// Neighbour lists: points within `radius` of each other, found through a hash grid.
fn neighbours(points: &[Point3<f64>], radius: f64) -> Vec<Vec<usize>> {
    let key = |p: &Point3<f64>| {
        (
            (p.x / radius).floor() as i64,
            (p.y / radius).floor() as i64,
            (p.z / radius).floor() as i64,
        )
    };
    let mut grid: HashMap<(i64, i64, i64), Vec<usize>> = HashMap::new();
    for (i, p) in points.iter().enumerate() {
        grid.entry(key(p)).or_default().push(i);
    }
    let r2 = radius * radius;
    points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (x, y, z) = key(p);
            let mut out = Vec::new();
            for dx in -1..=1 {
                for dy in -1..=1 {
                    for dz in -1..=1 {
                        if let Some(cell) = grid.get(&(x + dx, y + dy, z + dz)) {
                            out.extend(
                                cell.iter()
                                    .copied()
                                    .filter(|&j| j != i && (points[j] - p).norm_squared() <= r2),
                            );
                        }
                    }
                }
            }
            out
        })
        .collect()
}

/// Connected parts of the graph using only the edges `joined` accepts: a label per point
/// (labels in order of each part's first point) and the number of parts.
fn components(adj: &[Vec<usize>], joined: impl Fn(usize, usize) -> bool) -> (Vec<usize>, usize) {
    let mut label = vec![usize::MAX; adj.len()];
    let mut count = 0;
    for s in 0..adj.len() {
        if label[s] != usize::MAX {
            continue;
        }
        label[s] = count;
        let mut stack = vec![s];
        while let Some(u) = stack.pop() {
            for &v in &adj[u] {
                if label[v] == usize::MAX && joined(u, v) {
                    label[v] = count;
                    stack.push(v);
                }
            }
        }
        count += 1;
    }
    (label, count)
}

/// The posture skeleton of one reconstructed instant (splat centres, metres). Empty when there
/// are too few points to say anything.
pub fn skeleton(positions: &[[f32; 3]], params: &SkeletonParams) -> Skeleton {
    let all: Vec<Point3<f64>> = positions
        .iter()
        .map(|p| Point3::new(p[0] as f64, p[1] as f64, p[2] as f64))
        .filter(|p| p.iter().all(|c| c.is_finite()))
        .collect();
    if all.len() < 8 {
        return Skeleton::default();
    }
    let adj_all = neighbours(&all, params.link * params.spacing);

    // The largest connected piece is the athlete; stray splats are left out.
    let (component, count) = components(&adj_all, |_, _| true);
    let mut sizes = vec![0usize; count];
    for &c in &component {
        sizes[c] += 1;
    }
    let largest = (0..count)
        .max_by_key(|&c| (sizes[c], usize::MAX - c))
        .unwrap_or(0);
    let keep: Vec<usize> = (0..all.len())
        .filter(|&i| component[i] == largest)
        .collect();
    if keep.len() < 8 {
        return Skeleton::default();
    }
    let mut remap = vec![usize::MAX; all.len()];
    for (k, &i) in keep.iter().enumerate() {
        remap[i] = k;
    }
    let points: Vec<Point3<f64>> = keep.iter().map(|&i| all[i]).collect();
    let adj: Vec<Vec<usize>> = keep
        .iter()
        .map(|&i| adj_all[i].iter().map(|&j| remap[j]).collect())
        .collect();

    // Source: the far end of the body seen from its middle (a ski tip, a hand or the head),
    // so every band is a ring across the body rather than a cap on the torso's surface.
    let centroid =
        Point3::from(points.iter().map(|p| p.coords).sum::<Vector3<f64>>() / points.len() as f64);
    let middle = (0..points.len())
        .min_by(|&a, &b| {
            (points[a] - centroid)
                .norm_squared()
                .total_cmp(&(points[b] - centroid).norm_squared())
        })
        .unwrap_or(0);
    let from_middle = dijkstra(&points, &adj, middle);
    let source = (0..points.len())
        .max_by(|&a, &b| from_middle[a].total_cmp(&from_middle[b]))
        .unwrap_or(0);
    let dist = dijkstra(&points, &adj, source);
    let band: Vec<usize> = dist.iter().map(|d| (d / params.band) as usize).collect();

    // Pieces: connected parts of each band, as (band, sum of positions, count).
    let (piece, count) = components(&adj, |u, v| band[u] == band[v]);
    let mut pieces: Vec<(usize, Vector3<f64>, usize)> = vec![(0, Vector3::zeros(), 0); count];
    for (u, &k) in piece.iter().enumerate() {
        pieces[k].0 = band[u];
        pieces[k].1 += points[u].coords;
        pieces[k].2 += 1;
    }

    // Each piece's parent: the piece in the band before it it touches most.
    let mut touch: HashMap<(usize, usize), usize> = HashMap::new();
    for u in 0..points.len() {
        for &v in &adj[u] {
            if band[v] + 1 == band[u] {
                *touch.entry((piece[u], piece[v])).or_default() += 1;
            }
        }
    }
    // Sorted so ties break the same way every run.
    let mut touch: Vec<((usize, usize), usize)> = touch.into_iter().collect();
    touch.sort_by(|a, b| {
        a.0.0
            .cmp(&b.0.0)
            .then(b.1.cmp(&a.1))
            .then(a.0.1.cmp(&b.0.1))
    });
    let mut parent: Vec<Option<usize>> = vec![None; pieces.len()];
    for ((child, par), _) in touch {
        if parent[child].is_none() {
            parent[child] = Some(par);
        }
    }
    // Pieces of a few splats on a band's edge are noise.
    let min_points = 3;
    let mut alive: Vec<bool> = pieces.iter().map(|p| p.2 >= min_points).collect();
    let root = piece[source];
    alive[root] = true;
    // Parents lie in the band before, so one pass in band order settles every piece: a dead
    // parent hands over its own (already settled) parent, and a piece left with none is a
    // fragment detached from the body.
    let mut order: Vec<usize> = (0..pieces.len()).collect();
    order.sort_by_key(|&i| pieces[i].0);
    for i in order {
        if let Some(p) = parent[i]
            && !alive[p]
        {
            parent[i] = parent[p];
        }
        if i != root && parent[i].is_none() {
            alive[i] = false;
        }
    }

    // Prune short spurs: leaf branches with fewer than `min_branch` joints below a branch.
    for _ in 0..2 {
        let mut children = vec![Vec::new(); pieces.len()];
        for i in 0..pieces.len() {
            if alive[i]
                && let Some(p) = parent[i]
            {
                children[p].push(i);
            }
        }
        let mut removed = false;
        for leaf in 0..pieces.len() {
            if !alive[leaf] || !children[leaf].is_empty() || leaf == root {
                continue;
            }
            let mut branch = vec![leaf];
            let mut at = leaf;
            while let Some(p) = parent[at] {
                if children[p].len() != 1 || p == root {
                    break;
                }
                branch.push(p);
                at = p;
            }
            let from_branch_point = parent[at].is_some_and(|p| children[p].len() > 1);
            if from_branch_point && branch.len() < params.min_branch {
                for b in branch {
                    alive[b] = false;
                }
                removed = true;
            }
        }
        if !removed {
            break;
        }
    }

    let mut index = vec![usize::MAX; pieces.len()];
    let mut joints = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        if alive[i] {
            index[i] = joints.len();
            joints.push(Point3::from(p.1 / p.2 as f64));
        }
    }
    let parent_out = (0..pieces.len())
        .filter(|&i| alive[i])
        .map(|i| parent[i].filter(|&p| alive[p]).map(|p| index[p]))
        .collect();
    Skeleton {
        joints,
        parent: parent_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Surface points of a union of capsules, `step` apart on a grid.
    fn capsules(segments: &[([f64; 3], [f64; 3], f64)], step: f64) -> Vec<[f32; 3]> {
        let sd = |p: &Point3<f64>| {
            segments
                .iter()
                .map(|(a, b, r)| segment_distance(p, &Point3::from(*a), &Point3::from(*b)) - r)
                .fold(f64::INFINITY, f64::min)
        };
        let mut out = Vec::new();
        let n = (2.0 / step) as i64;
        for i in -n..=n {
            for j in -n..=n {
                for k in -n..=n {
                    let p = Point3::new(i as f64, j as f64, k as f64) * step;
                    if sd(&p).abs() <= step * 0.5 {
                        out.push([p.x as f32, p.y as f32, p.z as f32]);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn a_star_figure_gives_a_branch_per_arm_and_a_joint_near_each_tip() {
        let tips = [
            [0.9, 0.0, 0.0],
            [-0.9, 0.0, 0.0],
            [0.0, 0.0, 0.9],
            [0.0, 0.0, -0.9],
        ];
        let segs: Vec<_> = tips.iter().map(|t| ([0.0, 0.0, 0.0], *t, 0.08)).collect();
        let pts = capsules(&segs, 0.025);
        let s = skeleton(&pts, &SkeletonParams::for_spacing(0.025));
        assert!(s.joints.len() > 10, "{} joints", s.joints.len());
        // One end is the root's own arm tip; the other three are leaves.
        assert_eq!(s.ends().len(), 3, "{:?}", s);
        for t in tips {
            let d = s.distance_to(&Point3::from(t));
            assert!(d < 0.12, "tip {t:?} is {d:.3} m from the skeleton");
        }
        // Joints lie inside the 8 cm capsules (a tip's cap gives a joint inside the cap), and
        // along the arms on the axes, not on the surface.
        for j in &s.joints {
            let on_axis = segs
                .iter()
                .map(|(a, b, _)| segment_distance(j, &Point3::from(*a), &Point3::from(*b)))
                .fold(f64::INFINITY, f64::min);
            assert!(on_axis < 0.08, "joint {j:?} is {on_axis:.3} m off the axes");
            let r = j.coords.norm();
            if r > 0.25 && r < 0.75 {
                assert!(
                    on_axis < 0.02,
                    "joint {j:?} is {on_axis:.3} m off the arm's axis"
                );
            }
        }
        let chains = s.chains();
        assert!(chains.len() >= 4, "{} chains", chains.len());
    }

    /// The synthetic athlete's true surface at `step` spacing (what an ideal reconstruction
    /// gives), at time `t`.
    fn athlete_surface(t: f64, step: f64) -> (crate::synth::athlete::AthletePose, Vec<[f32; 3]>) {
        use crate::synth::athlete::{Athlete, AthleteParams};
        use crate::synth::venue::VenueParams;
        let (athlete, _) = Athlete::design(AthleteParams::default(), VenueParams::default());
        let pose = athlete.pose(t);
        let (c, r) = pose.bounding_sphere();
        let n = (r / step).ceil() as i64;
        let mut out = Vec::new();
        for i in -n..=n {
            for j in -n..=n {
                for k in -n..=n {
                    let p = c + Vector3::new(i as f64, j as f64, k as f64) * step;
                    if pose.signed_distance(&p).abs() <= step * 0.5 {
                        out.push([p.x as f32, p.y as f32, p.z as f32]);
                    }
                }
            }
        }
        (pose, out)
    }

    #[test]
    fn the_athletes_skeleton_reaches_head_hands_and_feet() {
        let step = 0.025;
        let params = SkeletonParams::for_spacing(step);
        let mut report = Vec::new();
        for t in [0.6, 1.3, 1.8, 2.25, 2.7, 3.2, 3.9] {
            let (pose, pts) = athlete_surface(t, step);
            let s = skeleton(&pts, &params);
            for (name, p) in &pose.joints {
                report.push((t, *name, s.distance_to(p)));
            }
            for j in &s.joints {
                let sd = pose.signed_distance(j);
                report.push((t, "inside", sd));
            }
        }
        let worst = |name: &str| {
            report
                .iter()
                .filter(|r| r.1 == name)
                .map(|r| r.2)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        // The limbs' ends are on the skeleton (a cap's centroid sits a few centimetres inside
        // the end it caps), through twists and flips.
        for name in ["head_top", "wrist_l", "wrist_r", "ankle_l", "ankle_r"] {
            let d = worst(name);
            assert!(d < 0.08, "{name} is up to {d:.3} m from the skeleton");
        }
        let d = worst("pelvis");
        assert!(d < 0.10, "pelvis is up to {d:.3} m from the skeleton");
        // Joints lie inside the body (within half a sample of its surface).
        let mut inside: Vec<f64> = report
            .iter()
            .filter(|r| r.1 == "inside")
            .map(|r| r.2)
            .collect();
        inside.sort_by(f64::total_cmp);
        let p90 = inside[inside.len() * 9 / 10];
        assert!(
            p90 < 0.5 * step,
            "90% of joints within {p90:.3} m of the inside"
        );
    }

    #[test]
    fn too_few_points_give_an_empty_skeleton() {
        assert!(skeleton(&[[0.0; 3]; 3], &SkeletonParams::for_spacing(0.05)).is_empty());
        let nan = [[f32::NAN; 3]; 20];
        assert!(skeleton(&nan, &SkeletonParams::for_spacing(0.05)).is_empty());
    }
}
