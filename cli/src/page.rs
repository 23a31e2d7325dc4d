//! Self-contained HTML pages: one template with the page's own CSS and
//! JavaScript inline, the data as JSON inside a non-executable `<script>`
//! element, and a Content-Security-Policy that allows nothing else.
//!
//! The pages show content from the outside world (prompts, model answers,
//! tool results), so two rules keep it text: the data is escaped so that it
//! can never end its `<script>` element (see [`embed_json`]), and the
//! scripts put text into the page only through `textContent` (never
//! `innerHTML`). The CSP is the second line of defence: only the page's own
//! script and style, named by their SHA-256 hash, may run, and no network
//! access at all (a served page may fetch from its own origin).

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The page skeleton; `{{…}}` marks where the parts go.
const TEMPLATE: &str = include_str!("../assets/page.html");
/// One style sheet for every page.
pub const CSS: &str = include_str!("../assets/page.css");
/// Helpers every page's script starts with.
const COMMON_JS: &str = include_str!("../assets/common.js");

/// Which page: each has its own script (after the common helpers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// One run: waterfall and detail pane.
    Run,
    /// Two runs side by side, aligned.
    Diff,
    /// The sessions list of the `ui` server.
    Sessions,
}

impl PageKind {
    fn script(self) -> &'static str {
        match self {
            PageKind::Run => include_str!("../assets/run.js"),
            PageKind::Diff => include_str!("../assets/diff.js"),
            PageKind::Sessions => include_str!("../assets/sessions.js"),
        }
    }
}

/// Whether the page may talk to the server it came from (the `ui` pages
/// poll for updates); a file written by `show --html` may not reach anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// No network access at all.
    None,
    /// Requests to the page's own origin only.
    SameOrigin,
}

/// The page's full text: title (escaped), the data (escaped into JSON),
/// style, script, and the CSP naming both by hash.
pub fn render(
    kind: PageKind,
    title: &str,
    data: &impl Serialize,
    network: Network,
) -> Result<String, serde_json::Error> {
    let script = format!("{COMMON_JS}\n{}", kind.script());
    let csp = content_security_policy(&script, network);
    let data = embed_json(data)?;
    // Filled in one pass over the template, so text put in (the title, the
    // data) is never searched for further placeholders.
    let mut out = String::with_capacity(TEMPLATE.len() + CSS.len() + script.len() + data.len());
    let mut rest = TEMPLATE;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[at..]);
            rest = "";
            break;
        };
        match &after[..close] {
            "CSP" => out.push_str(&escape_html(&csp)),
            "TITLE" => out.push_str(&escape_html(title)),
            "CSS" => out.push_str(CSS),
            "DATA" => out.push_str(&data),
            "SCRIPT" => out.push_str(&script),
            other => unreachable!("unknown placeholder {other} in page.html"),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `default-src 'none'` and exceptions for the page's own script and style
/// (by hash), inline images (`data:`), and with [`Network::SameOrigin`]
/// requests to its own server. Also sent as a header by the `ui` server.
pub fn content_security_policy(script: &str, network: Network) -> String {
    let connect = match network {
        Network::None => "'none'",
        Network::SameOrigin => "'self'",
    };
    format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; img-src data:; \
         connect-src {connect}; base-uri 'none'; form-action 'none'",
        sha256_source(script),
        sha256_source(CSS),
    )
}

/// The CSP hash source of an inline element's text: `sha256-<base64>`.
fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// JSON that can sit inside a `<script type="application/json">` element:
/// `<`, `>` and `&` are written as `\u003c`, `\u003e`, `\u0026`, so no
/// `</script>` or `<!--` can appear, whatever the strings hold; U+2028 and
/// U+2029 likewise, for readers that treat them as line ends. The escapes
/// are valid JSON and parse back to the same strings; these characters only
/// ever occur inside strings, so nothing else changes.
pub fn embed_json(data: &impl Serialize) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(data)?;
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Text for an HTML attribute or element (`<title>`, the CSP meta tag).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSP of a page as the `ui` server sends it in a header.
pub fn csp_header(kind: PageKind) -> String {
    content_security_policy(
        &format!("{COMMON_JS}\n{}", kind.script()),
        Network::SameOrigin,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_script_element_and_parses_back() {
        let hostile = "</script><script>alert(1)</script><!-- & \u{2028}\u{2029} <img src=x onerror=alert(1)>";
        let text = embed_json(&serde_json::json!({ "content": hostile })).unwrap();
        for bad in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
            assert!(!text.contains(bad), "{bad:?} in {text}");
        }
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["content"], hostile);
    }

    #[test]
    fn the_page_has_one_script_and_style_named_by_hash() {
        let page = render(
            PageKind::Run,
            "a <b> \"title\"",
            &serde_json::json!({"x": "</script>"}),
            Network::None,
        )
        .unwrap();
        assert!(page.contains("<title>a &lt;b&gt; &quot;title&quot;</title>"));
        assert!(!page.contains("{{"), "every placeholder filled");
        assert_eq!(page.matches("</script>").count(), 2, "data and script only");
        assert!(page.contains("connect-src &#39;none&#39;"));
        let script = format!("{COMMON_JS}\n{}", PageKind::Run.script());
        assert!(page.contains(&sha256_source(&script)));
        assert!(page.contains(&sha256_source(CSS)));
        assert!(!page.contains("innerHTML"));
    }

    #[test]
    fn no_script_writes_markup() {
        // Untrusted text reaches the page only as text: no page script may
        // parse markup.
        for kind in [PageKind::Run, PageKind::Diff, PageKind::Sessions] {
            let script = format!("{COMMON_JS}\n{}", kind.script());
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "setAttribute(\"on",
            ] {
                assert!(!script.contains(sink), "{kind:?} uses {sink}");
            }
        }
    }
}
