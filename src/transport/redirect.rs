//! The redirect policy of the bundled reqwest adapters.

/// The redirect policy of the bundled adapters: follow at most 5 redirects, and only to the
/// same origin (scheme, host and port) as the request; any other redirect is not followed
/// (the workflow then sees the 3xx answer and fails with an API error). reqwest itself drops
/// `Authorization` and cookies on a cross-origin hop; with this policy there is none.
#[must_use]
pub fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().first().is_some_and(|first| {
            first.scheme() == attempt.url().scheme()
                && first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if !same || attempt.previous().len() > 5 {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}
