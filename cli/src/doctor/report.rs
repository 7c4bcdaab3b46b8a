//! The report of all steps, as text for a terminal or as one JSON document
//! for a support ticket, with passwords and the card number removed.

use std::fmt::Write;

use esbyt::{Config, mask_bonus_id};
use serde_json::json;

use super::Step;
use super::configuration::proxy_password;

/// Secrets shorter than this are not replaced in the report, because they
/// would also match ordinary text such as times and port numbers.
// NOTE: the report never formats a password or the full card number itself.
// This replacement is a second line of defence against a message from the
// library or the server that quotes one.
const MIN_SCRUBBED_CHARS: usize = 4;

/// The results of one doctor run.
pub struct Report {
    /// The base URL, password removed, or `None` without a configuration.
    pub url: Option<String>,
    pub steps: Vec<Step>,
}

impl Report {
    /// Returns whether no step failed. Warnings and skipped steps count as passed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|step| !step.failed())
    }

    fn failed_names(&self) -> Vec<&'static str> {
        self.steps
            .iter()
            .filter(|step| step.failed())
            .map(|step| step.name)
            .collect()
    }

    /// Formats the report for a terminal: one block per step.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let url = self.url.as_deref().unwrap_or("(no URL)");
        let _ = writeln!(text, "esbyt doctor {}: {url}", env!("CARGO_PKG_VERSION"));
        for step in &self.steps {
            let _ = writeln!(
                text,
                "\n{}  {} ({} ms)",
                step.status.label(),
                step.name,
                step.time_ms
            );
            for detail in &step.details {
                let _ = writeln!(text, "      {detail}");
            }
            if let Some(cause) = &step.cause {
                let _ = writeln!(text, "      cause: {cause}");
            }
            if let Some(fix) = &step.fix {
                let _ = writeln!(text, "      fix:   {fix}");
            }
        }
        let failed = self.failed_names();
        if failed.is_empty() {
            let _ = writeln!(text, "\nresult: every step passed");
        } else {
            let _ = writeln!(
                text,
                "\nresult: {} of {} steps failed: {}",
                failed.len(),
                self.steps.len(),
                failed.join(", ")
            );
        }
        text
    }

    /// Formats the report as one pretty-printed JSON document.
    pub fn to_json(&self) -> String {
        let steps: Vec<serde_json::Value> = self
            .steps
            .iter()
            .map(|step| {
                json!({
                    "name": step.name,
                    "status": step.status.label(),
                    "time_ms": step.time_ms,
                    "details": step.details,
                    "cause": step.cause,
                    "fix": step.fix,
                })
            })
            .collect();
        let document = json!({
            "tool": "esbyt doctor",
            "version": env!("CARGO_PKG_VERSION"),
            "url": self.url,
            "passed": self.passed(),
            "steps": steps,
        });
        serde_json::to_string_pretty(&document).unwrap_or_default()
    }
}

/// The passwords and the card number of a run, and what replaces them.
pub struct Secrets {
    replacements: Vec<(String, String)>,
}

impl Secrets {
    pub fn new(config: Option<&Config>, card: Option<&str>) -> Secrets {
        let mut replacements = Vec::new();
        if let Some(card) = card.map(str::trim) {
            replacements.push((card.to_owned(), mask_bonus_id(card)));
        }
        if let Some(config) = config {
            let passwords = [
                config
                    .pkcs12_password
                    .as_ref()
                    .map(|p| p.expose().to_owned()),
                config
                    .client_key_password
                    .as_ref()
                    .map(|p| p.expose().to_owned()),
                config.proxy.as_deref().and_then(proxy_password),
            ];
            for password in passwords.into_iter().flatten() {
                replacements.push((password, "***".to_owned()));
            }
        }
        replacements.retain(|(secret, _)| secret.chars().count() >= MIN_SCRUBBED_CHARS);
        // Longer secrets first, so one that contains another is replaced whole.
        replacements.sort_by_key(|(secret, _)| std::cmp::Reverse(secret.len()));
        Secrets { replacements }
    }

    fn apply(&self, text: &mut String) {
        for (secret, replacement) in &self.replacements {
            if text.contains(secret.as_str()) {
                *text = text.replace(secret.as_str(), replacement);
            }
        }
    }

    /// Replaces every secret in every text of the report.
    pub fn scrub(&self, report: &mut Report) {
        if let Some(url) = &mut report.url {
            self.apply(url);
        }
        for step in &mut report.steps {
            step.details
                .iter_mut()
                .for_each(|detail| self.apply(detail));
            for text in [&mut step.cause, &mut step.fix].into_iter().flatten() {
                self.apply(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::StepStatus;

    fn step(name: &'static str, status: StepStatus) -> Step {
        let mut step = Step::new(name);
        step.status = status;
        step
    }

    #[test]
    fn warnings_and_skips_pass() {
        let report = Report {
            url: None,
            steps: vec![
                step("dns", StepStatus::Pass),
                step("tcp", StepStatus::Warn),
                step("proxy", StepStatus::Skip),
            ],
        };
        assert!(report.passed());
        assert!(report.to_text().ends_with("result: every step passed\n"));
    }

    #[test]
    fn scrub_replaces_card_and_password() {
        let mut config = Config::new("https://localhost/");
        config.pkcs12_password = Some(esbyt::config::Secret::new("hunter22"));
        let secrets = Secrets::new(Some(&config), Some(" 2700009601205 "));
        let mut failed = step("check_bonus", StepStatus::Fail);
        failed
            .details
            .push("card 2700009601205, key hunter22".to_owned());
        failed.cause = Some("bonus_id \"2700009601205\" unknown".to_owned());
        let mut report = Report {
            url: Some("https://localhost/".to_owned()),
            steps: vec![failed],
        };

        secrets.scrub(&mut report);

        assert_eq!(report.steps[0].details[0], "card 2700******205, key ***");
        assert_eq!(
            report.steps[0].cause.as_deref(),
            Some("bonus_id \"2700******205\" unknown")
        );
        assert!(!report.passed());
    }
}
