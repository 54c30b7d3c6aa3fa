//! Query strings, read pair by pair so that a parameter given twice is refused by name.
//!
//! axum's `Query` deserialises with serde, whose only signal for a repeated parameter is the text of
//! its error (``duplicate field `filter` ``); reading the decoded pairs (`form_urlencoded`, what
//! serde's deserialiser reads too) finds the repeat itself.

use crate::problem::Problem;

/// The known parameters of a query string, each given at most once.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(&'static str, String)>);

impl Params {
    /// Reads `raw` (the query string, without `?`), keeping the parameters named in `known` and
    /// ignoring others.
    ///
    /// # Errors
    /// A 400 problem naming the first known parameter given twice.
    pub(crate) fn parse(raw: Option<&str>, known: &[&'static str]) -> Result<Self, Problem> {
        let mut found: Vec<(&'static str, String)> = Vec::new();
        let pairs = form_urlencoded::parse(raw.unwrap_or_default().as_bytes());
        for (name, value) in pairs {
            let Some(name) = known.iter().copied().find(|known| *known == name) else {
                continue;
            };
            if found.iter().any(|(seen, _)| *seen == name) {
                return Err(Problem::field(name, "may be given only once"));
            }
            found.push((name, value.into_owned()));
        }
        Ok(Self(found))
    }

    /// The value of `name`, when given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| value.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_parameters_are_decoded_and_others_ignored() {
        let raw = "filter=date%20ge%20%272024-03-01%27&pageSize=2&other=1&other=2&empty=";
        let params = Params::parse(Some(raw), &["filter", "pageSize", "pageToken"]).unwrap();
        assert_eq!(params.get("filter"), Some("date ge '2024-03-01'"));
        assert_eq!(params.get("pageSize"), Some("2"));
        assert_eq!(params.get("pageToken"), None);
        assert_eq!(params.get("other"), None);
        assert!(
            Params::parse(None, &["filter"])
                .unwrap()
                .get("filter")
                .is_none()
        );
        let plus = Params::parse(Some("filter=status+eq+%27Enabled%27"), &["filter"]).unwrap();
        assert_eq!(plus.get("filter"), Some("status eq 'Enabled'"));
    }

    #[test]
    fn a_known_parameter_given_twice_is_named() {
        for raw in [
            "filter=a&filter=b",
            "filter=&filter=",
            "pageSize=1&filter=a&filter=a",
        ] {
            let problem = Params::parse(Some(raw), &["filter", "pageSize"]).unwrap_err();
            assert_eq!(problem.fields(), ["filter"], "{raw}");
        }
        // The same name, percent-encoded differently, is the same parameter.
        let problem = Params::parse(Some("filter=a&%66ilter=b"), &["filter"]).unwrap_err();
        assert_eq!(problem.fields(), ["filter"]);
    }
}
