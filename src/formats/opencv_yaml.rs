//! OpenCV FileStorage YAML (`cv::FileStorage` writing `*.yml` / `*.yaml`), read into the same
//! [`FileStorage`] as the XML form, so [`super::opencv::camera`] treats both alike.
//!
//! The subset OpenCV writes: a `%YAML:1.0` header (and `---`), then top-level `name: value`
//! pairs whose value is a plain scalar (`image_width: 640`, `avg_reprojection_error: 0.31`), a
//! quoted string, or a matrix, in block style
//!
//! ```yaml
//! camera_matrix: !!opencv-matrix
//!    rows: 3
//!    cols: 3
//!    dt: d
//!    data: [ 5.0e+02, 0., 3.2e+02, 0., 5.1e+02, 2.4e+02, 0., 0.,
//!        1. ]
//! ```
//!
//! or flow style (`{ rows: 3, cols: 3, dt: d, data: [ ... ] }`). Comments (`#`) are skipped,
//! and so are nested mappings and sequences (a calibration needs none of them). OpenCV writes
//! non-finite numbers as `.Nan` / `.Inf`: they are read, then refused like any NaN.

use super::ImportError;
use super::opencv::{CvMatrix, FileStorage};
use std::collections::BTreeMap;
use std::path::Path;

/// Reads an OpenCV FileStorage YAML document; `path` is only for messages.
pub fn parse(text: &str, path: &Path) -> Result<FileStorage, ImportError> {
    let mut matrices = BTreeMap::new();
    let mut scalars = BTreeMap::new();
    for entry in entries(text, path)? {
        let tokens = tokenize(&entry.value)
            .map_err(|e| ImportError::invalid(path, format!("line {}: {e}", entry.line)))?;
        let Some((first, rest)) = tokens.split_first() else {
            continue;
        };
        match first {
            Token::Word(tag) if is_matrix_tag(tag) => {
                let m = matrix(rest, &entry.key)
                    .map_err(|e| ImportError::invalid(path, format!("line {}: {e}", entry.line)))?;
                matrices.insert(entry.key.to_ascii_lowercase(), m);
            }
            // Other tagged nodes (`!!opencv-nd-matrix`, ...) are nothing a calibration needs.
            Token::Word(tag) if tag.starts_with('!') => {}
            Token::Word(w) if rest.is_empty() => {
                if let Some(v) = number(w) {
                    scalars.insert(entry.key.to_ascii_lowercase(), v);
                }
            }
            _ => {}
        }
    }
    Ok(FileStorage { matrices, scalars })
}

/// One top-level `name: value` pair with the value's text (all its lines).
struct Entry {
    /// 1-based line of the name.
    line: usize,
    key: String,
    value: String,
}

/// Splits the document into its top-level pairs: a pair starts on an unindented line and goes
/// on over indented lines and over the lines of an open `[` or `{`.
fn entries(text: &str, path: &Path) -> Result<Vec<Entry>, ImportError> {
    let mut out: Vec<Entry> = Vec::new();
    let mut depth: i64 = 0;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw).trim_end();
        if depth == 0 {
            if line.trim().is_empty() {
                continue;
            }
            let indented = line.starts_with([' ', '\t']);
            if !indented {
                if line.starts_with('%') || line == "---" || line == "..." {
                    // `%YAML:1.0` and the document markers.
                    continue;
                }
                let (key, value) = split_key(line).ok_or_else(|| {
                    ImportError::invalid(
                        path,
                        format!(
                            "line {n}: expected `name: value`, found {:?}",
                            truncate(line, 60)
                        ),
                    )
                })?;
                out.push(Entry {
                    line: n,
                    key: key.to_owned(),
                    value: value.to_owned(),
                });
            } else {
                let Some(e) = out.last_mut() else {
                    return Err(ImportError::invalid(
                        path,
                        format!("line {n}: an indented line before any name"),
                    ));
                };
                e.value.push('\n');
                e.value.push_str(line);
            }
        } else if let Some(e) = out.last_mut() {
            e.value.push('\n');
            e.value.push_str(line);
        }
        depth += bracket_delta(line);
        if depth < 0 {
            return Err(ImportError::invalid(
                path,
                format!("line {n}: a `]` or `}}` closes nothing"),
            ));
        }
    }
    if depth != 0 {
        let line = out.last().map_or(0, |e| e.line);
        return Err(ImportError::invalid(
            path,
            format!("line {line}: a `[` or `{{` is never closed"),
        ));
    }
    Ok(out)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The line without its comment (`#` at the start or after a blank, outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_blank = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev_blank => return line.get(..i).unwrap_or(""),
            None => {}
        }
        prev_blank = c.is_whitespace();
    }
    line
}

/// `name` and the rest of a `name: value` line (the colon followed by a blank or the end).
fn split_key(line: &str) -> Option<(&str, &str)> {
    let bytes = line.as_bytes();
    let at = line.char_indices().find_map(|(i, c)| {
        (c == ':' && bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace())).then_some(i)
    })?;
    let key = line.get(..at)?.trim();
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .unwrap_or(key);
    if key.is_empty() || key.starts_with(['-', '[', '{']) {
        return None;
    }
    Some((key, line.get(at + 1..)?))
}

/// Opened minus closed brackets on a line, outside quotes.
fn bracket_delta(line: &str) -> i64 {
    let mut quote: Option<char> = None;
    let mut d = 0;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => d += 1,
                ']' | '}' => d -= 1,
                _ => {}
            },
        }
    }
    d
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A plain scalar, a tag or a key.
    Word(String),
    Quoted(String),
    Colon,
    Comma,
    OpenSeq,
    CloseSeq,
    OpenMap,
    CloseMap,
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => format!("{w:?}"),
        Token::Quoted(s) => format!("\"{s}\""),
        Token::Colon => "`:`".to_owned(),
        Token::Comma => "`,`".to_owned(),
        Token::OpenSeq => "`[`".to_owned(),
        Token::CloseSeq => "`]`".to_owned(),
        Token::OpenMap => "`{`".to_owned(),
        Token::CloseMap => "`}`".to_owned(),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '[' | ']' | '{' | '}' | ',' => {
                chars.next();
                out.push(match c {
                    '[' => Token::OpenSeq,
                    ']' => Token::CloseSeq,
                    '{' => Token::OpenMap,
                    '}' => Token::CloseMap,
                    _ => Token::Comma,
                });
            }
            '"' | '\'' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    if d == '\\' && c == '"' {
                        if let Some(e) = chars.next() {
                            s.push(e);
                        }
                        continue;
                    }
                    s.push(d);
                }
                if !closed {
                    return Err("a quoted string is never closed".to_owned());
                }
                out.push(Token::Quoted(s));
            }
            _ => {
                let mut w = String::new();
                while let Some(&d) = chars.peek() {
                    if d.is_whitespace() || matches!(d, '[' | ']' | '{' | '}' | ',') {
                        break;
                    }
                    w.push(d);
                    chars.next();
                }
                match w.strip_suffix(':') {
                    Some("") => out.push(Token::Colon),
                    Some(k) => {
                        out.push(Token::Word(k.to_owned()));
                        out.push(Token::Colon);
                    }
                    None => out.push(Token::Word(w)),
                }
            }
        }
    }
    Ok(out)
}

fn is_matrix_tag(tag: &str) -> bool {
    matches!(
        tag,
        "!!opencv-matrix" | "!opencv-matrix" | "!<tag:yaml.org,2002:opencv-matrix>"
    )
}

/// A number as OpenCV writes it, `.Nan` and `.Inf` included.
fn number(w: &str) -> Option<f64> {
    match w.to_ascii_lowercase().as_str() {
        ".nan" => Some(f64::NAN),
        ".inf" | "+.inf" => Some(f64::INFINITY),
        "-.inf" => Some(f64::NEG_INFINITY),
        _ => w.parse().ok(),
    }
}

/// A matrix from the tokens after its tag.
fn matrix(tokens: &[Token], name: &str) -> Result<CvMatrix, String> {
    let mut it = tokens.iter().peekable();
    let flow = it.next_if_eq(&&Token::OpenMap).is_some();
    let (mut rows, mut cols, mut data): (Option<usize>, Option<usize>, Option<Vec<f64>>) =
        (None, None, None);
    while let Some(t) = it.next() {
        let key = match t {
            Token::Comma => continue,
            Token::CloseMap if flow => {
                if let Some(extra) = it.next() {
                    return Err(format!(
                        "matrix {name}: {} after the closing `}}`",
                        describe(extra)
                    ));
                }
                break;
            }
            Token::Word(k) | Token::Quoted(k) => k.as_str(),
            other => {
                return Err(format!(
                    "matrix {name}: expected a field name, found {}",
                    describe(other)
                ));
            }
        };
        if it.next() != Some(&Token::Colon) {
            return Err(format!("matrix {name}: expected `:` after {key:?}"));
        }
        match it.next() {
            Some(Token::OpenSeq) => {
                let mut values = Vec::new();
                loop {
                    match it.next() {
                        Some(Token::CloseSeq) => break,
                        Some(Token::Comma) => {}
                        Some(Token::Word(w)) => values.push(number(w).ok_or_else(|| {
                            format!("matrix {name} has a value that is not a number ({w:?})")
                        })?),
                        Some(other) => {
                            return Err(format!(
                                "matrix {name}: {} inside its {key}",
                                describe(other)
                            ));
                        }
                        None => return Err(format!("matrix {name}: its {key} is never closed")),
                    }
                }
                if key == "data" {
                    data = Some(values);
                }
            }
            Some(Token::Word(v)) | Some(Token::Quoted(v)) => {
                let count = || {
                    v.parse::<usize>()
                        .map_err(|_| format!("matrix {name} has no valid {key} ({v:?})"))
                };
                match key {
                    "rows" => rows = Some(count()?),
                    "cols" => cols = Some(count()?),
                    "data" => {
                        // A one-element matrix may be written without brackets.
                        data = Some(vec![number(v).ok_or_else(|| {
                            format!("matrix {name} has a value that is not a number ({v:?})")
                        })?]);
                    }
                    _ => {}
                }
            }
            other => {
                return Err(format!(
                    "matrix {name}: {key} has no value (found {})",
                    other.map_or_else(|| "the end".to_owned(), describe)
                ));
            }
        }
    }
    let rows = rows.ok_or_else(|| format!("matrix {name} has no valid rows"))?;
    let cols = cols.ok_or_else(|| format!("matrix {name} has no valid cols"))?;
    let data = data.ok_or_else(|| format!("matrix {name} has no data"))?;
    if rows.checked_mul(cols) != Some(data.len()) {
        return Err(format!(
            "matrix {name} is {rows}x{cols} but has {} values",
            data.len()
        ));
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(format!("matrix {name} contains NaN or infinite values"));
    }
    Ok(CvMatrix { rows, cols, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `cv::FileStorage` (OpenCV 4) writes it, with a comment added by hand.
    const DOC: &str = "%YAML:1.0
---
calibration_time: \"Thu 12 Mar 2026 10:31:07 CET\"
image_width: 640
image_height: 480
# the camera matrix
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 5.0000000000000000e+02, 0., 3.2000000000000000e+02, 0.,
       5.1000000000000000e+02, 2.4000000000000000e+02, 0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 1
   cols: 5
   dt: d
   data: [ -3.0000000000000004e-01, 2.0000000000000001e-01,
       1.0000000000000000e-03, 2.0000000000000001e-04,
       -7.0000000000000007e-02 ]
avg_reprojection_error: 3.1e-01
per_view_errors: [ 0.2, 0.3 ]
board:
   width: 9
   height: 6
";

    #[test]
    fn reads_what_opencv_writes() {
        let fs = parse(DOC, Path::new("camera.yml")).expect("parses");
        let k = &fs.matrices["camera_matrix"];
        assert_eq!((k.rows, k.cols), (3, 3));
        assert_eq!(
            k.data,
            vec![500.0, 0.0, 320.0, 0.0, 510.0, 240.0, 0.0, 0.0, 1.0]
        );
        let d = &fs.matrices["distortion_coefficients"];
        assert_eq!((d.rows, d.cols, d.data.len()), (1, 5, 5));
        assert_eq!(d.data[4], -0.07);
        assert_eq!(fs.scalars["image_width"], 640.0);
        assert_eq!(fs.scalars["avg_reprojection_error"], 0.31);
        // Nested mappings and strings are not scalars of the document.
        assert!(!fs.scalars.contains_key("width") && !fs.scalars.contains_key("board"));
        assert!(!fs.scalars.contains_key("calibration_time"));
    }

    #[test]
    fn reads_flow_style_and_old_headers() {
        let doc = "%YAML 1.0\nR: !!opencv-matrix {rows: 3, cols: 1, dt: d, data: [0.1, 0.2, 0.3]}\nT: !!opencv-matrix\n  rows: 1\n  cols: 1\n  dt: f\n  data: [ 2.5 ]\n";
        let fs = parse(doc, Path::new("c.yaml")).expect("parses");
        assert_eq!(fs.matrices["r"].data, vec![0.1, 0.2, 0.3]);
        assert_eq!(fs.matrices["t"].data, vec![2.5]);
    }

    #[test]
    fn broken_documents_are_explained() {
        let p = Path::new("bad.yml");
        for (doc, needle) in [
            (
                DOC.replace("0., 0., 1. ]", "0., 0. ]"),
                "3x3 but has 8 values",
            ),
            (DOC.replace("0., 0., 1. ]", "0., 0., 1."), "never closed"),
            (
                DOC.replace("5.1000000000000000e+02", "5.1O0e+02"),
                "not a number",
            ),
            (DOC.replace("-7.0000000000000007e-02", ".Nan"), "NaN"),
            (DOC.replace("rows: 3", "rows: three"), "rows"),
            (
                DOC.replace("rows: 1", "rows: 9999999999999999999"),
                "but has 5 values",
            ),
            (DOC.replace("image_width: 640", "image_width 640"), "line 4"),
            (DOC.replace("%YAML:1.0", "  indented: 1"), "line 1"),
        ] {
            let e = parse(&doc, p).expect_err(needle).to_string();
            assert!(
                e.contains(needle) && e.ends_with("bad.yml"),
                "{needle}: {e}"
            );
        }
    }
}
