//! The subscription page's charts: inline SVG drawn on the server from the hourly figures.
//!
//! A chart is geometry only: every shape and label carries a class of the console's stylesheet for
//! its colours and type (the CSP lets in no inline style and no script), and the SVG has its own
//! `<title>` and `<desc>`; each column has a `<title>` too (the browser's tooltip). The template is
//! `templates/console/chart.html`; the page's hourly table is the charts' full text equivalent.

use absync_application::HourFigures;
use chrono::{DateTime, Timelike, Utc};
use std::fmt;

/// The drawing's width, in SVG units: the chart scales to the page's width.
const WIDTH: f64 = 760.0;
/// Room on the left for the scale's labels.
const LEFT: f64 = 56.0;
/// Room on the right.
const RIGHT: f64 = 10.0;
/// Room above the plot.
const TOP: f64 = 14.0;
/// Room below the plot for the hours' labels.
const BOTTOM: f64 = 30.0;
/// The plot's height in the attempts chart.
const ATTEMPTS_HEIGHT: f64 = 170.0;
/// The plot's height in the latency strip.
const LATENCY_HEIGHT: f64 = 100.0;

/// A coordinate, written with one decimal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Num(f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

/// A rectangle, styled by its class.
#[derive(Debug, Clone)]
pub(crate) struct Rect {
    pub(crate) class: &'static str,
    pub(crate) x: Num,
    pub(crate) y: Num,
    pub(crate) width: Num,
    pub(crate) height: Num,
}

/// One hour of a chart: its shapes and what its tooltip says.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) title: String,
    /// The whole slot, under the shapes: where the tooltip shows.
    pub(crate) slot: Rect,
    pub(crate) rects: Vec<Rect>,
}

/// A horizontal line of the scale, with its value on the left.
#[derive(Debug, Clone)]
pub(crate) struct GridLine {
    pub(crate) y: Num,
    pub(crate) label: String,
}

/// A label under the plot (an hour or a day), and its mark on the axis.
#[derive(Debug, Clone)]
pub(crate) struct Tick {
    pub(crate) x: Num,
    /// Where its mark starts: the baseline for an hour, the plot's top for a day (a separator).
    pub(crate) mark_top: Num,
    pub(crate) label: String,
    /// `x` for an hour's label (centred on its mark), `x day` for a day's (starting at it).
    pub(crate) class: &'static str,
}

/// An SVG chart over hours.
#[derive(Debug, Clone)]
pub(crate) struct Chart {
    /// The element id; the title's and description's ids derive from it.
    pub(crate) id: &'static str,
    pub(crate) title: String,
    pub(crate) desc: String,
    pub(crate) height: Num,
    pub(crate) grid: Vec<GridLine>,
    pub(crate) ticks: Vec<Tick>,
    pub(crate) columns: Vec<Column>,
    /// Where the plot starts and ends, left to right.
    pub(crate) left: Num,
    pub(crate) right: Num,
    pub(crate) label_x: Num,
    /// Where the hours' marks end, below the baseline.
    pub(crate) mark_end: Num,
    pub(crate) tick_y: Num,
}

impl Chart {
    /// The `viewBox` attribute.
    pub(crate) fn view_box(&self) -> String {
        format!("0 0 {WIDTH} {}", self.height)
    }
}

/// How a chart names its hours: by the time alone over a day, with the date over a week.
fn hour_name(start: DateTime<Utc>, week: bool) -> String {
    if week {
        start.format("%a %m-%d %H:00").to_string()
    } else {
        start.format("%H:00").to_string()
    }
}

/// The smallest of 1, 2, 5, 10, 20, 50… that is at least `max` (and at least 1).
fn nice_ceiling(max: u64) -> u64 {
    let mut step = 1_u64;
    loop {
        for factor in [1, 2, 5] {
            let nice = step.saturating_mul(factor);
            if nice >= max {
                return nice;
            }
        }
        step = step.saturating_mul(10);
    }
}

#[allow(clippy::cast_precision_loss)] // counts and milliseconds far below 2^52
fn f(n: u64) -> f64 {
    n as f64
}

/// The frame every chart shares: its scale lines, its hours' labels and the columns' slots.
struct Frame {
    hours: usize,
    week: bool,
    plot_height: f64,
    top_value: u64,
}

impl Frame {
    fn slot(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // at most 168 hours
        let hours = self.hours.max(1) as f64;
        (WIDTH - LEFT - RIGHT) / hours
    }

    fn baseline(&self) -> f64 {
        TOP + self.plot_height
    }

    fn x(&self, hour: usize) -> f64 {
        #[allow(clippy::cast_precision_loss)] // at most 168 hours
        let hour = hour as f64;
        LEFT + hour * self.slot()
    }

    /// The height drawn for `value` on the scale.
    fn height(&self, value: u64) -> f64 {
        f(value) * self.plot_height / f(self.top_value.max(1))
    }

    /// The bar's width and its offset in its slot.
    fn bar(&self, share: f64) -> (f64, f64) {
        let width = self.slot() * share;
        (width, (self.slot() - width) / 2.0)
    }

    fn grid(&self) -> Vec<GridLine> {
        let mut lines = vec![
            GridLine {
                y: Num(self.baseline()),
                label: "0".to_owned(),
            },
            GridLine {
                y: Num(TOP),
                label: self.top_value.to_string(),
            },
        ];
        // The middle line, labelled when its value is whole (not at 1, 5, 50…).
        if self.top_value >= 2 {
            let half = self.top_value / 2;
            lines.push(GridLine {
                y: Num(TOP + self.plot_height / 2.0),
                label: if half * 2 == self.top_value {
                    half.to_string()
                } else {
                    String::new()
                },
            });
        }
        lines
    }

    /// Over a day, every sixth hour at its start; over a week, every midnight.
    fn ticks(&self, hours: &[HourFigures]) -> Vec<Tick> {
        hours
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let hour = h.start.hour();
                if self.week {
                    (hour == 0).then(|| Tick {
                        x: Num(self.x(i)),
                        mark_top: Num(TOP),
                        label: h.start.format("%a %m-%d").to_string(),
                        class: "x day",
                    })
                } else {
                    (hour % 6 == 0).then(|| Tick {
                        x: Num(self.x(i)),
                        mark_top: Num(self.baseline()),
                        label: h.start.format("%H:00").to_string(),
                        class: "x",
                    })
                }
            })
            .collect()
    }

    fn slot_rect(&self, i: usize) -> Rect {
        Rect {
            class: "hit",
            x: Num(self.x(i)),
            y: Num(TOP),
            width: Num(self.slot()),
            height: Num(self.plot_height),
        }
    }

    fn chart(
        &self,
        id: &'static str,
        title: String,
        desc: String,
        hours: &[HourFigures],
        columns: Vec<Column>,
    ) -> Chart {
        Chart {
            id,
            title,
            desc,
            height: Num(self.baseline() + BOTTOM),
            grid: self.grid(),
            ticks: self.ticks(hours),
            columns,
            left: Num(LEFT),
            right: Num(WIDTH - RIGHT),
            label_x: Num(LEFT - 6.0),
            mark_end: Num(self.baseline() + 6.0),
            tick_y: Num(self.baseline() + 22.0),
        }
    }
}

/// What the charts' titles call the period.
fn period(week: bool) -> &'static str {
    if week { "last 7 days" } else { "last 24 hours" }
}

/// Attempts per hour, succeeded and failed stacked, over `hours` (oldest first, the last is the
/// current hour).
pub(crate) fn attempts(hours: &[HourFigures], week: bool) -> Chart {
    let busiest = hours.iter().max_by_key(|h| (h.attempts(), h.start));
    let frame = Frame {
        hours: hours.len(),
        week,
        plot_height: ATTEMPTS_HEIGHT,
        top_value: nice_ceiling(busiest.map_or(0, HourFigures::attempts)),
    };
    let (width, offset) = frame.bar(if week { 0.8 } else { 0.7 });
    let columns = hours
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let ok = frame.height(h.succeeded);
            let bad = frame.height(h.failed);
            let x = Num(frame.x(i) + offset);
            let mut rects = Vec::new();
            if h.succeeded > 0 {
                rects.push(Rect {
                    class: "ok",
                    x,
                    y: Num(frame.baseline() - ok),
                    width: Num(width),
                    height: Num(ok),
                });
            }
            if h.failed > 0 {
                rects.push(Rect {
                    class: "bad",
                    x,
                    y: Num(frame.baseline() - ok - bad),
                    width: Num(width),
                    height: Num(bad),
                });
            }
            Column {
                title: format!(
                    "{} UTC: {} succeeded, {} failed",
                    hour_name(h.start, week),
                    h.succeeded,
                    h.failed
                ),
                slot: frame.slot_rect(i),
                rects,
            }
        })
        .collect();
    let succeeded: u64 = hours.iter().map(|h| h.succeeded).sum();
    let failed: u64 = hours.iter().map(|h| h.failed).sum();
    let mut desc = format!("{succeeded} succeeded and {failed} failed in all");
    if let Some(busiest) = busiest.filter(|h| h.attempts() > 0) {
        desc.push_str(&format!(
            "; the busiest hour, {} UTC, had {}",
            hour_name(busiest.start, week),
            busiest.attempts()
        ));
    }
    desc.push('.');
    if let Some(current) = hours.last() {
        desc.push_str(&format!(
            " Current hour ({} UTC): {} succeeded, {} failed.",
            current.start.format("%H:00"),
            current.succeeded,
            current.failed
        ));
    }
    frame.chart(
        "attempts-chart",
        format!("Attempts per hour, {}: succeeded and failed", period(week)),
        desc,
        hours,
        columns,
    )
}

/// The latency strip: each hour's p99 as a pale bar with its p50 inside it.
pub(crate) fn latency(hours: &[HourFigures], week: bool) -> Chart {
    let slowest = hours.iter().filter_map(|h| h.p99_ms).max();
    let frame = Frame {
        hours: hours.len(),
        week,
        plot_height: LATENCY_HEIGHT,
        top_value: nice_ceiling(u64::from(slowest.unwrap_or(0))),
    };
    let (p99_width, p99_offset) = frame.bar(if week { 0.8 } else { 0.7 });
    let (p50_width, p50_offset) = frame.bar(if week { 0.8 } else { 0.4 });
    let columns = hours
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut rects = Vec::new();
            for (ms, class, width, offset) in [
                (h.p99_ms, "p99", p99_width, p99_offset),
                (h.p50_ms, "p50", p50_width, p50_offset),
            ] {
                if let Some(ms) = ms {
                    // At least a sliver, so that an hour of fast answers is seen to have some.
                    let height = frame.height(u64::from(ms)).max(1.0);
                    rects.push(Rect {
                        class,
                        x: Num(frame.x(i) + offset),
                        y: Num(frame.baseline() - height),
                        width: Num(width),
                        height: Num(height),
                    });
                }
            }
            let title = match (h.p50_ms, h.p99_ms) {
                (Some(p50), Some(p99)) => format!(
                    "{} UTC: p50 {p50} ms, p99 {p99} ms",
                    hour_name(h.start, week)
                ),
                _ => format!("{} UTC: no attempts", hour_name(h.start, week)),
            };
            Column {
                title,
                slot: frame.slot_rect(i),
                rects,
            }
        })
        .collect();
    let mut desc = match slowest {
        Some(ms) => format!("The slowest hour's p99 was {ms} ms."),
        None => "No attempts in these hours.".to_owned(),
    };
    if let Some(current) = hours.last() {
        match (current.p50_ms, current.p99_ms) {
            (Some(p50), Some(p99)) => desc.push_str(&format!(
                " Current hour ({} UTC): p50 {p50} ms, p99 {p99} ms.",
                current.start.format("%H:00")
            )),
            _ => desc.push_str(" No attempts in the current hour."),
        }
    }
    frame.chart(
        "latency-chart",
        format!(
            "Attempt latency per hour, {}: median (p50) and 99th percentile (p99)",
            period(week)
        ),
        desc,
        hours,
        columns,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn hours(figures: &[(u64, u64, Option<u32>)]) -> Vec<HourFigures> {
        let first = Utc.with_ymd_and_hms(2026, 12, 3, 0, 0, 0).unwrap();
        figures
            .iter()
            .enumerate()
            .map(|(i, &(succeeded, failed, p))| HourFigures {
                start: first + Duration::hours(i64::try_from(i).unwrap()),
                succeeded,
                failed,
                p50_ms: p,
                p99_ms: p.map(|p| p * 3),
            })
            .collect()
    }

    #[test]
    fn the_scale_rounds_up_to_one_two_or_five() {
        let scale: Vec<u64> = [0, 1, 2, 3, 6, 15, 20, 21, 499, 501]
            .into_iter()
            .map(nice_ceiling)
            .collect();
        assert_eq!(scale, [1, 1, 2, 5, 10, 20, 20, 50, 500, 1000]);
    }

    #[test]
    fn succeeded_and_failed_are_stacked_on_the_baseline() {
        let mut figures = vec![(0, 0, None); 23];
        figures.push((12, 3, Some(4)));
        let chart = attempts(&hours(&figures), false);
        assert_eq!(chart.columns.len(), 24);
        let current = chart.columns.last().unwrap();
        assert_eq!(current.title, "23:00 UTC: 12 succeeded, 3 failed");
        let [ok, bad] = current.rects.as_slice() else {
            panic!("two bars: {:?}", current.rects)
        };
        let baseline = TOP + ATTEMPTS_HEIGHT;
        // A scale of 20: 12 is 60 % of the plot, 3 is 15 %.
        assert_eq!((ok.class, bad.class), ("ok", "bad"));
        assert!((ok.height.0 - ATTEMPTS_HEIGHT * 0.6).abs() < 1e-9);
        assert!((ok.y.0 + ok.height.0 - baseline).abs() < 1e-9);
        assert!((bad.height.0 - ATTEMPTS_HEIGHT * 0.15).abs() < 1e-9);
        assert!((bad.y.0 + bad.height.0 - ok.y.0).abs() < 1e-9);
        assert!(chart.columns[0].rects.is_empty());
        assert!(
            chart
                .desc
                .ends_with("Current hour (23:00 UTC): 12 succeeded, 3 failed."),
            "{}",
            chart.desc
        );
        let labels: Vec<&str> = chart.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["00:00", "06:00", "12:00", "18:00"]);
        assert!(chart.grid.iter().any(|g| g.label == "20"));
    }

    #[test]
    fn a_week_is_labelled_by_day_and_its_latency_scaled_to_the_slowest_hour() {
        let mut figures = vec![(0, 0, None); 168];
        figures[30] = (1, 0, Some(40));
        let week = hours(&figures);
        let chart = attempts(&week, true);
        assert_eq!(chart.ticks.len(), 7);
        assert_eq!(chart.ticks[1].label, "Fri 12-04");
        let strip = latency(&week, true);
        assert!(
            strip.grid.iter().any(|g| g.label == "200"),
            "{:?}",
            strip.grid
        );
        let [p99, p50] = strip.columns[30].rects.as_slice() else {
            panic!("two bars")
        };
        assert!((p99.height.0 - LATENCY_HEIGHT * 120.0 / 200.0).abs() < 1e-9);
        assert!((p50.height.0 - LATENCY_HEIGHT * 40.0 / 200.0).abs() < 1e-9);
        assert!(strip.desc.contains("No attempts in the current hour"));
    }
}
