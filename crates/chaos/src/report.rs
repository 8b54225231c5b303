//! What a scenario found: its figures, and the promises it saw broken.

use std::fmt::Write;
use std::time::Duration;

pub struct Scenario {
    pub title: String,
    pub figures: Vec<(String, String)>,
    pub failures: Vec<String>,
    pub elapsed: Duration,
}

impl Scenario {
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            figures: Vec::new(),
            failures: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    pub fn figure(&mut self, name: &str, value: impl ToString) {
        self.figures.push((name.to_owned(), value.to_string()));
    }

    pub fn fail(&mut self, what: impl Into<String>) {
        let what = what.into();
        eprintln!("chaos: FAIL {}: {what}", self.title);
        self.failures.push(what);
    }

    /// Records a failure unless `ok`.
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.fail(what());
        }
    }

    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

pub fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The report, as Markdown (readable as plain text too).
pub fn render(header: &[(String, String)], scenarios: &[Scenario]) -> String {
    let mut out = String::new();
    let passed = scenarios.iter().all(Scenario::passed);
    let _ = writeln!(
        out,
        "## omnichannel chaos run: {}\n",
        if passed { "PASS" } else { "FAIL" }
    );
    for (name, value) in header {
        let _ = writeln!(out, "- {name}: {value}");
    }
    for scenario in scenarios {
        let _ = writeln!(
            out,
            "\n### {} — {} ({})\n",
            scenario.title,
            if scenario.passed() { "PASS" } else { "FAIL" },
            seconds(scenario.elapsed)
        );
        let _ = writeln!(out, "| figure | value |\n|---|---|");
        for (name, value) in &scenario.figures {
            let _ = writeln!(out, "| {name} | {value} |");
        }
        for failure in &scenario.failures {
            let _ = writeln!(out, "\n- **broken**: {failure}");
        }
    }
    out
}
