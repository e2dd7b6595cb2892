//! Broadcast graphics over the picture: a lower third (athlete, country, event), measurement
//! labels anchored in 3D (apex height, airtime, distance, take-off speed), labels on the
//! after-images, the "Powered by replay360" signature, and title/action safe-area guides.
//!
//! The document part ([`Overlays`]) is timed in output seconds of the whole sequence; the
//! composed part ([`OverlayFrame`]) is what one frame shows, with each item's opacity already
//! faded in or out. 3D anchors stay in world coordinates (m): the renderer projects them with
//! the frame's camera, so labels stick to the scene while the camera moves.

use super::Context;
use nalgebra::Point3;
use serde::{Deserialize, Serialize};

/// Seconds an overlay item takes to fade in or out.
pub const FADE_S: f64 = 0.35;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Corner {
    TopLeft,
    TopRight,
    BottomLeft,
    #[default]
    BottomRight,
}

/// The athlete's caption, bottom left inside the title-safe area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LowerThird {
    pub name: String,
    /// Country code or name, shown in an accent box before the name.
    #[serde(default)]
    pub country: String,
    /// Event line under the name (e.g. "Freestyle Aerials · Final").
    #[serde(default)]
    pub event: String,
    /// Output seconds of the sequence when it appears and goes.
    pub from: f64,
    pub to: f64,
}

/// A figure the analysis measured, shown as a label anchored in the scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MeasureKind {
    /// Height of the centre of mass at the apex above take-off, with a dimension line.
    ApexHeight,
    /// Time in the air, at the apex.
    Airtime,
    /// Horizontal distance from take-off to landing, with a dimension line.
    Distance,
    /// Speed leaving the kicker, at the take-off point.
    TakeOffSpeed,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub kind: MeasureKind,
    /// Output seconds of the sequence when it appears and goes.
    pub from: f64,
    pub to: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    pub text: String,
    #[serde(default)]
    pub corner: Corner,
    #[serde(default = "signature_opacity")]
    pub opacity: f32,
}

fn signature_opacity() -> f32 {
    0.8
}

impl Default for Signature {
    fn default() -> Self {
        Self {
            text: "Powered by replay360".to_owned(),
            corner: Corner::BottomRight,
            opacity: signature_opacity(),
        }
    }
}

fn default_signature() -> Option<Signature> {
    Some(Signature::default())
}

/// The overlays of a sequence document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overlays {
    #[serde(default)]
    pub lower_third: Option<LowerThird>,
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    /// `None` hides the signature.
    #[serde(default = "default_signature")]
    pub signature: Option<Signature>,
    /// Draw the title-safe (90 %) and action-safe (93 %) frames, as a layout guide.
    #[serde(default)]
    pub safe_areas: bool,
}

impl Default for Overlays {
    fn default() -> Self {
        Self {
            lower_third: None,
            measurements: Vec::new(),
            signature: default_signature(),
            safe_areas: false,
        }
    }
}

/// A label in the scene: text at a 3D anchor, optionally with a dimension line between two
/// 3D points (the label sits at the line's middle then).
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub anchor: Point3<f64>,
    pub text: String,
    pub line: Option<(Point3<f64>, Point3<f64>)>,
    pub opacity: f32,
    /// Small labels (after-image times) versus measurement call-outs.
    pub small: bool,
}

/// The lower third as one frame shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LowerThirdFrame {
    pub name: String,
    pub country: String,
    pub event: String,
    /// 0..1: fades and slides in, then out.
    pub opacity: f32,
}

/// Everything drawn over one frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OverlayFrame {
    pub lower_third: Option<LowerThirdFrame>,
    pub labels: Vec<Label>,
    pub signature: Option<Signature>,
    pub safe_areas: bool,
}

impl OverlayFrame {
    pub fn is_empty(&self) -> bool {
        self.lower_third.is_none()
            && self.labels.is_empty()
            && self.signature.is_none()
            && !self.safe_areas
    }
}

/// Opacity of an item shown from `from` to `to` at time `t`, with [`FADE_S`] fades.
pub fn fade(t: f64, from: f64, to: f64) -> f32 {
    if t < from || t > to {
        return 0.0;
    }
    let fade = FADE_S.min(0.5 * (to - from)).max(1e-6);
    ((t - from) / fade).min((to - t) / fade).clamp(0.0, 1.0) as f32
}

impl Overlays {
    /// What is shown at output second `t` of the sequence.
    pub fn frame(&self, t: f64, ctx: &Context) -> OverlayFrame {
        let lower_third = self.lower_third.as_ref().and_then(|l| {
            let opacity = fade(t, l.from, l.to);
            (opacity > 0.0).then(|| LowerThirdFrame {
                name: l.name.clone(),
                country: l.country.clone(),
                event: l.event.clone(),
                opacity,
            })
        });
        let mut labels = Vec::new();
        for m in &self.measurements {
            let opacity = fade(t, m.from, m.to);
            if opacity <= 0.0 {
                continue;
            }
            if let Some(label) = measurement_label(m.kind, ctx, opacity) {
                labels.push(label);
            }
        }
        OverlayFrame {
            lower_third,
            labels,
            signature: self.signature.clone(),
            safe_areas: self.safe_areas,
        }
    }

    pub fn validate(&self) -> Result<(), (String, &'static str)> {
        if let Some(l) = &self.lower_third {
            if !(l.from.is_finite() && l.to.is_finite() && l.to > l.from) {
                return Err(("overlays.lower_third".into(), "`to` must come after `from`"));
            }
            if l.name.trim().is_empty() {
                return Err(("overlays.lower_third.name".into(), "must not be empty"));
            }
        }
        for (i, m) in self.measurements.iter().enumerate() {
            if !(m.from.is_finite() && m.to.is_finite() && m.to > m.from) {
                return Err((
                    format!("overlays.measurements[{i}]"),
                    "`to` must come after `from`",
                ));
            }
        }
        if let Some(s) = &self.signature
            && !(0.0..=1.0).contains(&s.opacity)
        {
            return Err(("overlays.signature.opacity".into(), "must be 0 to 1"));
        }
        Ok(())
    }
}

/// The call-out for one measured figure, or `None` without an analysis.
pub fn measurement_label(kind: MeasureKind, ctx: &Context, opacity: f32) -> Option<Label> {
    let m = ctx.measures?;
    let takeoff = ctx.position(ctx.takeoff);
    let apex = ctx.position(ctx.apex);
    let landing = ctx.position(ctx.landing);
    let label = match kind {
        MeasureKind::ApexHeight => {
            let base = Point3::new(apex.x, apex.y, apex.z - m.apex_height_m);
            Label {
                // Near the top of the line, where a close shot of the athlete still sees it.
                anchor: base + (apex - base) * 0.8,
                text: format!("Height {:.2} m", m.apex_height_m),
                line: Some((base, apex)),
                opacity,
                small: false,
            }
        }
        MeasureKind::Airtime => Label {
            anchor: apex + nalgebra::Vector3::new(0.0, 0.0, 1.2),
            text: format!("Airtime {:.2} s", m.flight_time_s),
            line: None,
            opacity,
            small: false,
        },
        MeasureKind::Distance => {
            let a = Point3::new(takeoff.x, takeoff.y, takeoff.z.min(landing.z));
            let b = Point3::new(landing.x, landing.y, takeoff.z.min(landing.z));
            Label {
                anchor: nalgebra::center(&a, &b),
                text: format!("Distance {:.1} m", m.distance_m),
                line: Some((a, b)),
                opacity,
                small: false,
            }
        }
        MeasureKind::TakeOffSpeed => Label {
            anchor: takeoff + nalgebra::Vector3::new(0.0, 0.0, 0.9),
            text: format!("Take-off {:.0} km/h", m.takeoff_speed_mps * 3.6),
            line: None,
            opacity,
            small: false,
        },
    };
    Some(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fades_in_and_out_and_is_off_outside() {
        assert_eq!(fade(0.9, 1.0, 3.0), 0.0);
        assert_eq!(fade(3.1, 1.0, 3.0), 0.0);
        assert!((fade(1.0 + FADE_S / 2.0, 1.0, 3.0) - 0.5).abs() < 1e-6);
        assert_eq!(fade(2.0, 1.0, 3.0), 1.0);
        assert!((fade(3.0 - FADE_S / 4.0, 1.0, 3.0) - 0.25).abs() < 1e-6);
        // A very short item still reaches full opacity half way.
        assert!((fade(1.1, 1.0, 1.2) - 1.0).abs() < 1e-6);
    }
}
