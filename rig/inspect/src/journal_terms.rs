//! The journal's word for a decoded slot: one exhaustive mapping, so a new verdict cannot be
//! written under a name the journal does not know.

use cutpoint_core::journal::SlotValidity;

use crate::decode::Validity;

impl From<Validity> for SlotValidity {
    fn from(v: Validity) -> Self {
        match v {
            Validity::Valid => SlotValidity::Valid,
            Validity::NoHeader => SlotValidity::NoHeader,
            Validity::BadSize => SlotValidity::BadSize,
            Validity::BadTlv => SlotValidity::BadTlv,
            Validity::HashMismatch => SlotValidity::HashMismatch,
            Validity::UnknownKey => SlotValidity::UnknownKey,
            Validity::BadSignature => SlotValidity::BadSignature,
            Validity::Unverified => SlotValidity::Unverified,
            Validity::OutsideDump => SlotValidity::OutsideDump,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_writes_the_inspectors_names() {
        for v in [
            Validity::Valid,
            Validity::NoHeader,
            Validity::BadSize,
            Validity::BadTlv,
            Validity::HashMismatch,
            Validity::UnknownKey,
            Validity::BadSignature,
            Validity::Unverified,
            Validity::OutsideDump,
        ] {
            let journal = SlotValidity::from(v);
            assert!(!matches!(journal, SlotValidity::Other(_)), "{v}");
            assert_eq!(journal.as_str(), v.name());
        }
    }
}
