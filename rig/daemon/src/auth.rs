//! Bearer tokens: the tokens file keeps each token's SHA-256, never the token; a request's
//! token is hashed and compared in constant time with every entry.
//!
//! ```toml
//! [[tokens]]
//! name = "ci-nightly"
//! sha256 = "9f86d08..."   # `cutpoint token new ci-nightly --scope submit --tokens tokens.toml`
//! scope = "submit"        # read, submit or admin
//! ```

use std::path::Path;

use cutpoint_campaign::FileError;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use toml::Spanned;

use crate::lab::Errors;

/// What a token may do; each scope includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// List and read runs, reports, benches and events.
    Read,
    /// Submit and cancel runs, take and release leases.
    Submit,
    /// Drain and resume benches.
    Admin,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Submit => "submit",
            Scope::Admin => "admin",
        }
    }

    pub fn from_name(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "submit" => Some(Scope::Submit),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenEntry {
    pub name: String,
    hash: [u8; 32],
    pub scope: Scope,
}

/// The tokens of a tokens file.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tokens: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: Spanned<String>,
    sha256: Spanned<String>,
    scope: Spanned<String>,
}

/// SHA-256 of a token, as the tokens file stores it.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn load_tokens(path: &Path) -> Result<Tokens, Vec<FileError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![FileError::whole_file(
            &path.display().to_string(),
            format!("cannot read the tokens file: {e}"),
        )]
    })?;
    parse_tokens(&text, path)
}

pub fn parse_tokens(text: &str, path: &Path) -> Result<Tokens, Vec<FileError>> {
    let mut errs = Errors::new(path, text);
    let raw: RawFile = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            errs.toml(e);
            return Err(errs.list);
        }
    };
    let mut entries = Vec::new();
    for t in raw.tokens {
        let name = t.name.get_ref().clone();
        let hash = hex::decode(t.sha256.get_ref().trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok());
        let scope = Scope::from_name(t.scope.get_ref());
        if hash.is_none() {
            errs.at(
                t.sha256.span(),
                &format!("tokens.{name}.sha256"),
                "expected the token's SHA-256 as 64 hex digits (the token itself is never stored)",
            );
        }
        if scope.is_none() {
            errs.at(
                t.scope.span(),
                &format!("tokens.{name}.scope"),
                format!(
                    "unknown scope `{}`; expected \"read\", \"submit\" or \"admin\"",
                    t.scope.get_ref()
                ),
            );
        }
        if let (Some(hash), Some(scope)) = (hash, scope) {
            entries.push(TokenEntry { name, hash, scope });
        }
    }
    if !errs.list.is_empty() {
        return Err(errs.list);
    }
    Ok(Tokens { entries })
}

/// Whether `text` reads as a tokens file: `[[tokens]]` tables and nothing else.
pub fn looks_like_tokens(text: &str) -> bool {
    text.parse::<toml::Table>()
        .is_ok_and(|t| t.len() == 1 && t.get("tokens").is_some_and(toml::Value::is_array))
}

impl Tokens {
    /// One line per token: its name and scope (never its hash).
    pub fn describe(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| format!("token {}: {}", e.name, e.scope.name()))
            .collect()
    }

    /// The entry whose hash is the token's, compared in constant time against every entry (so
    /// the time taken says nothing about which entry, or how much of one, matched).
    pub fn find(&self, token: &str) -> Option<&TokenEntry> {
        let h = hash_token(token);
        let mut found = None;
        for e in &self.entries {
            if bool::from(e.hash.ct_eq(&h)) {
                found = Some(e);
            }
        }
        found
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A new random token (32 bytes, hex) and the tokens-file entry that admits it.
pub fn new_token(name: &str, scope: Scope) -> (String, String) {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("cpt_{}", hex::encode(bytes));
    let entry = format!(
        "[[tokens]]\nname = {}\nsha256 = \"{}\"\nscope = \"{}\"\n",
        toml::Value::String(name.to_string()),
        hex::encode(hash_token(&token)),
        scope.name()
    );
    (token, entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_found_by_its_hash_with_its_scope() {
        let (token, entry) = new_token("ci", Scope::Submit);
        let t = parse_tokens(&entry, Path::new("tokens.toml")).unwrap();
        assert_eq!(t.find(&token).map(|e| e.scope), Some(Scope::Submit));
        assert!(t.find("cpt_other").is_none());
        assert!(!entry.contains(&token), "the file keeps the hash only");
    }

    #[test]
    fn bad_entries_are_located() {
        let e = parse_tokens(
            "[[tokens]]\nname = \"a\"\nsha256 = \"zz\"\nscope = \"root\"\n",
            Path::new("tokens.toml"),
        )
        .unwrap_err();
        let text = cutpoint_campaign::format_errors(&e);
        assert!(
            text.contains("tokens.toml:3:10: tokens.a.sha256: expected the token's SHA-256"),
            "{text}"
        );
        assert!(
            text.contains("tokens.toml:4:9: tokens.a.scope: unknown scope `root`"),
            "{text}"
        );
    }

    #[test]
    fn scopes_include_the_lesser_ones() {
        assert!(Scope::Admin > Scope::Submit && Scope::Submit > Scope::Read);
    }
}
