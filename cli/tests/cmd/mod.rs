//! Running the built `weir` binary, and the check of its one error line, shared by the CLI's
//! integration tests.

use std::process::{Command, Output};

/// Runs the `weir` binary with `args` and waits for it.
pub fn weir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .output()
        .expect("run weir")
}

/// The run's stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a failed run: non-zero exit, stderr exactly one line `error: <kind>: …`.
pub fn assert_one_error_line(out: &Output, kind: &str) -> String {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure, got {:?}; stderr {err:?}",
        out.status
    );
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.starts_with(&format!("error: {kind}: ")), "{err:?}");
    assert!(err.ends_with('\n'));
    err
}
