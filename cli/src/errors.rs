//! The command's one error line: `error: <kind>: <detail>`.

use std::fmt;

use weir::error::Kind;

/// A failure the command reports and exits on.
#[derive(Debug)]
pub struct CliError {
    /// Short machine-friendly kind (`connect`, `body-incomplete`, `usage`, `file`, …).
    pub kind: String,
    /// What happened, for a human.
    pub detail: String,
}

impl CliError {
    /// An error of `kind` saying `detail`.
    pub fn new(kind: &str, detail: impl fmt::Display) -> CliError {
        CliError {
            kind: kind.to_owned(),
            detail: detail.to_string(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}: {}", self.kind, self.detail)
    }
}

impl From<weir::Error> for CliError {
    fn from(e: weir::Error) -> CliError {
        CliError::new(kind_name(&e), &e)
    }
}

/// The short name of a library error's kind.
pub fn kind_name(e: &weir::Error) -> &'static str {
    match e.kind() {
        Kind::Connect => "connect",
        Kind::ConnectTimeout => "connect-timeout",
        Kind::ReadTimeout => "read-timeout",
        Kind::WriteTimeout => "write-timeout",
        Kind::PoolTimeout => "pool-timeout",
        Kind::RemoteProtocol(_) => "remote-protocol",
        Kind::LocalProtocol(_) => "local-protocol",
        Kind::ClosedBeforeResponse => "closed-before-response",
        Kind::ClosedMidResponse => "closed-mid-response",
        Kind::HeadTooLarge(_) => "head-too-large",
        Kind::BodyIncomplete => "body-incomplete",
        Kind::UnsupportedScheme => "unsupported-scheme",
        Kind::Io => "io",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir::error::Phase;

    #[test]
    fn one_line_with_kind_and_detail() {
        let e = weir::Error::new(Kind::BodyIncomplete, Phase::ReadBody).with_url("http://h/x");
        let line = CliError::from(e).to_string();
        assert!(line.starts_with("error: body-incomplete: "), "{line}");
        assert!(
            line.contains("http://h/x") && !line.contains('\n'),
            "{line}"
        );
    }
}
