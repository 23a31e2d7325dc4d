//! A request body read whole, within a bound that holds after
//! decompression: a gzip bomb is cut off while it inflates, never after.

use std::io::Read;

use axum::body::Body;
use http_body_util::{BodyExt, Limited};

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the bound (compressed or inflated).
    TooLarge(usize),
    /// The connection ended before the body did, or it did not inflate.
    Broken(String),
}

/// Reads the body, at most `limit` bytes of it on the wire.
pub async fn read(body: Body, limit: usize) -> Result<Vec<u8>, BodyError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge(limit)),
        Err(e) => Err(BodyError::Broken(format!("the body was cut off: {e}"))),
    }
}

/// Inflates a gzip body, stopping as soon as it passes `limit` bytes.
pub fn gunzip(compressed: &[u8], limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(compressed).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Broken(format!("the gzip body does not inflate: {e}")))?;
    if out.len() > limit {
        return Err(BodyError::TooLarge(limit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_bomb_is_cut_off_at_the_limit_and_a_small_body_inflates() {
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 1 << 20);
        assert!(matches!(
            gunzip(&bomb, 1 << 20),
            Err(BodyError::TooLarge(_))
        ));
        assert_eq!(gunzip(&gzip(b"hello"), 5).unwrap(), b"hello");
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(BodyError::Broken(_))
        ));
    }
}
