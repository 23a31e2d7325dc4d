//! Colour only on a terminal, and never with `NO_COLOR` set. The terminal is
//! a pseudo-terminal made by util-linux `script` (Debian package
//! `bsdutils`), which `.ci/run` installs; without it this test fails rather
//! than pass having checked nothing.

use std::process::Command;

use crate::support::{ok, run_on, travel_protocol, Format};

/// Runs the binary with `args` on a pseudo-terminal, as a person's
/// terminal would (`TERM=xterm-256color`), and returns what it printed.
fn on_a_terminal(args: &[&str], no_colour: bool) -> String {
    let mut line = quoted(env!("CARGO_BIN_EXE_reagentic-protocol"));
    for arg in args {
        line.push(' ');
        line.push_str(&quoted(arg));
    }
    let mut command = Command::new("script");
    command.args(["-qec", &line, "/dev/null"]);
    for variable in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "COLUMNS"] {
        command.env_remove(variable);
    }
    command.env("TERM", "xterm-256color");
    if no_colour {
        command.env("NO_COLOR", "1");
    }
    let output = command.output().unwrap_or_else(|e| {
        panic!(
            "cannot run `script` ({e}): this test needs util-linux `script` for a \
             pseudo-terminal (Debian: apt-get install bsdutils)"
        )
    });
    assert!(output.status.success(), "{output:?}");
    // A terminal's line ends are `\r\n`.
    String::from_utf8(output.stdout)
        .unwrap()
        .replace("\r\n", "\n")
}

/// `text` in single quotes for `sh -c`.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `text` without its colour codes (`ESC [ … m`).
fn without_colour(text: &str) -> String {
    let mut plain = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\x1b[") {
        plain.push_str(&rest[..at]);
        let code = &rest[at..];
        let end = code.find('m').expect("an unfinished colour code");
        rest = &code[end + 1..];
    }
    plain.push_str(rest);
    plain
}

#[test]
fn failures_are_red_on_a_terminal_and_plain_with_no_color_or_a_pipe() {
    let protocol = travel_protocol(Format::Sqlite);
    let args = ["query", protocol.arg(), "--errors"];
    let coloured = on_a_terminal(&args, false);
    assert!(coloured.contains("\x1b[31merror\x1b[0m"), "{coloured:?}");
    let plain = on_a_terminal(&args, true);
    assert!(
        plain.contains("error") && !plain.contains('\x1b'),
        "{plain:?}"
    );
    assert_eq!(without_colour(&coloured), plain, "colour moves nothing");
    let piped = ok(&run_on("query", &protocol.path, &["--errors"]));
    assert!(!piped.contains('\x1b'), "{piped:?}");
}
