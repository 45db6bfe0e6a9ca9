//! SVG figures for `cabs reproduce`, drawn with `plotters` (SVG backend only: text is written
//! as `<text>` and laid out by the viewer, so no font crates are needed). One figure = a title,
//! one or more panels side by side, a legend column on the right and a note at the bottom.
//! Colours are the Okabe–Ito palette (safe for the common colour-vision deficiencies); CABS
//! is black and thicker, drawn first so that runs coinciding with it stay visible.

use crate::error::{CliError, CliResult};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use std::path::Path;

/// Okabe–Ito colours for the fixed batch sizes (yellow left out: too faint on white).
const PALETTE: [RGBColor; 6] = [
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(0, 114, 178),   // blue
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(213, 94, 0),    // vermillion
];

/// How one run is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Style {
    pub colour: RGBColor,
    pub width: u32,
    /// Dash and gap lengths in pixels; None: solid.
    pub dash: Option<(u32, u32)>,
    /// Drawing order: higher on top. CABS goes first, so that where a coloured run coincides
    /// with it the thick black line still shows on both sides of the thin one.
    pub z: u8,
}

impl Style {
    /// The main CABS run.
    pub fn cabs() -> Style {
        Style { colour: RGBColor(0, 0, 0), width: 4, dash: None, z: 0 }
    }

    /// CABS at another α (sensitivity runs): grey, dashed; `rank` varies the pattern.
    pub fn cabs_other(rank: usize) -> Style {
        let dash = [(2, 3), (10, 4), (6, 3), (14, 3)][rank % 4];
        let grey = [90, 130, 60, 150][rank % 4];
        Style { colour: RGBColor(grey, grey, grey), width: 2, dash: Some(dash), z: 1 }
    }

    /// A fixed batch size (`index` into the sorted `--batches`), dashed when α decays.
    pub fn fixed(index: usize, decay: bool) -> Style {
        Style { colour: PALETTE[index % PALETTE.len()], width: 2, dash: decay.then_some((8, 5)), z: 2 }
    }
}

pub struct Series {
    pub style: Style,
    pub points: Vec<(f64, f64)>,
    /// Draw a dot at every point (for sparse data such as evaluations).
    pub markers: bool,
    /// (x, low, high): a shaded band in the series' colour (the min–max over seeds); may be empty.
    pub band: Vec<(f64, f64, f64)>,
}

impl Series {
    /// A line without a band.
    pub fn line(style: Style, points: Vec<(f64, f64)>, markers: bool) -> Series {
        Series { style, points, markers, band: Vec::new() }
    }
}

pub struct Panel {
    pub x_label: String,
    pub y_label: String,
    pub x_log: bool,
    pub y_log: bool,
    pub series: Vec<Series>,
    /// Fixed y range; None: from the data.
    pub y_range: Option<(f64, f64)>,
    /// Ticks of a log axis at exactly these values (e.g. the α grid, powers of 2 for batch
    /// sizes); None: 1-2-5 steps. Linear axes always get automatic ticks.
    pub x_ticks: Option<Vec<f64>>,
    pub y_ticks: Option<Vec<f64>>,
}

pub struct LegendEntry {
    pub label: String,
    pub style: Style,
}

const LEGEND_W: u32 = 270;
const PANEL_W: u32 = 740;
const HEIGHT: u32 = 560;
const TITLE_H: u32 = 40;
const NOTE_LINE_H: u32 = 17;

fn fail(path: &Path) -> impl Fn(&dyn std::fmt::Display) -> CliError + '_ {
    move |e| CliError::Io(format!("cannot draw {}: {e}", path.display()))
}

/// Draw a figure and write it to `path` (SVG).
pub fn figure(path: &Path, title: &str, panels: &[Panel], legend: &[LegendEntry], note: &str) -> CliResult<()> {
    let f = fail(path);
    let note_lines = wrap(note, 150);
    let width = PANEL_W * panels.len().max(1) as u32 + LEGEND_W;
    let note_h = NOTE_LINE_H * note_lines.len() as u32 + 10;
    let root = SVGBackend::new(path, (width, HEIGHT + note_h)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| f(&e))?;
    let (top, rest) = root.split_vertically(TITLE_H);
    top.draw_text(title, &("sans-serif", 19).into_font().color(&BLACK), (14, 12)).map_err(|e| f(&e))?;
    let (body, bottom) = rest.split_vertically(HEIGHT - TITLE_H);
    let (plots, legend_area) = body.split_horizontally(width - LEGEND_W);
    let areas = plots.split_evenly((1, panels.len().max(1)));
    for (p, area) in panels.iter().zip(areas.iter()) {
        draw_panel(area, p).map_err(|e| f(&e))?;
    }
    let text = ("sans-serif", 14).into_font().color(&BLACK);
    for (k, e) in legend.iter().enumerate() {
        let y = 30 + 24 * k as i32;
        let style = ShapeStyle { color: e.style.colour.to_rgba(), filled: false, stroke_width: e.style.width };
        let pts = vec![(8, y), (46, y)];
        match e.style.dash {
            None => legend_area.draw(&PathElement::new(pts, style)),
            Some((d, g)) => legend_area.draw(&DashedPathElement::new(pts, d, g, style)),
        }
        .map_err(|e| f(&e))?;
        legend_area.draw_text(&e.label, &text, (54, y - 8)).map_err(|e| f(&e))?;
    }
    let small = ("sans-serif", 13).into_font().color(&RGBColor(60, 60, 60));
    for (k, line) in note_lines.iter().enumerate() {
        bottom.draw_text(line, &small, (14, 4 + (NOTE_LINE_H * k as u32) as i32)).map_err(|e| f(&e))?;
    }
    root.present().map_err(|e| f(&e))?;
    Ok(())
}

/// Greedy word wrap at `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn usable(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

/// The data range of one axis, padded; a log axis by factors, a linear one by 4 % of the span
/// (starting at 0 when the data start near it).
fn axis_range(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !(lo.is_finite() && hi.is_finite()) {
        return if log { (1.0, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        if hi <= lo * 1.0001 {
            return (lo / 2.0, hi * 2.0);
        }
        return (lo / 1.15, hi * 1.15);
    }
    if hi - lo <= hi.abs().max(1e-12) * 1e-6 {
        return (lo - 0.5 * lo.abs().max(1e-3), hi + 0.5 * hi.abs().max(1e-3));
    }
    let pad = 0.04 * (hi - lo);
    let lo = if lo >= 0.0 && lo < 0.3 * hi { 0.0 } else { lo - pad };
    (lo, hi + pad)
}

fn draw_panel(area: &DrawingArea<SVGBackend, Shift>, p: &Panel) -> Result<(), String> {
    let xs = p.series.iter().flat_map(|s| s.points.iter()).filter(|q| usable(q.0, p.x_log) && usable(q.1, p.y_log));
    // Given ticks widen the x range, so that an empty panel still shows them.
    let given = p.x_ticks.iter().flatten().copied().filter(|&v| usable(v, p.x_log));
    let (x0, x1) = axis_range(xs.clone().map(|q| q.0).chain(given), p.x_log);
    let (y0, y1) = p.y_range.unwrap_or_else(|| axis_range(xs.map(|q| q.1), p.y_log));
    let ticks = |given: &Option<Vec<f64>>, lo: f64, hi: f64| match given {
        Some(t) => t.iter().copied().filter(|v| (lo..=hi).contains(v)).collect(),
        None => log_ticks(lo, hi),
    };
    let (xt, yt) = (ticks(&p.x_ticks, x0, x1), ticks(&p.y_ticks, y0, y1));
    match (p.x_log, p.y_log) {
        (false, false) => draw_in(area, p, x0..x1, y0..y1),
        (true, false) => draw_in(area, p, (x0..x1).log_scale().with_key_points(xt), y0..y1),
        (false, true) => draw_in(area, p, x0..x1, (y0..y1).log_scale().with_key_points(yt)),
        (true, true) => draw_in(area, p, (x0..x1).log_scale().with_key_points(xt), (y0..y1).log_scale().with_key_points(yt)),
    }
}

fn draw_in<X, Y>(area: &DrawingArea<SVGBackend, Shift>, p: &Panel, x: X, y: Y) -> Result<(), String>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .margin_right(20)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc(p.x_label.as_str())
        .y_desc(p.y_label.as_str())
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .x_labels(8)
        .y_labels(8)
        .max_light_lines(1)
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(RGBColor(245, 245, 245))
        .axis_desc_style(("sans-serif", 15))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|x| e(&x))?;
    let mut order: Vec<&Series> = p.series.iter().collect();
    order.sort_by_key(|s| s.style.z);
    // Bands first, under every line: the outline of low then high, filled faintly.
    for s in &order {
        let band: Vec<(f64, f64, f64)> =
            s.band.iter().copied().filter(|b| usable(b.0, p.x_log) && usable(b.1, p.y_log) && usable(b.2, p.y_log)).collect();
        if band.len() >= 2 {
            let outline: Vec<(f64, f64)> = band.iter().map(|b| (b.0, b.1)).chain(band.iter().rev().map(|b| (b.0, b.2))).collect();
            chart.draw_series(std::iter::once(Polygon::new(outline, s.style.colour.mix(0.18).filled()))).map_err(|x| e(&x))?;
        }
    }
    let mut any = false;
    for s in order {
        let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|q| usable(q.0, p.x_log) && usable(q.1, p.y_log)).collect();
        any |= !pts.is_empty();
        let style = ShapeStyle { color: s.style.colour.to_rgba(), filled: false, stroke_width: s.style.width };
        match s.style.dash {
            None => chart.draw_series(LineSeries::new(pts.clone(), style)).map(|_| ()),
            Some((d, g)) => chart.draw_series(DashedLineSeries::new(pts.clone(), d, g, style)).map(|_| ()),
        }
        .map_err(|x| e(&x))?;
        if s.markers {
            let r = if s.style.width >= 4 { 5 } else { 3 };
            chart.draw_series(pts.iter().map(|&q| Circle::new(q, r, s.style.colour.filled()))).map_err(|x| e(&x))?;
        }
    }
    if !any {
        let (w, h) = area.dim_in_pixel();
        area.draw_text(
            "no data (this part was not run, or no run reached it)",
            &("sans-serif", 15).into_font().color(&RGBColor(120, 120, 120)),
            (w as i32 / 2 - 180, h as i32 / 2),
        )
        .map_err(|x| e(&x))?;
    }
    Ok(())
}

/// Ticks for a log axis over [lo, hi]: 1-2-5 steps, or whole decades when that gives more
/// than a dozen, or 1…9 steps when 1-2-5 gives fewer than three.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return Vec::new();
    }
    let at = |mults: &[f64]| -> Vec<f64> {
        let mut v = Vec::new();
        for k in lo.log10().floor() as i32..=hi.log10().ceil() as i32 {
            for m in mults {
                // Through a decimal string, so that 0.1·2 prints as 0.2, not 0.20000000000000004.
                let t: f64 = format!("{m}e{k}").parse().unwrap_or(0.0);
                if (lo..=hi).contains(&t) {
                    v.push(t);
                }
            }
        }
        v
    };
    let v = at(&[1.0, 2.0, 5.0]);
    if v.len() > 12 {
        at(&[1.0])
    } else if v.len() < 3 {
        at(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    } else {
        v
    }
}

/// Tick labels: 200k, 1.5M, 0.05, 2e-4.
pub fn tick(v: f64) -> String {
    fn trim(s: String) -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 0.01 {
        trim(format!("{v:.3}"))
    } else {
        format!("{v:.0e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_wrapping() {
        assert_eq!(tick(200_000.0), "200k");
        assert_eq!(tick(12_500.0), "12.5k");
        assert_eq!(tick(1_500_000.0), "1.5M");
        assert_eq!(tick(256.0), "256");
        assert_eq!(tick(0.05), "0.05");
        assert_eq!(tick(0.9), "0.9");
        assert_eq!(tick(0.0002), "2e-4");
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(log_ticks(0.03, 1.5), vec![0.05, 0.1, 0.2, 0.5, 1.0]);
        assert_eq!(log_ticks(1e-5, 1e5).len(), 11);
        assert_eq!(log_ticks(2.5, 4.5), vec![3.0, 4.0]);
        assert!(log_ticks(0.0, 1.0).is_empty());
        assert_eq!(axis_range([1.0, 10.0].into_iter(), false), (0.0, 10.36));
        assert_eq!(axis_range(std::iter::empty(), true), (1.0, 10.0));
    }
}
