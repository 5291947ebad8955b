//! Three-way text merge: two versions of a document against their common ancestor, line by
//! line (diff3, through the `diffy` crate).
//!
//! A merge is clean when the two sides changed different lines; where both changed the same
//! lines it is conflicted, and the text carries conflict markers (`<<<<<<<`, `|||||||`,
//! `=======`, `>>>>>>>`) for a person to edit. Only text merges: a body that is not UTF-8, or
//! holds a NUL byte, is binary and refused.

/// What merging gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    /// No overlapping edits: the merged body.
    Clean(Vec<u8>),
    /// Both sides changed the same lines: the merge with conflict markers, and how many
    /// conflicting hunks it has.
    Conflicted { text: Vec<u8>, hunks: usize },
}

/// Why two bodies cannot be merged as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{which} is not text (binary bodies are not merged): keep one side with `--keep`")]
pub struct NotText {
    pub which: &'static str,
}

fn text<'a>(body: &'a [u8], which: &'static str) -> Result<&'a str, NotText> {
    match std::str::from_utf8(body) {
        Ok(s) if !s.contains('\0') => Ok(s),
        _ => Err(NotText { which }),
    }
}

/// Whether `body` would merge as text.
pub fn is_text(body: &[u8]) -> bool {
    text(body, "").is_ok()
}

/// Merges `ours` and `theirs` against `ancestor`. A clean merge does not depend on which side
/// is which, so two peers that merge the same conflict get the same bytes; the markers of a
/// conflicted one show `ours` first.
pub fn three_way(
    ancestor: &[u8],
    ours: &[u8],
    theirs: &[u8],
    labels: (&'static str, &'static str),
) -> Result<Merged, NotText> {
    let base = text(ancestor, "the common ancestor")?;
    let a = text(ours, labels.0)?;
    let b = text(theirs, labels.1)?;
    let mut options = diffy::MergeOptions::new();
    options.set_conflict_style(diffy::ConflictStyle::Diff3);
    // The clean result from a fixed order of the sides (byte order), so it is the same on every
    // peer whichever side is "mine" there.
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    match options.merge(base, first, second) {
        Ok(merged) => Ok(Merged::Clean(merged.into_bytes())),
        Err(_) => {
            let marked = match options.merge(base, a, b) {
                Ok(m) | Err(m) => m,
            };
            let hunks = marked.lines().filter(|l| l.starts_with("<<<<<<<")).count();
            let labelled = marked
                .lines()
                .map(|l| {
                    if l.starts_with("<<<<<<<") {
                        format!("<<<<<<< {}", labels.0)
                    } else if l.starts_with(">>>>>>>") {
                        format!(">>>>>>> {}", labels.1)
                    } else if l.starts_with("|||||||") {
                        "||||||| common ancestor".to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            let mut text = labelled.into_bytes();
            if marked.ends_with('\n') {
                text.push(b'\n');
            }
            Ok(Merged::Conflicted { text, hunks })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "title\n\none\ntwo\nthree\nfour\nfive\n";

    #[test]
    fn edits_to_different_lines_merge_the_same_whichever_side_is_ours() {
        let a = BASE.replace("one", "ONE");
        let b = BASE.replace("five", "FIVE");
        let ab = three_way(BASE.as_bytes(), a.as_bytes(), b.as_bytes(), ("a", "b")).unwrap();
        let ba = three_way(BASE.as_bytes(), b.as_bytes(), a.as_bytes(), ("b", "a")).unwrap();
        let want = BASE.replace("one", "ONE").replace("five", "FIVE");
        assert_eq!(ab, Merged::Clean(want.into_bytes()));
        assert_eq!(ab, ba);
    }

    #[test]
    fn edits_to_the_same_line_conflict_with_labelled_markers() {
        let a = BASE.replace("three", "THREE (mine)");
        let b = BASE.replace("three", "three (theirs)");
        let m = three_way(
            BASE.as_bytes(),
            a.as_bytes(),
            b.as_bytes(),
            ("mine", "theirs"),
        )
        .unwrap();
        let Merged::Conflicted { text, hunks } = m else {
            panic!("expected a conflict, got {m:?}");
        };
        assert_eq!(hunks, 1);
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("<<<<<<< mine\nTHREE (mine)\n"), "{text}");
        assert!(
            text.contains(
                "||||||| common ancestor\nthree\n=======\nthree (theirs)\n>>>>>>> theirs\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn binary_bodies_are_refused() {
        let err = three_way(b"", b"a\0b", b"text", ("mine", "theirs")).unwrap_err();
        assert_eq!(err.which, "mine");
        assert!(three_way(b"", b"ok", &[0xff, 0xfe], ("mine", "theirs")).is_err());
    }
}
