//! Gating for runs against a live server. Variables are read at run time
//! (`std::env::var`), never at compile time.
//!
//! Each backend names its own variables in a [`LiveVars`]: the one whose presence turns
//! live runs on (the server's URL, say) and the others it needs (credentials, test rooms).
//! This crate adds only these two:
//!
//! | Variable | Meaning |
//! |---|---|
//! | `CONFORMANCE_REQUIRE_LIVE` | `1`: a missing variable fails the run instead of skipping it (CI). |
//! | `CONFORMANCE_EVENT_TIMEOUT_MS` | Inbound-event wait, see [`crate::Timeouts::from_env`]. |

/// The variables a backend's live harness reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveVars<'a> {
    /// Set: live cases run. Unset: they print one skip line and pass.
    pub switch: &'a str,
    /// Needed too once live runs are on.
    pub required: &'a [&'a str],
}

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

/// Decides from the process environment whether live cases run. The switch is checked
/// first, then the other variables.
pub fn gate(vars: LiveVars<'_>) -> Gate {
    gate_with(vars, |name| std::env::var(name).ok())
}

/// [`gate`] with an explicit lookup, for tests.
pub fn gate_with(vars: LiveVars<'_>, lookup: impl Fn(&str) -> Option<String>) -> Gate {
    let set = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
    let missing: Vec<&str> = std::iter::once(vars.switch)
        .chain(vars.required.iter().copied().filter(|v| *v != vars.switch))
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
            "{reason}; skipping (set {} to run against a live server)",
            vars.switch
        ))
    }
}

/// For a harness function: `true` when live cases should run. Prints the skip line and
/// returns `false` when they should not; panics (fails the test) when they are required
/// but not configured.
pub fn should_run(vars: LiveVars<'_>) -> bool {
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

    const URL_VAR: &str = "EXAMPLE_URL";

    fn vars(required: &'static [&'static str]) -> LiveVars<'static> {
        LiveVars {
            switch: URL_VAR,
            required,
        }
    }

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
        let lookup = env(&[(URL_VAR, "https://chat.example"), ("EXAMPLE_TOKEN", "t")]);
        assert_eq!(gate_with(vars(&["EXAMPLE_TOKEN"]), lookup), Gate::Run);
    }

    #[test]
    fn skips_without_the_url_and_names_what_is_missing() {
        let Gate::Skip(reason) = gate_with(vars(&["EXAMPLE_TOKEN"]), env(&[])) else {
            panic!("expected a skip");
        };
        assert!(
            reason.contains(URL_VAR) && reason.contains("EXAMPLE_TOKEN"),
            "{reason}"
        );
    }

    #[test]
    fn fails_instead_of_skipping_when_live_is_required() {
        let lookup = env(&[(REQUIRE_LIVE_VAR, "1"), (URL_VAR, "https://chat.example")]);
        let gate = gate_with(vars(&["EXAMPLE_TOKEN"]), lookup);
        assert!(
            matches!(&gate, Gate::Fail(r) if r.contains("EXAMPLE_TOKEN")),
            "{gate:?}"
        );
    }

    #[test]
    fn an_empty_value_counts_as_missing() {
        let gate = gate_with(vars(&[]), env(&[(URL_VAR, " ")]));
        assert!(matches!(gate, Gate::Skip(_)), "{gate:?}");
    }
}
