//! `ui` serves the run pages live: loopback only unless a token is set, the
//! token rules, read-only routes, and — in the browser — runs that appear
//! while the page is open, without a reload.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use reagentic_protocol::{JsonlStorage, Storage};
use serde_json::json;

use crate::browser::Browser;
use crate::support::{
    bin, record_small_talk, run, stderr, travel_protocol, Format, SMALL_TALK, TRAVEL,
};
use crate::synthetic;

const WAIT: Duration = Duration::from_secs(15);

/// A running `ui` server, stopped on drop.
struct Server {
    child: Child,
    /// `127.0.0.1:port`
    address: String,
}

impl Server {
    fn start(file: &Path, extra: &[&str]) -> Server {
        let mut child = bin()
            .args(["ui", file.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("REAGENTIC_PROTOCOL_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ui");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the first line");
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Server { child, address }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// One request; the status, the headers (lower-case names) and the body.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            request.push_str(&format!("Host: {}\r\n", self.address));
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_ascii_lowercase(), body.to_owned())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn loopback_is_the_default_and_any_other_address_needs_a_token() {
    let protocol = travel_protocol(Format::Sqlite);
    let refused = run(&["ui", protocol.arg(), "--listen", "0.0.0.0:0"]);
    assert_eq!(refused.status.code(), Some(2));
    let message = stderr(&refused);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("not a loopback address") && message.contains("--token"),
        "{message}"
    );
    let weak = run(&["ui", protocol.arg(), "--token", "short"]);
    assert_eq!(weak.status.code(), Some(2));
    assert!(stderr(&weak).contains("at least 16"), "{}", stderr(&weak));

    let server = Server::start(&protocol.path, &[]);
    let (status, headers, body) = server.request("GET", "/", &[]);
    assert_eq!(status, 200, "{body}");
    assert!(
        headers.contains("content-security-policy: default-src 'none'"),
        "{headers}"
    );
    assert!(headers.contains("frame-ancestors 'none'"), "{headers}");
    // A page elsewhere reaching 127.0.0.1 through its own DNS name is refused.
    let (status, _, _) =
        server.request("GET", "/api/sessions", &[("Host", "attacker.example:7878")]);
    assert_eq!(status, 403);
    // Nothing writes: other methods are not routed.
    let (status, _, _) = server.request("POST", "/api/sessions", &[]);
    assert_eq!(status, 405);
    let (status, _, _) = server.request("DELETE", "/run/x", &[]);
    assert_eq!(status, 405);
    let (status, _, body) = server.request("GET", "/run/nope", &[]);
    assert_eq!(status, 404, "{body}");
}

#[test]
fn a_token_is_needed_as_a_bearer_header_or_a_cookie_set_once_from_the_address() {
    let protocol = travel_protocol(Format::Jsonl);
    let server = Server::start(&protocol.path, &["--token", TOKEN]);
    assert_eq!(server.request("GET", "/", &[]).0, 401);
    assert_eq!(
        server
            .request(
                "GET",
                "/api/sessions",
                &[("Authorization", "Bearer wrong-token-wrong-token")]
            )
            .0,
        401
    );
    let (status, _, body) = server.request(
        "GET",
        "/api/sessions",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    assert_eq!(status, 200);
    let sessions: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [SMALL_TALK, TRAVEL], "newest first");
    assert_eq!(sessions["sessions"][1]["errors"], 1);
    // Two gpt-4o calls, priced when recorded: 17 × $2.50/M + 15 × $10/M.
    assert_eq!(sessions["sessions"][1]["cost"]["label"], "$0.0001925");

    let (status, headers, _) = server.request("GET", &format!("/run/{TRAVEL}?token={TOKEN}"), &[]);
    assert_eq!(status, 303);
    assert!(
        headers.contains(&format!("location: /run/{TRAVEL}\r\n")),
        "{headers}"
    );
    assert!(
        headers.contains("set-cookie: reagentic_protocol_token=") && headers.contains("httponly"),
        "{headers}"
    );
    let cookie = format!("reagentic_protocol_token={TOKEN}");
    let (status, _, body) =
        server.request("GET", &format!("/run/{TRAVEL}"), &[("Cookie", &cookie)]);
    assert_eq!(status, 200);
    assert!(body.contains("get_weather"));
    // With a token, any host name will do (that is what the token is for).
    assert_eq!(
        server
            .request(
                "GET",
                "/",
                &[("Cookie", &cookie), ("Host", "box.example:7878")]
            )
            .0,
        200
    );
}

#[test]
fn runs_written_while_the_pages_are_open_appear_without_a_reload() {
    let protocol = crate::support::Protocol::new(Format::Sqlite);
    crate::support::record_travel_run(&protocol);
    protocol.flush();
    let server = Server::start(&protocol.path, &[]);
    let browser = Browser::start();
    browser.goto(&server.url("/"));
    assert!(browser.wait_for("window.__runView && window.__runView.ready", WAIT));
    assert_eq!(
        browser.eval("return document.querySelector('#sessions').dataset.rows"),
        json!("1")
    );
    browser.eval("window.__sameDocument = true");

    record_small_talk(&protocol);
    protocol.flush();
    assert!(
        browser.wait_for(
            "document.querySelector('#sessions').dataset.rows === '2'",
            WAIT
        ),
        "the new session did not appear"
    );
    assert_eq!(
        browser.eval("return window.__sameDocument === true"),
        json!(true),
        "no reload"
    );
    let first = browser.eval("return document.querySelector('#sessions tbody tr').dataset.id");
    assert_eq!(first, json!(SMALL_TALK), "newest first");
    let failed = browser.eval(
        "return [...document.querySelectorAll('#sessions tr.failed')].map(r => r.dataset.id)",
    );
    assert_eq!(failed, json!([TRAVEL]));
    browser.type_into("#filter", "chatter");
    assert!(browser.wait_for(
        "document.querySelector('#sessions').dataset.rows === '1'",
        WAIT
    ));
    browser.screenshot("ui-sessions.png");

    // The run page follows its run: steps written later appear in place.
    browser.click(&format!("#sessions tr[data-id='{SMALL_TALK}'] a"));
    assert!(browser.wait_for(
        "window.__runView && window.__runView.ready && document.querySelector('#rows')",
        WAIT
    ));
    assert_eq!(
        browser.eval("return document.querySelectorAll('#rows .row').length"),
        json!(2)
    );
    browser.eval("window.__sameDocument = true");
    record_small_talk(&protocol);
    protocol.flush();
    assert!(
        browser.wait_for("document.querySelectorAll('#rows .row').length === 4", WAIT),
        "the run's new steps did not appear"
    );
    assert_eq!(
        browser.eval("return window.__sameDocument === true"),
        json!(true),
        "no reload"
    );
    protocol.shut_down();
}

#[test]
fn an_open_step_is_drawn_open_and_closes_when_its_end_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.jsonl");
    let entries = synthetic::big_run(3, false);
    // The orchestrator's end (the last entry in time) is held back.
    let (end, rest): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|e| e.name == "orchestrator" && e.event_type.is_end());
    let mut storage = JsonlStorage::open(&file).unwrap();
    storage.write_batch(&rest).unwrap();
    let server = Server::start(&file, &[]);
    let browser = Browser::start();
    browser.goto(&server.url(&format!("/run/{}", synthetic::SESSION)));
    assert!(browser.wait_for("window.__runView && window.__runView.ready", WAIT));
    assert_eq!(
        browser.eval("return [...document.querySelectorAll('#rows .row.open .label')].map(l => l.textContent)"),
        json!(["orchestrator"])
    );
    assert_eq!(
        browser.eval("return document.querySelector('#rows .row.open .badge.open').textContent"),
        json!("open")
    );
    storage.write_batch(&end).unwrap();
    assert!(browser.wait_for(
        "document.querySelectorAll('#rows .row.open').length === 0",
        WAIT
    ));
}
