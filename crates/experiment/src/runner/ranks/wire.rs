//! The messages of a rank-parallel sweep: tags, what each carries, and the framing of a
//! finished run with its files. Everything received is checked, never trusted.

use std::path::PathBuf;

use femscale_core::{Error, Result};
use femscale_distributed::{MAX_MESSAGE_BYTES, Tag};
use serde::{Deserialize, Serialize};

use crate::store::RunRecord;

/// A received file: path relative to the output directory, bytes.
pub(super) type ReceivedFile<'a> = (PathBuf, &'a [u8]);

/// A rank's first message to rank 0: [`Hello`].
pub(super) const HELLO: Tag = 1;
/// Rank 0's orders to a rank: [`Order`].
pub(super) const ORDER: Tag = 2;
/// A rank's finished run: [`Outcome`] and the run's files.
pub(super) const RESULT: Tag = 3;

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Hello {
    /// SHA-256 of every run id of the experiment this rank loaded.
    pub(super) experiment: String,
    pub(super) node: String,
    pub(super) pid: u32,
    /// Why this rank cannot run anything (its plugins or caches did not open).
    pub(super) error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Order {
    /// Run the experiment's run `index` (point-major), whose id is `run_id`.
    Run { index: usize, run_id: String },
    /// No more runs.
    Stop,
}

/// A finished run as sent to rank 0; the files' bytes follow the header in the same message.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Outcome {
    pub(super) index: usize,
    pub(super) record: RunRecord,
    /// The run's output files: path relative to the output directory, length in bytes.
    pub(super) files: Vec<(String, u64)>,
}

pub(super) fn protocol(message: String) -> Error {
    Error::Communication { message }
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain structs of strings and numbers: serialisation cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| protocol(format!("{what} that does not decode: {e}")))
}

/// `[header length: u64 LE][header JSON][file bytes, in the header's order]`.
pub(super) fn encode_outcome(
    index: usize,
    record: &RunRecord,
    files: &[(PathBuf, Vec<u8>)],
) -> Result<Vec<u8>> {
    let outcome = Outcome {
        index,
        record: record.clone(),
        files: files
            .iter()
            .map(|(p, b)| (p.to_string_lossy().into_owned(), b.len() as u64))
            .collect(),
    };
    let header = encode(&outcome);
    let total = 8 + header.len() + files.iter().map(|(_, b)| b.len()).sum::<usize>();
    if total > MAX_MESSAGE_BYTES {
        return Err(protocol(format!(
            "the run's outputs take {total} bytes, more than the {MAX_MESSAGE_BYTES} bytes of one \
             message to rank 0 (run this point without MPI, or without `vtu` output)"
        )));
    }
    let mut message = Vec::with_capacity(total);
    message.extend_from_slice(&(header.len() as u64).to_le_bytes());
    message.extend_from_slice(&header);
    for (_, bytes) in files {
        message.extend_from_slice(bytes);
    }
    Ok(message)
}

/// The inverse of [`encode_outcome`], checking every length against the message.
pub(super) fn decode_outcome(message: &[u8]) -> Result<(Outcome, Vec<ReceivedFile<'_>>)> {
    let bad = |what: &str| protocol(format!("a result message {what}"));
    let (length, rest) = message
        .split_first_chunk::<8>()
        .ok_or_else(|| bad("shorter than its header's length"))?;
    let length =
        usize::try_from(u64::from_le_bytes(*length)).map_err(|_| bad("with a huge header"))?;
    if length > rest.len() {
        return Err(bad("shorter than its header"));
    }
    let (header, mut body) = rest.split_at(length);
    let outcome: Outcome = decode(header, "a result header")?;
    let mut files = Vec::with_capacity(outcome.files.len());
    for (path, len) in &outcome.files {
        let len = usize::try_from(*len).map_err(|_| bad("with a huge file"))?;
        if len > body.len() {
            return Err(bad("shorter than the files it announces"));
        }
        let (bytes, rest) = body.split_at(len);
        files.push((PathBuf::from(path), bytes));
        body = rest;
    }
    if !body.is_empty() {
        return Err(bad("longer than the files it announces"));
    }
    Ok((outcome, files))
}
