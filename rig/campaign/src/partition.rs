//! Splitting a campaign's cut points over several machines or benches.

use std::fmt;

/// Why a partition `k/n` is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionError {
    /// The text is not `k/n` or `count:k/n`.
    Syntax(String),
    /// `n` is 0.
    NoPartitions,
    /// `k` is not in `1..=n`.
    OutOfRange { k: u32, n: u32 },
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionError::Syntax(s) => write!(f, "expected a partition \"k/n\" (or \"count:k/n\"), got \"{s}\""),
            PartitionError::NoPartitions => write!(f, "expected at least one partition (n >= 1), got n = 0"),
            PartitionError::OutOfRange { k, n } => write!(f, "expected a partition number k in [1, {n}], got {k}"),
        }
    }
}

impl std::error::Error for PartitionError {}

/// Checks that `k` is one of `n` partitions (both counting from 1).
pub fn check_partition(k: u32, n: u32) -> Result<(), PartitionError> {
    if n == 0 {
        return Err(PartitionError::NoPartitions);
    }
    if k == 0 || k > n {
        return Err(PartitionError::OutOfRange { k, n });
    }
    Ok(())
}

/// Parses `k/n` or `count:k/n`.
pub fn parse_partition(s: &str) -> Result<(u32, u32), PartitionError> {
    let t = s.trim();
    let t = t.strip_prefix("count:").unwrap_or(t);
    let (k, n) = t.split_once('/').ok_or_else(|| PartitionError::Syntax(s.to_string()))?;
    let k: u32 = k.trim().parse().map_err(|_| PartitionError::Syntax(s.to_string()))?;
    let n: u32 = n.trim().parse().map_err(|_| PartitionError::Syntax(s.to_string()))?;
    check_partition(k, n)?;
    Ok((k, n))
}

/// Whether the first-level point at `index` (0-based, in plan order) belongs to partition `k`
/// of `n`: it goes to partition `(index mod n) + 1`, and the chains that follow it go with it.
/// No partition takes every point; an invalid `k/n` takes none (check it first with
/// [`check_partition`]).
pub fn in_partition(index: u64, partition: Option<(u32, u32)>) -> bool {
    match partition {
        None => true,
        Some((k, n)) => check_partition(k, n).is_ok() && index % u64::from(n) + 1 == u64::from(k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse_partition("2/4"), Ok((2, 4)));
        assert_eq!(parse_partition("count:1/1"), Ok((1, 1)));
        assert_eq!(parse_partition(" 3 / 3 "), Ok((3, 3)));
        assert_eq!(parse_partition("0/4"), Err(PartitionError::OutOfRange { k: 0, n: 4 }));
        assert_eq!(parse_partition("5/4"), Err(PartitionError::OutOfRange { k: 5, n: 4 }));
        assert_eq!(parse_partition("1/0"), Err(PartitionError::NoPartitions));
        assert!(matches!(parse_partition("hash:1/2"), Err(PartitionError::Syntax(_))));
        assert!(matches!(parse_partition("1-2"), Err(PartitionError::Syntax(_))));
        assert!(matches!(parse_partition("-1/2"), Err(PartitionError::Syntax(_))));
    }
}
