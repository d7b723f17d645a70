//! Bot-loop protection (policy rule 6): two bots that answer each other are cut off.
//!
//! OpenClaw's shared pair-loop guard, as its Slack channel applies it (OpenClaw 2026.9.6,
//! `createPairLoopGuard` in `dist/pair-loop-guard-runtime-*.mjs`, defaults in
//! `DEFAULT_PAIR_LOOP_GUARD_CONFIG`): every dispatched message of another bot counts
//! against the pair (this bot, that bot) in its room; the event that makes more than
//! [`MAX_EVENTS_PER_WINDOW`] (20) within a sliding [`WINDOW_MS`] (60 s) starts a
//! [`COOLDOWN_MS`] (60 s) cooldown, and until it ends every message of that bot in that
//! room is dropped ([`crate::policy::DropReason::BotLoop`]). The same message id counts
//! once (a catch-up replaying it is not a new event). Humans never count.
//!
//! The guard holds no clock: the host passes the time (milliseconds on a monotonic clock)
//! with each event, so the rule is tested without sleeping. It stays bounded: at most
//! [`MAX_EVENTS_PER_WINDOW`] + 1 events per pair, at most [`MAX_PAIRS`] pairs (idle pairs
//! are pruned first; a pair in cooldown is kept over an idle one).

use std::collections::{HashMap, VecDeque};

use crate::ids::{MessageId, RoomId, UserId};

/// Events a bot pair may exchange within the window (OpenClaw's `maxEventsPerWindow`).
pub const MAX_EVENTS_PER_WINDOW: usize = 20;
/// The sliding window (OpenClaw's `windowSeconds`: 60).
pub const WINDOW_MS: u64 = 60_000;
/// How long a pair stays suppressed once over budget (OpenClaw's `cooldownSeconds`: 60).
pub const COOLDOWN_MS: u64 = 60_000;
/// Pairs tracked at most.
pub const MAX_PAIRS: usize = 10_000;

/// What the guard says about one bot message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopCheck {
    /// Within budget: dispatch it.
    Allowed,
    /// This message went over budget: the cooldown starts now, until `until_ms`.
    Tripped {
        /// When the cooldown ends (the host's clock).
        until_ms: u64,
    },
    /// The pair is cooling down, until `until_ms`.
    CoolingDown {
        /// When the cooldown ends (the host's clock).
        until_ms: u64,
    },
}

impl LoopCheck {
    /// Whether the message is dropped.
    pub fn suppressed(self) -> bool {
        !matches!(self, LoopCheck::Allowed)
    }
}

#[derive(Debug, Default)]
struct Pair {
    /// (time, message id) of the events in the window, oldest first.
    recent: VecDeque<(u64, MessageId)>,
    cooldown_until: u64,
}

impl Pair {
    fn prune(&mut self, now: u64) {
        // Nothing is older than the window before the clock has run for one.
        let Some(cutoff) = now.checked_sub(WINDOW_MS) else {
            return;
        };
        while self.recent.front().is_some_and(|(at, _)| *at <= cutoff) {
            self.recent.pop_front();
        }
    }

    fn idle(&self, now: u64) -> bool {
        self.recent.is_empty() && self.cooldown_until <= now
    }
}

/// The per-account state of the rule: one per bot identity, kept across config reloads.
#[derive(Debug, Default)]
pub struct BotLoopGuard {
    pairs: HashMap<(RoomId, UserId), Pair>,
}

impl BotLoopGuard {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one message of the bot `sender` in `room` at `now_ms` and says whether it
    /// passes. The receiver of the pair is this guard's bot.
    pub fn record(
        &mut self,
        now_ms: u64,
        room: &RoomId,
        sender: &UserId,
        message: &MessageId,
    ) -> LoopCheck {
        let key = (room.clone(), sender.clone());
        if !self.pairs.contains_key(&key) && self.pairs.len() >= MAX_PAIRS {
            self.pairs.retain(|_, pair| {
                pair.prune(now_ms);
                !pair.idle(now_ms)
            });
            if self.pairs.len() >= MAX_PAIRS {
                // Every pair is active: forget the one whose latest event is oldest that
                // is not cooling down (a cooldown is never cut short by a flood of pairs).
                let victim = self
                    .pairs
                    .iter()
                    .filter(|(_, pair)| pair.cooldown_until <= now_ms)
                    .min_by_key(|(_, pair)| pair.recent.back().map_or(0, |(at, _)| *at))
                    .map(|(key, _)| key.clone());
                if let Some(victim) = victim {
                    self.pairs.remove(&victim);
                }
            }
        }
        let pair = self.pairs.entry(key).or_default();
        pair.prune(now_ms);
        if pair.recent.iter().any(|(_, id)| id == message) {
            return LoopCheck::Allowed;
        }
        if pair.cooldown_until > now_ms {
            return LoopCheck::CoolingDown {
                until_ms: pair.cooldown_until,
            };
        }
        pair.recent.push_back((now_ms, message.clone()));
        if pair.recent.len() > MAX_EVENTS_PER_WINDOW {
            pair.cooldown_until = now_ms.saturating_add(COOLDOWN_MS);
            pair.recent.clear();
            return LoopCheck::Tripped {
                until_ms: pair.cooldown_until,
            };
        }
        LoopCheck::Allowed
    }

    /// Pairs tracked now (for tests and status).
    pub fn tracked_pairs(&self) -> usize {
        self.pairs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> MessageId {
        MessageId::new(format!("M{n}"))
    }

    #[test]
    fn the_21st_event_within_the_window_trips_and_the_cooldown_ends() {
        let mut g = BotLoopGuard::new();
        let (room, bot) = (RoomId::new("R1"), UserId::new("OTHER"));
        for n in 1..=20 {
            assert_eq!(
                g.record(n as u64 * 1_000, &room, &bot, &id(n)),
                LoopCheck::Allowed
            );
        }
        assert_eq!(
            g.record(21_000, &room, &bot, &id(21)),
            LoopCheck::Tripped { until_ms: 81_000 }
        );
        assert!(g.record(80_999, &room, &bot, &id(22)).suppressed());
        assert_eq!(g.record(81_000, &room, &bot, &id(23)), LoopCheck::Allowed);
    }

    #[test]
    fn events_older_than_the_window_do_not_count() {
        let mut g = BotLoopGuard::new();
        let (room, bot) = (RoomId::new("R1"), UserId::new("OTHER"));
        for n in 0..20 {
            assert!(!g.record(0, &room, &bot, &id(n)).suppressed());
        }
        // The 20 left the window at 60 s: the next 20 pass again.
        for n in 20..40 {
            assert!(!g.record(WINDOW_MS, &room, &bot, &id(n)).suppressed());
        }
        assert!(g.record(WINDOW_MS, &room, &bot, &id(40)).suppressed());
    }

    #[test]
    fn pairs_are_counted_apart_and_a_replayed_message_counts_once() {
        let mut g = BotLoopGuard::new();
        let (r1, r2) = (RoomId::new("R1"), RoomId::new("R2"));
        let (a, b) = (UserId::new("A"), UserId::new("B"));
        for n in 0..20 {
            assert!(!g.record(0, &r1, &a, &id(n)).suppressed());
            // The same message again (a catch-up) is not a new event.
            assert!(!g.record(0, &r1, &a, &id(n)).suppressed());
        }
        assert!(!g.record(0, &r1, &b, &id(100)).suppressed(), "another bot");
        assert!(!g.record(0, &r2, &a, &id(101)).suppressed(), "another room");
        assert!(g.record(0, &r1, &a, &id(20)).suppressed());
    }

    #[test]
    fn the_guard_stays_bounded() {
        let mut g = BotLoopGuard::new();
        let bot = UserId::new("A");
        for n in 0..(MAX_PAIRS + 50) {
            g.record(n as u64 * 10, &RoomId::new(format!("R{n}")), &bot, &id(n));
        }
        assert!(g.tracked_pairs() <= MAX_PAIRS);
    }
}
