//! `cargo bench --bench room -- sweep`: latency against load, for every server in one run.
//!
//! 100 clients send R messages a second each for [`STEP_SECONDS`], R stepping through
//! [`RATES`]; at each step every server runs in turn (the floor first, so each line carries its
//! ratios to the floor at the same load, moments apart). A server stops one step past its knee:
//!
//! **The knee** is the first step at which the server no longer keeps up, **and the next step
//! too** (or it is the last step): on a shared machine one step can be disturbed by a
//! neighbour, and a knee is where the server stays behind. A server does not keep up at a step
//! when
//!
//! - its median latency is more than [`KNEE_FACTOR`] times its own median at the lowest step
//!   (messages wait behind others: the median, because a neighbour's burst of work moves the
//!   p99 of a 2-second step on its own), or
//! - it delivered less than [`KNEE_PACE`] of the offered deliveries per second (it fell behind,
//!   or its full socket buffers held the sender back), or
//! - more than [`KNEE_LOSS`] of the deliveries offered did not arrive intact within [`DRAIN`]
//!   of the last send (dropped clients, spliced lines).
//!
//! Below its knee a server's latency is its own cost per message; past it, messages wait for
//! the ones before them.
//!
//! At the end: a table of every step (markdown, ready for a document), each server's knee, the
//! targets the poll engine is held to, and a chart of p99 latency against the offered deliveries
//! per second (both axes logarithmic, one line per server, each knee ringed), written to
//! `target/room-sweep.svg` with plotters' SVG backend.

use std::path::PathBuf;
use std::time::Duration;

use super::{Args, Load, Measured, Report, Target, Verdict, active, offered, support};

/// Messages per second each client sends, step by step: from a quiet class to past every
/// server's knee on a 2-core machine (the floor's is about 320, where one core is busy).
const RATES: [f64; 10] = [
    10.0, 20.0, 40.0, 80.0, 160.0, 240.0, 320.0, 480.0, 640.0, 960.0,
];
/// Clients in the room.
const CLIENTS: usize = 100;
/// How long each step sends.
const STEP_SECONDS: f64 = 2.0;
/// How long after a step's last send its deliveries may still arrive.
const DRAIN: Duration = Duration::from_secs(2);
/// The knee: a median latency above this many times the server's own at the lowest step …
pub const KNEE_FACTOR: f64 = 10.0;
/// … or fewer deliveries per second than this share of those offered …
pub const KNEE_PACE: f64 = 0.9;
/// … or more than this share of the offered deliveries lost.
pub const KNEE_LOSS: f64 = 0.01;

/// One server's steps.
struct Curve {
    target: Target,
    /// (messages per second per client, what was measured), in the order of [`RATES`].
    steps: Vec<(f64, Measured)>,
    /// Index into `steps` of the knee, once found.
    knee: Option<usize>,
    /// The server could not be started: no more steps.
    skipped: bool,
}

impl Curve {
    fn new(target: Target) -> Curve {
        Curve {
            target,
            steps: Vec::new(),
            knee: None,
            skipped: false,
        }
    }

    /// Whether this server needs no more steps: it did not start, or its knee was found (and so
    /// the step after it is in).
    fn done(&self) -> bool {
        self.skipped || self.knee.is_some()
    }

    /// Records a step; the knee is the first of two steps in a row past the threshold.
    fn push(&mut self, rate: f64, measured: Measured) {
        self.steps.push((rate, measured));
        let beyond = self.beyond();
        if self.knee.is_none() && beyond.len() >= 2 && beyond[beyond.len() - 2..] == [true, true] {
            self.knee = Some(self.steps.len() - 2);
        }
    }

    /// After the last step: a last step past the threshold is the knee, with no step to confirm
    /// it.
    fn finish(&mut self) {
        if self.knee.is_none() && self.beyond().last() == Some(&true) {
            self.knee = Some(self.steps.len() - 1);
        }
    }

    /// For each step, whether it is past the threshold.
    fn beyond(&self) -> Vec<bool> {
        let Some((_, lowest)) = self.steps.first() else {
            return Vec::new();
        };
        self.steps
            .iter()
            .map(|(_, step)| beyond_knee(lowest.p50_ms, step))
            .collect()
    }

    fn at(&self, rate: f64) -> Option<&Measured> {
        self.steps.iter().find(|(r, _)| *r == rate).map(|(_, m)| m)
    }

    /// The knee's rate per client, or infinity if none was reached.
    fn knee_rate(&self) -> f64 {
        self.knee.map_or(f64::INFINITY, |knee| self.steps[knee].0)
    }
}

/// Whether `step` does not keep up, for a server whose median latency at the lowest step was
/// `base_p50_ms`.
fn beyond_knee(base_p50_ms: f64, step: &Measured) -> bool {
    // A step where nothing arrived has no median (NaN): it lost everything.
    step.p50_ms.is_nan()
        || step.p50_ms > KNEE_FACTOR * base_p50_ms
        || step.delivered_per_s < KNEE_PACE * step.offered_per_s
        || step.lost_share() > KNEE_LOSS
}

/// Runs the sweep against `targets`; prints every step's line, then the table, the knees and
/// the chart's path; returns the targets' verdicts.
pub fn run(args: &Args, targets: &[Target]) -> Vec<Verdict> {
    let before = support::load_average().unwrap_or_default();
    let mut curves: Vec<Curve> = targets.iter().map(|&t| Curve::new(t)).collect();
    for rate in RATES {
        let name = format!("room/sweep-{rate}");
        let load = Load::Rate {
            per_second: rate,
            seconds: STEP_SECONDS,
        };
        let mut floor = None;
        for curve in curves.iter_mut().filter(|c| !c.done()) {
            match active(args, curve.target, &name, CLIENTS, load, floor, DRAIN) {
                Some(measured) => {
                    if curve.target == Target::Floor {
                        floor = Some(measured);
                    }
                    curve.push(rate, measured);
                }
                None => curve.skipped = true,
            }
        }
        if curves.iter().all(Curve::done) {
            break;
        }
    }
    for curve in &mut curves {
        curve.finish();
    }
    let after = support::load_average().unwrap_or_default();
    if !args.json {
        print_table(&curves);
    }
    for curve in curves.iter().filter(|c| !c.steps.is_empty()) {
        let knee = match curve.knee {
            Some(knee) => {
                let (rate, m) = &curve.steps[knee];
                format!(
                    "{rate} msg/s per client ({:.2} M deliveries/s offered, {:.2} M delivered): \
                     p50 {:.3} ms, p99 {:.3} ms, {:.1}% lost",
                    per_second(*rate) / 1e6,
                    m.delivered_per_s / 1e6,
                    m.p50_ms,
                    m.p99_ms,
                    m.lost_share() * 100.0
                )
            }
            None => format!(
                "none up to {} msg/s per client",
                curve.steps.last().unwrap().0
            ),
        };
        if args.json {
            let mut report = Report::new("room/sweep-knee");
            report
                .text("server", curve.target.name())
                .text("knee", &knee);
            report.print(true);
        } else {
            println!("knee {:<8} {knee}", curve.target.name());
        }
    }
    let chart = chart_path();
    let caption = format!(
        "room: p99 latency against load, {CLIENTS} clients ({}; load {before} before, {after} after)",
        support::machine()
    );
    match draw(&curves, &chart, &caption) {
        Ok(()) if args.json => println!("{{\"chart\":\"{}\"}}", chart.display()),
        Ok(()) => println!("# chart: {}", chart.display()),
        Err(e) => eprintln!("the chart could not be drawn to {}: {e}", chart.display()),
    }
    if !args.json {
        println!("# load average before the sweep: {before}; after: {after}");
    }
    verdicts(&curves)
}

/// Offered deliveries per second at `rate` messages per second per client: each message goes
/// to the 99 others.
fn per_second(rate: f64) -> f64 {
    offered(
        Load::Rate {
            per_second: rate,
            seconds: STEP_SECONDS,
        },
        CLIENTS,
    )
}

/// Every step as a markdown table: one row per step and server, with its ratios to the floor
/// at the same step.
fn print_table(curves: &[Curve]) {
    println!();
    println!(
        "knee: the first of two steps in a row where p50 > {KNEE_FACTOR}x the server's p50 at {} \
         msg/s, or fewer than {}% of the offered deliveries per second, or more than {}% lost \
         (not arrived intact {} s after the last send)",
        RATES[0],
        KNEE_PACE * 100.0,
        KNEE_LOSS * 100.0,
        DRAIN.as_secs()
    );
    println!();
    println!(
        "| msg/s per client | deliveries/s offered | server | delivered | p50 ms | p99 ms | max ms \
         | CPU ns per delivery | lost | p99 × floor | CPU × floor |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let floor = curves.iter().find(|c| c.target == Target::Floor);
    for rate in RATES {
        for curve in curves {
            let Some(m) = curve.at(rate) else { continue };
            let knee = curve.knee.is_some_and(|k| curve.steps[k].0 == rate);
            let (p99_x, cpu_x) = match floor.and_then(|f| f.at(rate)) {
                Some(f) if curve.target != Target::Floor => (
                    format!("{:.2}", m.p99_ms / f.p99_ms),
                    format!("{:.2}", m.cpu_ns / f.cpu_ns),
                ),
                _ => ("".to_string(), "".to_string()),
            };
            println!(
                "| {rate} | {:.2} M | {}{} | {:.2} M | {:.3} | {:.3} | {:.3} | {:.0} | {:.2}% | \
                 {p99_x} | {cpu_x} |",
                per_second(rate) / 1e6,
                curve.target.name(),
                if knee { " (knee)" } else { "" },
                m.delivered_per_s / 1e6,
                m.p50_ms,
                m.p99_ms,
                m.max_ms,
                m.cpu_ns,
                m.lost_share() * 100.0,
            );
        }
    }
    println!();
}

/// The poll engine's targets in this sweep: p99 within 1.3× the floor's at every step below the
/// floor's knee, CPU per delivery within 1.2× the floor's at the lowest step (the `rate`
/// scenario's load), and a knee no lower than the floor's.
fn verdicts(curves: &[Curve]) -> Vec<Verdict> {
    let find = |target| {
        curves
            .iter()
            .find(|c| c.target == target && !c.steps.is_empty())
    };
    let (Some(floor), Some(poll)) = (find(Target::Floor), find(Target::Poll)) else {
        return Vec::new();
    };
    let mut verdicts = Vec::new();
    // The worst p99 ratio below the floor's knee.
    let worst = poll
        .steps
        .iter()
        .filter(|(rate, _)| *rate < floor.knee_rate())
        .filter_map(|(rate, m)| floor.at(*rate).map(|f| (*rate, m.p99_ms / f.p99_ms)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    if let Some((rate, ratio)) = worst {
        verdicts.push(Verdict {
            what: "poll p99 at every sweep step below the floor's knee, to the floor's".into(),
            ratio,
            limit: 1.3,
            at: Some(format!("worst at {rate} msg/s per client")),
        });
    }
    if let (Some((rate, p)), Some((_, f))) = (poll.steps.first(), floor.steps.first()) {
        verdicts.push(Verdict {
            what: "poll CPU per delivery at the sweep's lowest step, to the floor's".into(),
            ratio: p.cpu_ns / f.cpu_ns,
            limit: 1.2,
            at: Some(format!("{rate} msg/s per client, the rate scenario's load")),
        });
    }
    // As a ratio that must stay ≤ 1: the floor's knee over poll's (infinite: no knee reached).
    let (floor_knee, poll_knee) = (floor.knee_rate(), poll.knee_rate());
    verdicts.push(Verdict {
        what: "the floor's knee, to poll's (poll's knee at least the floor's)".into(),
        ratio: if floor_knee.is_infinite() && poll_knee.is_infinite() {
            1.0
        } else {
            floor_knee / poll_knee
        },
        limit: 1.0,
        at: Some(format!(
            "knees at {} and {} msg/s per client",
            show_rate(floor_knee),
            show_rate(poll_knee)
        )),
    });
    verdicts
}

fn show_rate(rate: f64) -> String {
    if rate.is_finite() {
        format!("{rate}")
    } else {
        format!("none up to {}", RATES[RATES.len() - 1])
    }
}

/// `target/room-sweep.svg`, in cargo's target directory (`CARGO_TARGET_DIR` if set; cargo runs a
/// bench from the package's root).
fn chart_path() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), PathBuf::from);
    target.join("room-sweep.svg")
}

/// Each server's colour on the chart.
fn colour(target: Target) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    match target {
        Target::Floor => RGBColor(0, 0, 0),
        Target::Poll => RGBColor(31, 119, 180),
        Target::Threads => RGBColor(214, 39, 40),
        Target::Ncat => RGBColor(44, 160, 44),
    }
}

/// The chart: p99 latency against offered deliveries per second, both axes logarithmic, one line
/// per server, its knee ringed and labelled.
fn draw(
    curves: &[Curve],
    path: &std::path::Path,
    caption: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;

    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let points: Vec<(f64, f64)> = curves
        .iter()
        .flat_map(|c| {
            c.steps
                .iter()
                .map(|(rate, m)| (per_second(*rate), m.p99_ms))
        })
        .filter(|(_, p99)| p99.is_finite() && *p99 > 0.0)
        .collect();
    if points.is_empty() {
        return Err("no step delivered anything".into());
    }
    let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, 0.0f64, f64::MAX, 0.0f64);
    for &(x, y) in &points {
        (x_min, x_max) = (x_min.min(x), x_max.max(x));
        (y_min, y_max) = (y_min.min(y), y_max.max(y));
    }
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 15))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (x_min / 1.5..x_max * 1.5).log_scale(),
            (y_min / 1.5..y_max * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("offered deliveries per second (each message goes to the 99 other clients)")
        .y_desc("p99 latency (ms)")
        .x_label_formatter(&|x| {
            if *x >= 1e6 {
                format!("{}M", x / 1e6)
            } else {
                format!("{}k", x / 1e3)
            }
        })
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    for curve in curves.iter().filter(|c| !c.steps.is_empty()) {
        let colour = colour(curve.target);
        let series: Vec<(f64, f64)> = curve
            .steps
            .iter()
            .map(|(rate, m)| (per_second(*rate), m.p99_ms))
            .filter(|(_, p99)| p99.is_finite() && *p99 > 0.0)
            .collect();
        chart
            .draw_series(LineSeries::new(series.clone(), colour.stroke_width(2)))?
            .label(curve.target.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart.draw_series(
            series
                .iter()
                .map(|&point| Circle::new(point, 3, colour.filled())),
        )?;
        if let Some(knee) = curve.knee {
            let (rate, m) = curve.steps[knee];
            if m.p99_ms.is_finite() {
                let label = format!("{} knee", curve.target.name());
                chart.draw_series(std::iter::once(
                    EmptyElement::at((per_second(rate), m.p99_ms))
                        + Circle::new((0, 0), 9, colour.stroke_width(2))
                        + Text::new(
                            label,
                            (-30, -24),
                            ("sans-serif", 13).into_font().color(&colour),
                        ),
                ))?;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
