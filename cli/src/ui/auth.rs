//! Who may read the protocol through the `ui` server.
//!
//! On a loopback address without a token, only this machine can connect;
//! requests must also name a loopback host, so a web page elsewhere cannot
//! reach the server through a DNS name pointed at 127.0.0.1 (DNS
//! rebinding). With a token, every request must carry it: as
//! `Authorization: Bearer …` (scripts), or in a cookie that a browser gets
//! by opening any page once with `?token=…` (the server answers with the
//! cookie, HttpOnly, and a redirect to the same page without the token).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The cookie a browser keeps the token in.
const COOKIE: &str = "reagentic_protocol_token";

/// The access rule of a server.
#[derive(Clone, Debug)]
pub enum Access {
    /// Listening on loopback without a token: loopback host names only.
    Loopback,
    /// Every request carries this token.
    Token(String),
    /// Anyone who can connect (the user's explicit, insecure choice).
    Open,
}

/// The environment variable that holds the token when `--token` is not given.
pub const TOKEN_VARIABLE: &str = "REAGENTIC_PROTOCOL_TOKEN";
/// Tokens shorter than this are refused: they can be guessed.
const MIN_TOKEN_LENGTH: usize = 16;

impl Access {
    /// The rule for a server listening on `listen`: a token if one is given
    /// (`--token`, else the environment variable); none on loopback; else
    /// only with the explicit opt-out, which `opt_out` names in the error.
    pub fn choose(
        token: Option<String>,
        listen: &[std::net::SocketAddr],
        insecure_no_token: bool,
        opt_out: &str,
    ) -> Result<Access, crate::failure::Failure> {
        use crate::failure::Failure;
        let token = token.or_else(|| std::env::var(TOKEN_VARIABLE).ok().filter(|t| !t.is_empty()));
        let exposed = listen.iter().find(|a| !a.ip().is_loopback());
        match (token, exposed, insecure_no_token) {
            (Some(token), _, _) => {
                if token.chars().count() < MIN_TOKEN_LENGTH
                    || token
                        .chars()
                        .any(|c| !c.is_ascii_graphic() || c == ';' || c == ',')
                {
                    return Err(Failure::new(format!(
                        "the token must be at least {MIN_TOKEN_LENGTH} printable ASCII characters without ';' or ',' (e.g. `openssl rand -hex 16`)"
                    )));
                }
                Ok(Access::Token(token))
            }
            (None, None, _) => Ok(Access::Loopback),
            (None, Some(_), true) => Ok(Access::Open),
            (None, Some(address), false) => Err(Failure::new(format!(
                "{address} is not a loopback address: give a token (--token or {TOKEN_VARIABLE}) so only those who have it can reach the protocol, or {opt_out}"
            ))),
        }
    }

    /// Whether a request with these headers may pass, by bearer token only
    /// (no cookie, no query): for servers that only programs talk to.
    pub fn admits_bearer(&self, authorization: Option<&str>, host_is_loopback: bool) -> bool {
        match self {
            Access::Open => true,
            Access::Loopback => host_is_loopback,
            Access::Token(expected) => authorization
                .and_then(|value| {
                    let (scheme, token) = value.split_once(' ')?;
                    scheme
                        .eq_ignore_ascii_case("bearer")
                        .then_some(token.trim())
                })
                .is_some_and(|t| same_secret(t.as_bytes(), expected.as_bytes())),
        }
    }
}

/// Compares in time that depends only on the lengths, so the time of an
/// answer does not tell how much of a guess was right.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    let difference = given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then_some(value)
        })
}

/// The `token` parameter of a query string, and the query without it.
fn query_token(query: &str) -> (Option<String>, String) {
    let mut token = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("token", value)) => {
                token = Some(percent_decode(value));
            }
            _ => rest.push(pair),
        }
    }
    (token, rest.join("&"))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the Host header names this machine.
pub fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        // HTTP/1.0 without Host: only a local client talks like that here.
        return true;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        format!("{message}\n"),
    )
        .into_response()
}

/// Middleware: lets a request through when the access rule allows it.
pub async fn guard(State(access): State<Access>, request: Request, next: Next) -> Response {
    match &access {
        Access::Open => next.run(request).await,
        Access::Loopback => {
            if loopback_host(request.headers()) {
                next.run(request).await
            } else {
                refuse(
                    StatusCode::FORBIDDEN,
                    "this server answers only to localhost, 127.0.0.1 or [::1] (start it with --token to serve other names)",
                )
            }
        }
        Access::Token(expected) => {
            let headers = request.headers();
            let presented = bearer(headers).or_else(|| cookie(headers));
            if presented.is_some_and(|t| same_secret(t.as_bytes(), expected.as_bytes())) {
                return next.run(request).await;
            }
            let query = request.uri().query().unwrap_or("");
            let (token, rest) = query_token(query);
            match token {
                Some(token) if same_secret(token.as_bytes(), expected.as_bytes()) => {
                    // The token moves into an HttpOnly cookie (scripts on the
                    // page cannot read it) and out of the address bar.
                    let path = request.uri().path();
                    let location = if rest.is_empty() {
                        path.to_owned()
                    } else {
                        format!("{path}?{rest}")
                    };
                    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
                    let mut response = StatusCode::SEE_OTHER.into_response();
                    let headers = response.headers_mut();
                    if let (Ok(location), Ok(cookie)) =
                        (HeaderValue::from_str(&location), HeaderValue::from_str(&cookie))
                    {
                        headers.insert(header::LOCATION, location);
                        headers.insert(header::SET_COOKIE, cookie);
                        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                        response
                    } else {
                        refuse(StatusCode::BAD_REQUEST, "the token cannot be put in a cookie")
                    }
                }
                _ => refuse(
                    StatusCode::UNAUTHORIZED,
                    "this server needs its token: open any page once with ?token=<token>, or send Authorization: Bearer <token>",
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abcdef", b"abcdef"));
        assert!(!same_secret(b"abcdeg", b"abcdef"));
        assert!(!same_secret(b"abc", b"abcdef"));
    }

    #[test]
    fn the_token_is_taken_out_of_the_query() {
        assert_eq!(
            query_token("a=1&token=x%2By&b=2"),
            (Some("x+y".into()), "a=1&b=2".into())
        );
        assert_eq!(query_token(""), (None, String::new()));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn loopback_hosts() {
        let host = |h: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(h).unwrap());
            loopback_host(&headers)
        };
        assert!(
            host("localhost:7878") && host("127.0.0.1:1") && host("[::1]:80") && host("LOCALHOST")
        );
        assert!(!host("evil.example:7878") && !host("192.168.1.2"));
    }
}
