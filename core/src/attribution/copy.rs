//! The KV copy of an exposure history.
//!
//! A history shard (`src/store/histories.rs`) owns each unit's full history and writes KV's copy
//! of it. The copy must answer the first-variation question exactly for every conversion time a
//! reader can ask about — up to [`READ_HORIZON_MS`] ahead of now — but it need not be rewritten
//! for an exposure that changes no such answer. The common case is a unit exposed again to the
//! variation it already has: that changes answers only once its earlier exposure leaves the
//! 90-day window, so its write waits until then instead of happening on every page view.

use super::{ExposureHistory, WINDOW_MS};
use crate::event::MAX_FUTURE_SKEW_MS;

/// How far ahead of now the copy must be exact: events are accepted up to
/// [`MAX_FUTURE_SKEW_MS`] ahead, plus an hour for a deferred write that runs late.
pub const READ_HORIZON_MS: i64 = MAX_FUTURE_SKEW_MS + 60 * 60 * 1000;

/// KV takes one write per second per key.
pub const MIN_WRITE_INTERVAL_MS: i64 = 1000;

/// The earliest conversion time at which `a` and `b` attribute differently (the variation or the
/// exposure it comes from), or `None` when they always agree.
///
/// Both answers are step functions of `t`: the set of exposures in `[t - W, t]` changes only when
/// `t` reaches an exposure's time (it enters) or its time + W + 1 (it leaves). So it is enough
/// to compare the two at those points, in order.
pub fn first_divergence(a: &ExposureHistory, b: &ExposureHistory) -> Option<i64> {
    let mut steps: Vec<i64> = a
        .points()
        .chain(b.points())
        .flat_map(|e| [e.at, e.at.saturating_add(WINDOW_MS + 1)])
        .collect();
    steps.sort_unstable();
    steps.dedup();
    steps
        .into_iter()
        .find(|&t| a.first_variation(t) != b.first_variation(t))
}

/// When the copy (`copy`, what KV holds) must next be written for `full`: `None` when it answers
/// like `full` at every time. Not before `last_write` + [`MIN_WRITE_INTERVAL_MS`].
pub fn write_due(
    full: &ExposureHistory,
    copy: &ExposureHistory,
    last_write: Option<i64>,
) -> Option<i64> {
    let due = first_divergence(full, copy)?.saturating_sub(READ_HORIZON_MS);
    Some(match last_write {
        Some(w) => due.max(w.saturating_add(MIN_WRITE_INTERVAL_MS)),
        None => due,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::Exposure;
    use proptest::prelude::*;

    const DAY: i64 = 24 * 60 * 60 * 1000;
    const T0: i64 = 1_700_000_000_000;

    fn history(points: &[(i64, u32)]) -> ExposureHistory {
        let mut h = ExposureHistory::new();
        for &(at, variation) in points {
            h.record(Exposure { at, variation });
        }
        h
    }

    #[test]
    fn a_repeat_exposure_matters_only_once_the_first_leaves_the_window() {
        let copy = history(&[(T0, 0)]);
        let full = history(&[(T0, 0), (T0 + 3 * DAY, 0)]);
        assert_eq!(first_divergence(&full, &copy), Some(T0 + WINDOW_MS + 1));
        assert_eq!(
            write_due(&full, &copy, Some(T0)),
            Some(T0 + WINDOW_MS + 1 - READ_HORIZON_MS)
        );
    }

    #[test]
    fn a_new_unit_an_earlier_exposure_or_a_switch_is_due_at_once() {
        let empty = ExposureHistory::new();
        let first = history(&[(T0, 1)]);
        assert_eq!(first_divergence(&first, &empty), Some(T0));
        let earlier = history(&[(T0 - DAY, 1), (T0, 1)]);
        assert_eq!(first_divergence(&earlier, &first), Some(T0 - DAY));
        // A switch 50 days later changes answers from day 90 on (as the first leaves).
        let switched = history(&[(T0, 1), (T0 + 50 * DAY, 0)]);
        assert_eq!(first_divergence(&switched, &first), Some(T0 + WINDOW_MS + 1));
        // A late exposure of another variation between two stored ones changes answers when
        // the first leaves the window, even though the variation at its own time is unchanged.
        let a = history(&[(T0, 0), (T0 + 10 * DAY, 0)]);
        let b = history(&[(T0, 0), (T0 + 7 * DAY, 1), (T0 + 10 * DAY, 0)]);
        assert_eq!(first_divergence(&a, &b), Some(T0 + WINDOW_MS + 1));
    }

    #[test]
    fn identical_histories_never_diverge_and_writes_keep_a_second_apart() {
        let h = history(&[(T0, 0), (T0 + DAY, 1)]);
        assert_eq!(first_divergence(&h, &h.clone()), None);
        assert_eq!(write_due(&h, &h.clone(), Some(T0)), None);
        let empty = ExposureHistory::new();
        assert_eq!(write_due(&h, &empty, Some(T0 + 5)), Some(T0 + 5 + MIN_WRITE_INTERVAL_MS));
    }

    fn points() -> impl Strategy<Value = Vec<(i64, u32)>> {
        // Days spread over two windows, with millisecond offsets that land on the edges.
        let at = (0i64..200, prop::sample::select(vec![0i64, 1, -1, DAY / 2]))
            .prop_map(|(day, ms)| T0 + day * DAY + ms);
        prop::collection::vec((at, 0u32..3), 0..8)
    }

    proptest! {
        /// The answer is the same at every time before the divergence, and differs at it.
        #[test]
        fn divergence_is_the_first_time_answers_differ(a in points(), b in points(),
                                                       probes in prop::collection::vec(0i64..300 * DAY, 40)) {
            let (a, b) = (history(&a), history(&b));
            let d = first_divergence(&a, &b);
            let edges = a.points().chain(b.points())
                .flat_map(|e| [e.at - 1, e.at, e.at + WINDOW_MS, e.at + WINDOW_MS + 1, e.at + WINDOW_MS + 2]);
            for t in edges.chain(probes.into_iter().map(|p| T0 - DAY + p)) {
                if d.is_none_or(|d| t < d) {
                    prop_assert_eq!(a.first_variation(t), b.first_variation(t), "t = {}", t);
                }
            }
            if let Some(d) = d {
                prop_assert_ne!(a.first_variation(d), b.first_variation(d));
            }
        }
    }
}
