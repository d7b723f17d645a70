//! Clocks and meters: CPU time of the current thread or of a process, resident memory of a
//! process, and percentiles.

use std::time::Duration;

/// CPU time the calling thread has used so far.
///
/// `/proc/thread-self/schedstat` gives nanoseconds on CPU; where the kernel lacks it,
/// `/proc/thread-self/stat` gives utime + stime in clock ticks (10 ms).
pub(crate) fn thread_cpu() -> Duration {
    if let Some(ns) = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
    {
        return Duration::from_nanos(ns);
    }
    stat_cpu("/proc/thread-self/stat").unwrap_or_default()
}

/// CPU time (user + system, all threads) process `pid` has used so far, in 10 ms ticks.
pub(crate) fn process_cpu(pid: u32) -> Duration {
    stat_cpu(&format!("/proc/{pid}/stat")).unwrap_or_default()
}

/// utime + stime from a `stat` file (fields 14 and 15, counted after the `(comm)`).
fn stat_cpu(path: &str) -> Option<Duration> {
    /// `sysconf(_SC_CLK_TCK)` on every Linux this runs on.
    const TICKS_PER_SEC: u64 = 100;
    let text = std::fs::read_to_string(path).ok()?;
    let after_comm = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // After "(comm) ", field 3 (state) is index 0, so utime (14) is index 11.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis(
        (utime + stime) * 1000 / TICKS_PER_SEC,
    ))
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rss {
    /// Resident set now (`VmRSS`), KiB.
    pub(crate) now_kib: u64,
    /// Peak resident set (`VmHWM`), KiB.
    pub(crate) peak_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of `pid`.
pub(crate) fn rss(pid: u32) -> Option<Rss> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Rss {
        now_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

/// The 1, 5 and 15 minute load averages (`/proc/loadavg`), as printed beside every figure:
/// the machine is shared, so a figure means little without it.
pub(crate) fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// KiB as MiB with one decimal.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The `q`-quantile (0..=1) of `sorted` (nearest rank).
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// p50 / p99 / p999 / max of a set of latencies.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Percentiles {
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) p999: Duration,
    pub(crate) max: Duration,
    pub(crate) samples: usize,
}

impl Percentiles {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self {
            p50: quantile(&samples, 0.50),
            p99: quantile(&samples, 0.99),
            p999: quantile(&samples, 0.999),
            max: samples.last().copied().unwrap_or_default(),
            samples: samples.len(),
        }
    }
}

/// A duration in microseconds with one decimal.
pub(crate) fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// Wall-clock nanoseconds since the Unix epoch (the simulator's stamp uses the same clock).
pub(crate) fn unix_nanos() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let v: Vec<Duration> = (1..=1000).map(Duration::from_micros).collect();
        let p = Percentiles::of(v);
        assert_eq!(p.p50, Duration::from_micros(500));
        assert_eq!(p.p99, Duration::from_micros(990));
        assert_eq!(p.p999, Duration::from_micros(999));
        assert_eq!(p.max, Duration::from_micros(1000));
    }

    #[test]
    fn this_process_has_a_resident_set_and_cpu_clocks_move() {
        let me = std::process::id();
        let r = rss(me).unwrap();
        assert!(r.now_kib > 0 && r.peak_kib >= r.now_kib);
        let before = thread_cpu();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu() > before);
    }
}
