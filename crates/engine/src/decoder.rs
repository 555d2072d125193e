//! Incremental UTF-8 decoding of token pieces.
//!
//! A token's bytes may end in the middle of a multi-byte character (emoji, CJK). The
//! decoder keeps the incomplete tail until the next piece completes it, so streamed text
//! never contains U+FFFD for valid output.

/// One per sequence; feed every piece of that sequence in order.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    pending: Vec<u8>,
}

impl Utf8Decoder {
    /// Append a piece and return all complete characters decoded so far.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    return out;
                }
                Err(err) => {
                    let valid = err.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).unwrap_or_default());
                    match err.error_len() {
                        // Incomplete character at the end: keep it for the next piece.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        // Really invalid bytes: replace them, as any UTF-8 decoder would.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Whatever is left at the end of generation (an unfinished character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_split_across_pieces_is_whole() {
        let bytes = "a😀b你".as_bytes();
        let mut d = Utf8Decoder::default();
        let mut out = String::new();
        for b in bytes {
            out.push_str(&d.push(std::slice::from_ref(b)));
        }
        out.push_str(&d.finish());
        assert_eq!(out, "a😀b你");
    }

    #[test]
    fn incomplete_tail_is_held_back() {
        let mut d = Utf8Decoder::default();
        let emoji = "😀".as_bytes();
        assert_eq!(d.push(&emoji[..2]), "");
        assert_eq!(d.push(&emoji[2..]), "😀");
    }

    #[test]
    fn invalid_bytes_are_replaced_not_stuck() {
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(d.finish(), "");
    }

    #[test]
    fn unfinished_character_at_end_is_reported() {
        let mut d = Utf8Decoder::default();
        assert_eq!(d.push(&"é".as_bytes()[..1]), "");
        assert_eq!(d.finish(), "\u{fffd}");
    }
}
