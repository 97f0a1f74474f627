//! Configuration errors, located at `file:line:column` and named by key path.
//!
//! Everything that goes wrong while reading a configuration is reported as a [`ConfigError`]
//! that points at the offending value (or key) in the file, so that an operator can jump to it
//! with any editor: `bgpod.toml:12:13: peers[1].hold_time: hold time 1 is not allowed; ...`.
//! Internally the parser and the validator work with byte spans ([`Problem`]); [`Locator`]
//! turns them into 1-based lines and columns once, at the end.

use std::fmt;
use std::ops::Range;

/// One problem found in a configuration file.
///
/// `line` and `column` are 1-based; the column counts characters, not bytes. Both are 0 when the
/// problem has no position in the file (the file could not be read at all). `key` is the path of
/// the offending key, e.g. `peers[1].hold_time` (array indices are 0-based); it is empty for
/// syntax errors that happen outside any key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(self))]
pub struct ConfigError {
    /// The file name, as given to [`crate::Config::load`] or [`crate::Config::parse`].
    pub file: String,
    /// 1-based line of the offending value or key; 0 if the error has no position.
    pub line: usize,
    /// 1-based column (in characters) of the offending value or key; 0 if no position.
    pub column: usize,
    /// Key path such as `peers[1].hold_time`; empty if the error is not about one key.
    pub key: String,
    /// What is wrong, and what to write instead where that is known.
    pub message: String,
}

fn render(e: &ConfigError) -> String {
    let mut out = e.file.clone();
    if e.line > 0 {
        out.push_str(&format!(":{}:{}", e.line, e.column));
    }
    out.push_str(": ");
    if !e.key.is_empty() {
        out.push_str(&e.key);
        out.push_str(": ");
    }
    out.push_str(&e.message);
    out
}

/// Every problem found in a configuration file, in file order.
///
/// `Display` writes one [`ConfigError`] per line (no trailing newline), ready for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A problem located by byte span, before it is turned into a [`ConfigError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub span: Range<usize>,
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn new(span: Range<usize>, key: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            span,
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Maps byte offsets in one file to 1-based line and column numbers.
pub(crate) struct Locator<'a> {
    text: &'a str,
    file: &'a str,
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str, file: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Locator {
            text,
            file,
            line_starts,
        }
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        // `line_starts[0] == 0`, so the partition point is at least 1.
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }

    pub fn error(&self, problem: Problem) -> ConfigError {
        let (line, column) = self.position(problem.span.start);
        ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            key: problem.key,
            message: problem.message,
        }
    }

    /// Converts problems into errors sorted by position in the file.
    pub fn errors(&self, problems: Vec<Problem>) -> ConfigErrors {
        let mut errors: Vec<ConfigError> = problems.into_iter().map(|p| self.error(p)).collect();
        errors.sort_by_key(|e| (e.line, e.column));
        ConfigErrors(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        let loc = Locator::new(text, "f.toml");
        assert_eq!(loc.position(0), (1, 1));
        assert_eq!(loc.position(4), (1, 5));
        assert_eq!(loc.position(6), (2, 1));
        // "bé = " is 6 bytes but 5 characters: the value starts at column 6.
        assert_eq!(loc.position(12), (2, 6));
        // An offset inside a multi-byte character moves back to its start.
        assert_eq!(loc.position(8), (2, 2));
        // End of file, and past it, stay on the last (empty) line.
        assert_eq!(loc.position(text.len()), (3, 1));
        assert_eq!(loc.position(text.len() + 10), (3, 1));
    }

    #[test]
    fn display_formats() {
        let e = ConfigError {
            file: "bgpod.toml".into(),
            line: 12,
            column: 13,
            key: "peers[1].hold_time".into(),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "bgpod.toml:12:13: peers[1].hold_time: bad");
        let no_key = ConfigError {
            key: String::new(),
            ..e.clone()
        };
        assert_eq!(no_key.to_string(), "bgpod.toml:12:13: bad");
        let no_position = ConfigError {
            line: 0,
            column: 0,
            key: String::new(),
            ..e.clone()
        };
        assert_eq!(no_position.to_string(), "bgpod.toml: bad");
        let all = ConfigErrors(vec![e.clone(), no_key]);
        assert_eq!(
            all.to_string(),
            "bgpod.toml:12:13: peers[1].hold_time: bad\nbgpod.toml:12:13: bad"
        );
    }

    #[test]
    fn errors_are_sorted_by_position() {
        let text = "a = 1\nb = 2\n";
        let loc = Locator::new(text, "f");
        let errors = loc.errors(vec![
            Problem::new(10..11, "b", "two"),
            Problem::new(4..5, "a", "one"),
        ]);
        let keys: Vec<&str> = errors.0.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
    }
}
