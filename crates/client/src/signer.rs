//! Signing and sending transactions.

use urbis_core::{Address, Call, ChainRef, Hash, PublicKey, Receipt, SecretKey, SignedTx};

use crate::api::SubmitResult;
use crate::client::Client;
use crate::error::ClientError;

/// A key plus the chain it signs for: the chain id and the digest of its genesis block, which
/// every signature binds (so a transaction signed for a chain that was later reset under the
/// same id is refused).
///
/// `Debug` never shows the secret (see [`SecretKey`]).
#[derive(Clone, Debug)]
pub struct Signer {
    pub key: SecretKey,
    pub chain: ChainRef,
}

impl Signer {
    pub fn new(key: SecretKey, chain_id: impl Into<String>, genesis_hash: Hash) -> Self {
        Signer {
            key,
            chain: ChainRef::new(chain_id, genesis_hash),
        }
    }

    /// A signer for the chain the node at `client` serves (its `/v1/status` chain id and
    /// genesis hash).
    pub async fn for_node(client: &Client, key: SecretKey) -> Result<Self, ClientError> {
        let status = client.status().await?;
        Ok(Signer::new(key, status.chain_id, status.genesis_hash))
    }

    pub fn chain_id(&self) -> &str {
        &self.chain.chain_id
    }

    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// Sign `call` with an explicit nonce.
    pub fn sign(&self, nonce: u64, call: Call) -> SignedTx {
        SignedTx::new(&self.chain, &self.key, nonce, call)
    }

    /// Fetch the next nonce (counting pending transactions) and sign `call` with it.
    pub async fn sign_next(&self, client: &Client, call: Call) -> Result<SignedTx, ClientError> {
        let nonce = client.next_nonce(&self.address()).await?;
        Ok(self.sign(nonce, call))
    }

    /// Sign with the next nonce, submit and wait for execution; returns the receipt, which may
    /// be a failure (use [`check_receipt`] to turn that into an error).
    pub async fn send(&self, client: &Client, call: Call) -> Result<Receipt, ClientError> {
        let tx = self.sign_next(client, call).await?;
        Ok(client.submit_and_wait(&tx).await?.receipt)
    }

    /// Sign with the next nonce and submit without waiting.
    pub async fn send_no_wait(
        &self,
        client: &Client,
        call: Call,
    ) -> Result<SubmitResult, ClientError> {
        let tx = self.sign_next(client, call).await?;
        client.submit(&tx).await
    }
}

/// `Ok(receipt)` if the transaction succeeded, [`ClientError::TxFailed`] otherwise.
pub fn check_receipt(receipt: Receipt) -> Result<Receipt, ClientError> {
    if receipt.success {
        return Ok(receipt);
    }
    let (code, message) = match &receipt.error {
        Some(e) => (e.code, e.message.clone()),
        None => (
            urbis_core::ErrorCode::Internal,
            "transaction failed without an error".to_string(),
        ),
    };
    Err(ClientError::TxFailed {
        hash: receipt.tx_hash,
        code,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use urbis_core::{ErrorCode, Hash, TxError};

    #[test]
    fn signer_signs_for_its_chain_and_hides_the_key() {
        let s = Signer::new(SecretKey::from_label("a"), "urbis-dev", Hash([4; 32]));
        let tx = s.sign(3, Call::new("rewards", &7u8));
        tx.check_stateless(&ChainRef::new("urbis-dev", Hash([4; 32])))
            .expect("valid");
        assert!(
            tx.check_stateless(&ChainRef::new("urbis-dev", Hash([5; 32])))
                .is_err(),
            "bound to the genesis block"
        );
        assert_eq!(tx.nonce, 3);
        assert_eq!(tx.sender(), s.address());
        let dbg = format!("{s:?}");
        assert!(dbg.contains("redacted"), "{dbg}");
        assert!(!dbg.contains(&hex::encode(s.key.seed())));
    }

    #[test]
    fn failed_receipt_is_an_error() {
        let mut r = Receipt {
            tx_hash: Hash::ZERO,
            height: 1,
            index: 0,
            success: true,
            error: None,
            events: vec![],
            nonce_used: true,
            weight: 0,
        };
        assert!(check_receipt(r.clone()).is_ok());
        r.success = false;
        r.error = Some(TxError {
            code: ErrorCode::OverCap,
            message: "cap".into(),
        });
        let err = check_receipt(r).expect_err("failed");
        assert!(err.is(ErrorCode::OverCap));
        assert_eq!(err.to_string(), "over_cap: cap");
    }
}
