//! Colour only on a terminal, and never with `NO_COLOR` set. The terminal is
//! a pseudo-terminal made by util-linux `script`; where that tool is missing
//! the test has nothing to run on and says so.

use std::process::Command;

use crate::support::{ok, run_on, travel_protocol, Format};

/// Runs the binary on a pseudo-terminal; `None` when `script` is missing.
fn on_a_terminal(args: &str, no_colour: bool) -> Option<String> {
    let binary = env!("CARGO_BIN_EXE_reagentic-protocol");
    let mut command = Command::new("script");
    command
        .args(["-qec", &format!("{binary} {args}"), "/dev/null"])
        .env_remove("NO_COLOR");
    if no_colour {
        command.env("NO_COLOR", "1");
    }
    let output = command.output().ok()?;
    assert!(output.status.success(), "{output:?}");
    Some(String::from_utf8(output.stdout).unwrap())
}

#[test]
fn failures_are_red_on_a_terminal_and_plain_with_no_color_or_a_pipe() {
    let protocol = travel_protocol(Format::Sqlite);
    let args = format!("query {} --errors", protocol.path.display());
    let Some(coloured) = on_a_terminal(&args, false) else {
        eprintln!("`script` is not installed: no pseudo-terminal to test colour on");
        return;
    };
    assert!(coloured.contains("\x1b[31merror\x1b[0m"), "{coloured:?}");
    let plain = on_a_terminal(&args, true).unwrap();
    assert!(
        plain.contains("error") && !plain.contains('\x1b'),
        "{plain:?}"
    );
    let piped = ok(&run_on("query", &protocol.path, &["--errors"]));
    assert!(!piped.contains('\x1b'), "{piped:?}");
}
