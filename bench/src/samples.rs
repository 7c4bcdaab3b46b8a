//! Repeated measurements of one case and their median.

/// The values of the runs of one case.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    values: Vec<f64>,
}

impl Samples {
    pub fn push(&mut self, value: f64) {
        self.values.push(value);
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn sorted(&self) -> Vec<f64> {
        let mut sorted = self.values.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
    }

    /// Returns the median, the mean of the two middle values for an even
    /// count, or NaN without values.
    pub fn median(&self) -> f64 {
        let sorted = self.sorted();
        let count = sorted.len();
        match count {
            0 => f64::NAN,
            _ if count % 2 == 1 => sorted[count / 2],
            _ => (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0,
        }
    }

    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }
}

/// Formats nanoseconds as microseconds with two decimals.
pub fn micros(ns: f64) -> String {
    format!("{:.2}", ns / 1000.0)
}

/// Formats nanoseconds as milliseconds with two decimals.
pub fn millis(ns: f64) -> String {
    format!("{:.2}", ns / 1_000_000.0)
}

/// Formats a ratio such as `1.07×`.
pub fn ratio(value: f64) -> String {
    format!("{value:.2}×")
}
