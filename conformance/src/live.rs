//! Gating for runs against a live server. Variables are read at run time
//! (`std::env::var`), never at compile time.
//!
//! | Variable | Meaning |
//! |---|---|
//! | `RC_TEST_URL` | Base URL of a live server. Unset: live cases print one skip line and return. |
//! | `CONFORMANCE_REQUIRE_LIVE` | `1`: a missing variable fails the run instead of skipping it (CI). |
//! | `CONFORMANCE_EVENT_TIMEOUT_MS` | Inbound-event wait, see [`crate::Timeouts::from_env`]. |
//!
//! The Rocket.Chat harness lists the other variables it needs (bot and peer credentials,
//! the test room) and passes them to [`gate`] along with `RC_TEST_URL`.

/// The variable whose presence turns live runs on.
pub const URL_VAR: &str = "RC_TEST_URL";

/// The variable that turns a skip into a failure.
pub const REQUIRE_LIVE_VAR: &str = "CONFORMANCE_REQUIRE_LIVE";

/// What a live harness should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Every variable is set: run.
    Run,
    /// Something is missing and live runs are optional: print this and skip.
    Skip(String),
    /// Something is missing and `CONFORMANCE_REQUIRE_LIVE=1`: fail with this.
    Fail(String),
}

/// Decides from the process environment whether live cases run. `vars` are the
/// variables the harness needs; [`URL_VAR`] is always checked first.
pub fn gate(vars: &[&str]) -> Gate {
    gate_with(vars, |name| std::env::var(name).ok())
}

/// [`gate`] with an explicit lookup, for tests.
pub fn gate_with(vars: &[&str], lookup: impl Fn(&str) -> Option<String>) -> Gate {
    let set = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
    let missing: Vec<&str> = std::iter::once(URL_VAR)
        .chain(vars.iter().copied().filter(|v| *v != URL_VAR))
        .filter(|name| !set(name))
        .collect();
    if missing.is_empty() {
        return Gate::Run;
    }
    let reason = format!("live conformance needs {}", missing.join(", "));
    if lookup(REQUIRE_LIVE_VAR).is_some_and(|v| v.trim() == "1") {
        Gate::Fail(format!("{reason} ({REQUIRE_LIVE_VAR}=1)"))
    } else {
        Gate::Skip(format!(
            "{reason}; skipping (set {URL_VAR} to run against a live server)"
        ))
    }
}

/// For a harness function: `true` when live cases should run. Prints the skip line and
/// returns `false` when they should not; panics (fails the test) when they are required
/// but not configured.
pub fn should_run(vars: &[&str]) -> bool {
    match gate(vars) {
        Gate::Run => true,
        Gate::Skip(reason) => {
            eprintln!("conformance: {reason}");
            false
        }
        Gate::Fail(reason) => panic!("conformance: {reason}"),
    }
}

/// A variable's value, or an error naming it. Never echoes values (they may be secrets).
pub fn required_var(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn runs_when_everything_is_set() {
        let lookup = env(&[
            (URL_VAR, "https://chat.example"),
            ("RC_TEST_BOT_TOKEN", "t"),
        ]);
        assert_eq!(gate_with(&["RC_TEST_BOT_TOKEN"], lookup), Gate::Run);
    }

    #[test]
    fn skips_without_the_url_and_names_what_is_missing() {
        let Gate::Skip(reason) = gate_with(&["RC_TEST_BOT_TOKEN"], env(&[])) else {
            panic!("expected a skip");
        };
        assert!(
            reason.contains(URL_VAR) && reason.contains("RC_TEST_BOT_TOKEN"),
            "{reason}"
        );
    }

    #[test]
    fn fails_instead_of_skipping_when_live_is_required() {
        let lookup = env(&[(REQUIRE_LIVE_VAR, "1"), (URL_VAR, "https://chat.example")]);
        let gate = gate_with(&["RC_TEST_BOT_TOKEN"], lookup);
        assert!(
            matches!(&gate, Gate::Fail(r) if r.contains("RC_TEST_BOT_TOKEN")),
            "{gate:?}"
        );
    }

    #[test]
    fn an_empty_value_counts_as_missing() {
        let gate = gate_with(&[], env(&[(URL_VAR, " ")]));
        assert!(matches!(gate, Gate::Skip(_)), "{gate:?}");
    }
}
