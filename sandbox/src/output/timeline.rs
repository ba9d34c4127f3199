//! `timeline.svg`: the run as a sequence diagram. One lane each for the
//! caller, the platform, the runtime and every extension; Init, each Invoke
//! and Shutdown as bands; events, answers and `next` calls as arrows; the
//! freeze, the thaw and failures as marks.
//!
//! Time runs down the page. A gap of `dt` milliseconds between two marks
//! takes 16 px plus 36 px per decade (`log10(1 + dt)`), so that a response
//! sent 1 ms after its event and a second of extension work are both
//! visible; the left column gives each mark's real time.
//!
//! Plain text templating: the picture is a few kinds of elements, and
//! writing them out keeps them readable (and one per line, which the
//! README check compares).

use std::fmt::Write;

use crate::streams::timeline::{Entry, Lane, Mark, Phase};

const LEFT: f64 = 96.0;
const LANE_WIDTH: f64 = 150.0;
const TOP: f64 = 48.0;

pub fn svg(entries: &[Entry], left_out: usize) -> String {
    let mut entries = entries.to_vec();
    entries.sort_by_key(|e| e.at);
    let lanes = lanes(&entries);
    let x = |lane: &Lane| {
        let at = lanes.iter().position(|l| l == lane).unwrap_or(0) as f64;
        LEFT + LANE_WIDTH * at + LANE_WIDTH / 2.0
    };
    // Each mark's height on the page.
    let mut ys = Vec::with_capacity(entries.len());
    let mut y = TOP + 28.0;
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            let dt_ms = (entry.at - entries[i - 1].at)
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0;
            y += 16.0 + 36.0 * (1.0 + dt_ms.max(0.0)).log10();
        }
        ys.push(y);
    }
    let bottom = y + 28.0;
    let width = LEFT + LANE_WIDTH * lanes.len() as f64 + 16.0;
    let height = bottom + 28.0;

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    out.push_str(concat!(
        r##"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>"##,
        "\n"
    ));
    let _ = writeln!(
        out,
        r#"<rect x="0" y="0" width="{width:.0}" height="{height:.0}" fill="white"/>"#
    );

    // The phases first, under everything else: every band, then every
    // band's title, so that overlapping invocations keep their titles.
    let mut open: Vec<(Phase, String, f64)> = Vec::new();
    let mut bands: Vec<(Phase, String, f64, f64)> = Vec::new();
    for (entry, &y) in entries.iter().zip(&ys) {
        let closed = match &entry.mark {
            Mark::Begin { phase, label } => {
                open.push((*phase, label.clone(), y));
                None
            }
            Mark::End { phase } => open.iter().rposition(|(p, _, _)| p == phase),
            Mark::EndOf { phase, label } => {
                open.iter().position(|(p, l, _)| p == phase && l == label)
            }
            _ => None,
        };
        if let Some(at) = closed {
            let (phase, label, from) = open.remove(at);
            bands.push((phase, label, from, y));
        }
    }
    // A phase the run never closed ends at the last mark.
    bands.extend(
        open.into_iter()
            .map(|(phase, label, from)| (phase, label, from, y)),
    );
    for (phase, _, from, to) in &bands {
        let fill = match phase {
            Phase::Init => "#dbe8fb",
            Phase::Invoke => "#dcf0e0",
            Phase::Restore => "#ece0f6",
            Phase::Shutdown => "#f8dedb",
        };
        let _ = writeln!(
            out,
            r#"<rect class="band {}" x="{LEFT:.0}" y="{:.1}" width="{:.0}" height="{:.1}" fill="{fill}"/>"#,
            phase.name(),
            from - 10.0,
            width - LEFT - 8.0,
            to - from + 20.0
        );
    }
    for (phase, label, from, _) in &bands {
        let title = match phase {
            Phase::Invoke => format!("Invoke {}", short(label)),
            Phase::Init | Phase::Restore | Phase::Shutdown => label.clone(),
        };
        let _ = writeln!(
            out,
            r#"<text x="{:.0}" y="{:.1}" font-weight="bold">{}</text>"#,
            LEFT + 4.0,
            from + 2.0,
            escape(&title)
        );
    }

    // The lanes and their names.
    for lane in &lanes {
        let lx = x(lane);
        let _ = writeln!(
            out,
            r##"<line class="lane" x1="{lx:.0}" y1="{TOP:.0}" x2="{lx:.0}" y2="{bottom:.0}" stroke="#999" stroke-dasharray="4 3"/>"##
        );
        let _ = writeln!(
            out,
            r#"<text x="{lx:.0}" y="{:.0}" text-anchor="middle" font-weight="bold" font-size="12">{}</text>"#,
            TOP - 12.0,
            escape(lane.name())
        );
    }

    // The marks, with their time on the left.
    let start = entries.first().map(|e| e.at);
    let mut last_time = String::new();
    let last_lane = lanes.last().map(&x).unwrap_or(LEFT);
    for (entry, &y) in entries.iter().zip(&ys) {
        if let Some(start) = start {
            let seconds = (entry.at - start).num_microseconds().unwrap_or(0) as f64 / 1e6;
            let time = format!("{seconds:.3} s");
            if time != last_time {
                let _ = writeln!(
                    out,
                    r##"<text class="time" x="{:.0}" y="{:.1}" text-anchor="end" fill="#555">{time}</text>"##,
                    LEFT - 8.0,
                    y + 4.0
                );
                last_time = time;
            }
        }
        match &entry.mark {
            Mark::Message { from, to, label } => {
                let (x1, x2) = (x(from), x(to));
                let _ = writeln!(
                    out,
                    r##"<line class="message" x1="{x1:.0}" y1="{y:.1}" x2="{x2:.0}" y2="{y:.1}" stroke="#333" marker-end="url(#arrow)"/>"##
                );
                let _ = writeln!(
                    out,
                    r#"<text x="{:.0}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    (x1 + x2) / 2.0,
                    y - 3.0,
                    escape(label)
                );
            }
            Mark::Freeze | Mark::Thaw => {
                let (text, dash) = if matches!(entry.mark, Mark::Freeze) {
                    ("frozen", "2 2")
                } else {
                    ("thawed", "6 2")
                };
                let _ = writeln!(
                    out,
                    r##"<line class="{text}" x1="{:.0}" y1="{y:.1}" x2="{last_lane:.0}" y2="{y:.1}" stroke="#4a7bd0" stroke-width="2" stroke-dasharray="{dash}"/>"##,
                    x(&Lane::Platform)
                );
                let _ = writeln!(
                    out,
                    r##"<text x="{:.0}" y="{:.1}" fill="#4a7bd0">{text}</text>"##,
                    last_lane + 6.0,
                    y + 4.0
                );
            }
            Mark::Failure { lane, label } => {
                let lx = x(lane);
                let _ = writeln!(
                    out,
                    r##"<circle class="failure" cx="{lx:.0}" cy="{y:.1}" r="5" fill="#c5221f"/>"##
                );
                let _ = writeln!(
                    out,
                    r##"<text x="{:.0}" y="{:.1}" fill="#c5221f">{}</text>"##,
                    lx + 8.0,
                    y + 4.0,
                    escape(label)
                );
            }
            Mark::Begin { .. } | Mark::End { .. } | Mark::EndOf { .. } => {}
        }
    }

    let invokes = entries
        .iter()
        .filter(|e| {
            matches!(
                e.mark,
                Mark::Begin {
                    phase: Phase::Invoke,
                    ..
                }
            )
        })
        .count();
    let mut summary = format!("{invokes} invocation(s), {} marks", entries.len());
    let at_once = most_invocations_at_once(&entries);
    if at_once > 1 {
        let _ = write!(summary, ", at most {at_once} invocations at once");
    }
    if left_out > 0 {
        let _ = write!(summary, "; {left_out} later marks left out");
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.0}" y="{:.0}" fill="#555">{}</text>"##,
        LEFT,
        bottom + 18.0,
        escape(&summary)
    );
    out.push_str("</svg>\n");
    out
}

/// The most Invoke phases open at the same time.
fn most_invocations_at_once(entries: &[Entry]) -> usize {
    let (mut open, mut most) = (0usize, 0usize);
    for entry in entries {
        match &entry.mark {
            Mark::Begin {
                phase: Phase::Invoke,
                ..
            } => {
                open += 1;
                most = most.max(open);
            }
            Mark::End {
                phase: Phase::Invoke,
            }
            | Mark::EndOf {
                phase: Phase::Invoke,
                ..
            } => open = open.saturating_sub(1),
            _ => {}
        }
    }
    most
}

/// The caller, the platform, the runtime, then each extension in the order
/// it first appears.
fn lanes(entries: &[Entry]) -> Vec<Lane> {
    let mut lanes = vec![Lane::Caller, Lane::Platform, Lane::Runtime];
    let mut add = |lane: &Lane| {
        if !lanes.contains(lane) {
            lanes.push(lane.clone());
        }
    };
    for entry in entries {
        match &entry.mark {
            Mark::Message { from, to, .. } => {
                add(from);
                add(to);
            }
            Mark::Failure { lane, .. } => add(lane),
            _ => {}
        }
    }
    lanes
}

/// The first group of a request id.
fn short(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
