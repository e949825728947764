//! Where passphrases come from: `--passphrase-file FILE` (its first line), else the
//! `URBIS_PASSPHRASE` environment variable, else a prompt on the terminal (never echoed). A
//! script with neither a file nor the variable, and no terminal, gets a clear error instead of
//! a hang. Passphrases are zeroed when dropped and never printed.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::fail;

/// Environment variable holding the passphrase (for scripts; prefer a file).
pub const ENV: &str = "URBIS_PASSPHRASE";
/// Environment variable holding the new passphrase for `keys change-passphrase`.
pub const ENV_NEW: &str = "URBIS_NEW_PASSPHRASE";

pub type Passphrase = Zeroizing<String>;

/// Where to read passphrases from.
#[derive(Clone, Debug, Default)]
pub struct Source {
    pub file: Option<PathBuf>,
}

impl Source {
    pub fn new(file: Option<PathBuf>) -> Self {
        Source { file }
    }

    /// The passphrase for `what` (e.g. "the keystore"), from the file, the environment or the
    /// terminal.
    pub fn get(&self, what: &str) -> anyhow::Result<Passphrase> {
        if let Some(f) = &self.file {
            return read_file(f);
        }
        if let Some(p) = from_env(ENV) {
            return Ok(p);
        }
        prompt(&format!("Passphrase for {what}: "))
    }

    /// A new passphrase for `what`: from `file`, else `env`, else asked twice on the terminal.
    pub fn new_passphrase(
        what: &str,
        file: Option<&Path>,
        env: &str,
    ) -> anyhow::Result<Passphrase> {
        if let Some(f) = file {
            return read_file(f);
        }
        if let Some(p) = from_env(env) {
            return Ok(p);
        }
        let first = prompt(&format!("New passphrase for {what}: "))?;
        let again = prompt("Repeat it: ")?;
        if *first != *again {
            return Err(fail("invalid_argument", "the two passphrases differ"));
        }
        Ok(first)
    }
}

fn from_env(var: &str) -> Option<Passphrase> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Zeroizing::new)
}

fn read_file(path: &Path) -> anyhow::Result<Passphrase> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| fail("io", format!("passphrase file {}: {e}", path.display())))?,
    );
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(fail(
            "invalid_argument",
            format!("passphrase file {} is empty", path.display()),
        ));
    }
    Ok(Zeroizing::new(line.to_string()))
}

fn prompt(question: &str) -> anyhow::Result<Passphrase> {
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            "passphrase_required",
            format!(
                "a passphrase is needed and there is no terminal to ask: use --passphrase-file \
                 FILE or set {ENV}"
            ),
        ));
    }
    let p = Zeroizing::new(
        rpassword::prompt_password(question)
            .map_err(|e| fail("io", format!("cannot read the passphrase: {e}")))?,
    );
    if p.is_empty() {
        return Err(fail("invalid_argument", "the passphrase is empty"));
    }
    Ok(p)
}
