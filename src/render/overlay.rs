//! Broadcast graphics drawn with egui over the scene. One painter ([`paint`]) serves both the
//! window (egui on the GPU, [`OverlayPlugin`]) and the exporter ([`OverlayRasterizer`]: the
//! same egui shapes tessellated and filled on the CPU over each captured frame, so an export
//! is deterministic and frame N carries exactly frame N's graphics).
//!
//! Sizes are designed for a 1080-line frame and scale with the shorter side of the picture,
//! so a 2160p or a 9:16 export keeps the same proportions. Everything sits inside the
//! title-safe area (5 % margins, EBU R 95).

use super::scene::CurrentView;
use crate::camera::Camera;
use crate::compose::OverlayFrame;
use crate::compose::overlay::{Corner, Label, LowerThirdFrame};
use bevy::prelude::*;
use bevy_egui::egui::{self, Align2, Color32, FontId, Pos2, Rect, Stroke, StrokeKind, Vec2};
use bevy_egui::{EguiContexts, EguiPrimaryContextPass};
use image::RgbaImage;
use std::collections::HashMap;

/// Title-safe margin (fraction of width and height on each side).
pub const TITLE_SAFE: f32 = 0.05;
/// Action-safe margin.
pub const ACTION_SAFE: f32 = 0.035;

mod palette {
    use super::Color32;
    pub const PANEL: Color32 = Color32::from_rgb(12, 22, 40);
    pub const ACCENT: Color32 = Color32::from_rgb(255, 140, 20);
    pub const TEXT: Color32 = Color32::from_rgb(245, 247, 250);
    pub const SUBTLE: Color32 = Color32::from_rgb(175, 190, 210);
}

/// Draws the current view's overlay over the whole egui screen.
pub struct OverlayPlugin;

impl Plugin for OverlayPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(EguiPrimaryContextPass, draw_overlay);
    }
}

fn draw_overlay(mut contexts: EguiContexts, view: Res<CurrentView>) -> Result {
    let req = &view.0;
    if req.overlay.is_empty() {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let rect = ctx.content_rect();
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::new("replay360-overlay"),
    ));
    paint(&painter, rect, &req.camera, &req.overlay);
    Ok(())
}

fn with_alpha(c: Color32, a: f32) -> Color32 {
    let a = (a.clamp(0.0, 1.0) * c.a() as f32).round() as u8;
    Color32::from_rgba_unmultiplied(c.r(), c.g(), c.b(), a)
}

/// Paints `overlay` into `rect`, which shows the whole image of `camera` (its pixels map
/// linearly onto the rectangle).
pub fn paint(painter: &egui::Painter, rect: Rect, camera: &Camera, overlay: &OverlayFrame) {
    let unit = rect.width().min(rect.height()) / 1080.0;
    let i = &camera.intrinsics;
    let sx = rect.width() / i.width as f32;
    let sy = rect.height() / i.height as f32;
    // OpenCV pixel centres: pixel (0, 0) covers [0, 1) of the rectangle's first column.
    let to_screen = |p: &nalgebra::Point3<f64>| -> Option<Pos2> {
        let px = camera.project(p)?;
        Some(Pos2::new(
            rect.min.x + (px.x as f32 + 0.5) * sx,
            rect.min.y + (px.y as f32 + 0.5) * sy,
        ))
    };
    let safe = rect.shrink2(rect.size() * TITLE_SAFE);
    if overlay.safe_areas {
        let guide = Stroke::new(1.5 * unit.max(0.5), with_alpha(Color32::WHITE, 0.55));
        painter.rect_stroke(safe, 0.0, guide, StrokeKind::Inside);
        let action = rect.shrink2(rect.size() * ACTION_SAFE);
        painter.rect_stroke(action, 0.0, guide, StrokeKind::Inside);
        let c = rect.center();
        let l = 18.0 * unit;
        painter.line_segment([c - Vec2::X * l, c + Vec2::X * l], guide);
        painter.line_segment([c - Vec2::Y * l, c + Vec2::Y * l], guide);
    }
    for label in &overlay.labels {
        paint_label(painter, rect, unit, label, &to_screen);
    }
    if let Some(lt) = &overlay.lower_third {
        paint_lower_third(painter, safe, unit, lt);
    }
    if let Some(sig) = &overlay.signature {
        let (anchor, align) = match sig.corner {
            Corner::TopLeft => (safe.left_top(), Align2::LEFT_TOP),
            Corner::TopRight => (safe.right_top(), Align2::RIGHT_TOP),
            Corner::BottomLeft => (safe.left_bottom(), Align2::LEFT_BOTTOM),
            Corner::BottomRight => (safe.right_bottom(), Align2::RIGHT_BOTTOM),
        };
        let font = FontId::proportional(20.0 * unit);
        let shadow = anchor + Vec2::splat(1.5 * unit);
        painter.text(
            shadow,
            align,
            &sig.text,
            font.clone(),
            with_alpha(Color32::BLACK, 0.5 * sig.opacity),
        );
        painter.text(
            anchor,
            align,
            &sig.text,
            font,
            with_alpha(palette::TEXT, sig.opacity),
        );
    }
}

fn paint_label(
    painter: &egui::Painter,
    rect: Rect,
    unit: f32,
    label: &Label,
    to_screen: &dyn Fn(&nalgebra::Point3<f64>) -> Option<Pos2>,
) {
    let a = label.opacity;
    if a <= 0.0 {
        return;
    }
    if let Some((p, q)) = &label.line
        && let (Some(p), Some(q)) = (to_screen(p), to_screen(q))
    {
        // A dimension line with end ticks across it.
        let stroke = Stroke::new(2.5 * unit, with_alpha(palette::TEXT, a));
        painter.line_segment([p, q], stroke);
        let d = q - p;
        if d.length() > 1.0 {
            let n = Vec2::new(-d.y, d.x).normalized() * 9.0 * unit;
            for e in [p, q] {
                painter.line_segment([e - n, e + n], stroke);
            }
        }
    }
    let Some(at) = to_screen(&label.anchor) else {
        return;
    };
    if !rect.expand(40.0 * unit).contains(at) {
        return;
    }
    if label.small {
        let font = FontId::proportional(19.0 * unit);
        let pos = at;
        painter.text(
            pos + Vec2::splat(1.5 * unit),
            Align2::CENTER_BOTTOM,
            &label.text,
            font.clone(),
            with_alpha(Color32::BLACK, 0.6 * a),
        );
        painter.text(
            pos,
            Align2::CENTER_BOTTOM,
            &label.text,
            font,
            with_alpha(palette::TEXT, a),
        );
        return;
    }
    // A call-out: a dot on the anchor, a short leader, a panel with an accent stripe.
    painter.circle_filled(at, 5.0 * unit, with_alpha(palette::ACCENT, a));
    let font = FontId::proportional(26.0 * unit);
    let galley = painter.layout_no_wrap(label.text.clone(), font, with_alpha(palette::TEXT, a));
    let pad = Vec2::new(12.0, 7.0) * unit;
    let size = galley.size() + pad * 2.0 + Vec2::new(6.0 * unit, 0.0);
    let mut origin = at + Vec2::new(22.0, -18.0) * unit - Vec2::new(0.0, size.y);
    // Keep the call-out inside the title-safe area.
    let safe = rect.shrink2(rect.size() * TITLE_SAFE);
    origin.x = origin
        .x
        .clamp(safe.left(), (safe.right() - size.x).max(safe.left()));
    origin.y = origin
        .y
        .clamp(safe.top(), (safe.bottom() - size.y).max(safe.top()));
    let panel = Rect::from_min_size(origin, size);
    let leader_end = Pos2::new(
        panel.left(),
        panel.center().y.clamp(panel.top(), panel.bottom()),
    );
    painter.line_segment(
        [at, leader_end],
        Stroke::new(2.0 * unit, with_alpha(palette::ACCENT, a)),
    );
    painter.rect_filled(panel, 4.0 * unit, with_alpha(palette::PANEL, 0.85 * a));
    painter.rect_filled(
        Rect::from_min_size(panel.min, Vec2::new(6.0 * unit, size.y)),
        0.0,
        with_alpha(palette::ACCENT, a),
    );
    painter.galley(
        panel.min + pad + Vec2::new(6.0 * unit, 0.0),
        galley,
        palette::TEXT,
    );
}

fn paint_lower_third(painter: &egui::Painter, safe: Rect, unit: f32, lt: &LowerThirdFrame) {
    let a = lt.opacity;
    // Slides in from the left as it fades in.
    let slide = (1.0 - a) * 60.0 * unit;
    let name_font = FontId::proportional(40.0 * unit);
    let event_font = FontId::proportional(24.0 * unit);
    let country_font = FontId::proportional(34.0 * unit);
    let name = painter.layout_no_wrap(lt.name.clone(), name_font, with_alpha(palette::TEXT, a));
    let event =
        painter.layout_no_wrap(lt.event.clone(), event_font, with_alpha(palette::SUBTLE, a));
    let country = painter.layout_no_wrap(
        lt.country.clone(),
        country_font,
        with_alpha(palette::PANEL, a),
    );
    let pad = 16.0 * unit;
    let gap = if lt.event.is_empty() { 0.0 } else { 4.0 * unit };
    let text_h = name.size().y
        + gap
        + if lt.event.is_empty() {
            0.0
        } else {
            event.size().y
        };
    let h = text_h + 2.0 * pad;
    let bottom = safe.bottom() - 30.0 * unit;
    let mut x = safe.left() - slide;
    let top = bottom - h;
    if !lt.country.is_empty() {
        let w = country.size().x + 2.0 * pad;
        let r = Rect::from_min_size(Pos2::new(x, top), Vec2::new(w, h));
        painter.rect_filled(r, 0.0, with_alpha(palette::ACCENT, a));
        painter.galley(
            Pos2::new(
                r.center().x - country.size().x / 2.0,
                r.center().y - country.size().y / 2.0,
            ),
            country,
            palette::PANEL,
        );
        x += w;
    }
    let w = name.size().x.max(event.size().x) + 2.0 * pad + 30.0 * unit;
    let r = Rect::from_min_size(Pos2::new(x, top), Vec2::new(w, h));
    painter.rect_filled(r, 0.0, with_alpha(palette::PANEL, 0.88 * a));
    // An accent rule under the panel.
    painter.rect_filled(
        Rect::from_min_size(
            Pos2::new(safe.left() - slide, bottom),
            Vec2::new(x + w - (safe.left() - slide), 4.0 * unit),
        ),
        0.0,
        with_alpha(palette::ACCENT, a),
    );
    let name_h = name.size().y;
    painter.galley(Pos2::new(x + pad, top + pad), name, palette::TEXT);
    if !lt.event.is_empty() {
        painter.galley(
            Pos2::new(x + pad, top + pad + name_h + gap),
            event,
            palette::SUBTLE,
        );
    }
}

/// Draws overlays into captured frames on the CPU: egui lays out and tessellates, and the
/// triangles (already feathered for anti-aliasing by egui) are filled here with premultiplied
/// alpha in sRGB space, as egui's own renderers blend.
#[derive(Default)]
pub struct OverlayRasterizer {
    ctx: egui::Context,
    textures: HashMap<egui::TextureId, egui::ColorImage>,
}

impl OverlayRasterizer {
    /// Paints `overlay` over `img`, the picture of `camera`.
    pub fn draw(&mut self, img: &mut RgbaImage, camera: &Camera, overlay: &OverlayFrame) {
        if overlay.is_empty() {
            return;
        }
        let (w, h) = img.dimensions();
        let rect = Rect::from_min_size(Pos2::ZERO, Vec2::new(w as f32, h as f32));
        let input = egui::RawInput {
            screen_rect: Some(rect),
            ..Default::default()
        };
        let out = self.ctx.run_ui(input, |ui| {
            let painter = ui.ctx().layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::new("replay360-overlay"),
            ));
            paint(&painter, rect, camera, overlay);
        });
        for (id, delta) in out
            .textures_delta
            .set
            .iter()
            .flat_map(|(id, deltas)| deltas.iter().map(move |d| (id, d)))
        {
            let egui::ImageData::Color(patch) = &delta.image;
            match delta.pos {
                None => {
                    self.textures.insert(*id, (**patch).clone());
                }
                Some([x0, y0]) => {
                    if let Some(tex) = self.textures.get_mut(id) {
                        for y in 0..patch.size[1] {
                            for x in 0..patch.size[0] {
                                let (tx, ty) = (x0 + x, y0 + y);
                                if tx < tex.size[0] && ty < tex.size[1] {
                                    tex.pixels[ty * tex.size[0] + tx] =
                                        patch.pixels[y * patch.size[0] + x];
                                }
                            }
                        }
                    }
                }
            }
        }
        let primitives = self.ctx.tessellate(out.shapes, out.pixels_per_point);
        for p in &primitives {
            if let egui::epaint::Primitive::Mesh(mesh) = &p.primitive {
                let tex = self.textures.get(&mesh.texture_id);
                fill_mesh(img, mesh, tex, p.clip_rect);
            }
        }
        for id in &out.textures_delta.free {
            self.textures.remove(id);
        }
    }
}

/// Bilinear sample of a premultiplied texture at normalised `uv`, as RGBA 0..1.
fn sample(tex: &egui::ColorImage, uv: Pos2) -> [f32; 4] {
    let (tw, th) = (tex.size[0], tex.size[1]);
    if tw == 0 || th == 0 {
        return [1.0; 4];
    }
    let x = (uv.x * tw as f32 - 0.5).clamp(0.0, (tw - 1) as f32);
    let y = (uv.y * th as f32 - 0.5).clamp(0.0, (th - 1) as f32);
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(tw - 1), (y0 + 1).min(th - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let px = |x: usize, y: usize| tex.pixels[y * tw + x].to_array();
    let (a, b, c, d) = (px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1));
    let mut out = [0.0; 4];
    for k in 0..4 {
        let top = a[k] as f32 * (1.0 - fx) + b[k] as f32 * fx;
        let bottom = c[k] as f32 * (1.0 - fx) + d[k] as f32 * fx;
        out[k] = (top * (1.0 - fy) + bottom * fy) / 255.0;
    }
    out
}

/// Fills an egui mesh's triangles over `img` (premultiplied sRGB RGBA), clipped to `clip`.
fn fill_mesh(
    img: &mut RgbaImage,
    mesh: &egui::epaint::Mesh,
    tex: Option<&egui::ColorImage>,
    clip: Rect,
) {
    let (w, h) = img.dimensions();
    let clip = clip.intersect(Rect::from_min_size(
        Pos2::ZERO,
        Vec2::new(w as f32, h as f32),
    ));
    if !clip.is_positive() {
        return;
    }
    for tri in mesh.indices.chunks_exact(3) {
        let [a, b, c] = [tri[0], tri[1], tri[2]].map(|i| &mesh.vertices[i as usize]);
        let area = (b.pos - a.pos).x * (c.pos - a.pos).y - (b.pos - a.pos).y * (c.pos - a.pos).x;
        if area.abs() < 1e-9 {
            continue;
        }
        let min = a.pos.min(b.pos).min(c.pos).max(clip.min);
        let max = a.pos.max(b.pos).max(c.pos).min(clip.max);
        if min.x >= max.x || min.y >= max.y {
            continue;
        }
        let (x0, x1) = (min.x.floor() as u32, (max.x.ceil() as u32).min(w));
        let (y0, y1) = (min.y.floor() as u32, (max.y.ceil() as u32).min(h));
        let colour = |v: &egui::epaint::Vertex| v.color.to_array().map(|c| c as f32 / 255.0);
        let (ca, cb, cc) = (colour(a), colour(b), colour(c));
        for y in y0..y1 {
            for x in x0..x1 {
                // Pixel centres, as the GPU samples them.
                let p = Pos2::new(x as f32 + 0.5, y as f32 + 0.5);
                let edge = |u: Pos2, v: Pos2| (v - u).x * (p - u).y - (v - u).y * (p - u).x;
                let (wa, wb, wc) = (
                    edge(b.pos, c.pos) / area,
                    edge(c.pos, a.pos) / area,
                    edge(a.pos, b.pos) / area,
                );
                if wa < -1e-6 || wb < -1e-6 || wc < -1e-6 {
                    continue;
                }
                let mut src = [0.0f32; 4];
                for k in 0..4 {
                    src[k] = ca[k] * wa + cb[k] * wb + cc[k] * wc;
                }
                if let Some(t) = tex {
                    let uv = Pos2::new(
                        a.uv.x * wa + b.uv.x * wb + c.uv.x * wc,
                        a.uv.y * wa + b.uv.y * wb + c.uv.y * wc,
                    );
                    let s = sample(t, uv);
                    for k in 0..4 {
                        src[k] *= s[k];
                    }
                }
                if src[3] <= 0.0 {
                    continue;
                }
                // Premultiplied "over": captured frames are premultiplied too (edge coverage
                // resolves into colour and alpha; PNG export un-premultiplies afterwards).
                let d = img.get_pixel_mut(x, y);
                for k in 0..4 {
                    let dst = d[k] as f32 / 255.0;
                    d[k] = ((src[k] + dst * (1.0 - src[3])).clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::VirtualCamera;
    use crate::compose::overlay::{Label, LowerThirdFrame, Signature};
    use nalgebra::Point3;

    fn camera() -> Camera {
        VirtualCamera {
            eye: Point3::new(0.0, -10.0, 0.0),
            target: Point3::origin(),
            fov_y: 40f64.to_radians(),
            roll: 0.0,
        }
        .to_camera(1920, 1080)
    }

    fn close(p: &image::Rgba<u8>, c: Color32, tol: i32) -> bool {
        (0..3).all(|k| (p[k] as i32 - c.to_array()[k] as i32).abs() <= tol)
    }

    #[test]
    fn rasterised_overlay_lands_where_the_layout_puts_it() {
        let grey = image::Rgba([60, 60, 60, 255]);
        let mut img = RgbaImage::from_pixel(1920, 1080, grey);
        let overlay = OverlayFrame {
            lower_third: Some(LowerThirdFrame {
                name: "A. Skier".into(),
                country: "SUI".into(),
                event: "Aerials".into(),
                opacity: 1.0,
            }),
            labels: vec![Label {
                anchor: Point3::origin(),
                text: "Height 4.50 m".into(),
                line: None,
                opacity: 1.0,
                small: false,
            }],
            signature: Some(Signature::default()),
            safe_areas: false,
        };
        let mut r = OverlayRasterizer::default();
        r.draw(&mut img, &camera(), &overlay);
        // The country box starts at the title-safe edge (5 % of 1920 = 96 px) and ends 30 px
        // above the safe bottom (1080 - 54 - 30 = 996); egui's 1 px feathering blurs only its
        // outermost pixels, so a pixel 4 px inside is the exact accent colour (±2 rounding).
        assert!(
            close(img.get_pixel(100, 990), palette::ACCENT, 2),
            "{:?}",
            img.get_pixel(100, 990)
        );
        assert_eq!(
            *img.get_pixel(90, 990),
            grey,
            "nothing left of the safe area"
        );
        // The name is set in near-white text on the dark panel.
        let bright = (96..700)
            .flat_map(|x| (880..990).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[..3].iter().all(|&c| c > 200))
            .count();
        if let Some(dir) = std::env::var_os("REPLAY360_DUMP_OVERLAY") {
            let _ = img.save(std::path::Path::new(&dir).join("overlay.png"));
        }
        assert!(bright > 300, "name text drawn ({bright} bright pixels)");
        // The call-out dot sits on the projected anchor, the image centre.
        assert!(
            close(img.get_pixel(960, 540), palette::ACCENT, 2),
            "{:?}",
            img.get_pixel(960, 540)
        );
        // The signature is drawn in the bottom-right corner of the safe area, and the top-left
        // of the picture is untouched.
        let sig = (1500..1824)
            .flat_map(|x| (990..1026).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[..3].iter().all(|&c| c > 150))
            .count();
        assert!(sig > 100, "signature drawn ({sig} bright pixels)");
        assert!((0..900).all(|x| (0..400).all(|y| *img.get_pixel(x, y) == grey)));
        // Drawing is deterministic: the same frame again gives the same pixels.
        let mut again = RgbaImage::from_pixel(1920, 1080, grey);
        r.draw(&mut again, &camera(), &overlay);
        assert!(again == img);
    }

    #[test]
    fn overlay_on_a_transparent_frame_keeps_the_rest_transparent() {
        let mut img = RgbaImage::from_pixel(640, 360, image::Rgba([0, 0, 0, 0]));
        let overlay = OverlayFrame {
            signature: Some(Signature::default()),
            ..Default::default()
        };
        OverlayRasterizer::default().draw(&mut img, &camera(), &overlay);
        let opaque = img.pixels().filter(|p| p[3] > 0).count();
        assert!(opaque > 50 && opaque < 640 * 360 / 20, "{opaque}");
        assert_eq!(img.get_pixel(10, 10)[3], 0);
    }
}
