//! Four-letter words: a plain-text admin command sent on a fresh connection (facts §2.5).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::error::ClientError;

/// Bound on the whole exchange; the server answers and closes at once.
const FOUR_LETTER_TIMEOUT: Duration = Duration::from_secs(10);
/// Answers (`mntr`, `cons`, `wchp` on a big tree) stay far below this.
const MAX_ANSWER: u64 = 16 * 1024 * 1024;

/// Sends a 4-letter word (e.g. "ruok", "srvr", "mntr") and returns the text answer.
pub async fn four_letter_word(addr: &str, cmd: &str) -> Result<String, ClientError> {
    if cmd.len() != 4 {
        return Err(ClientError::Config(format!(
            "four-letter word must be 4 bytes, got {cmd:?}"
        )));
    }
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(cmd.as_bytes()).await?;
        let mut out = Vec::new();
        (&mut s).take(MAX_ANSWER).read_to_end(&mut out).await?;
        Ok::<_, ClientError>(String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(FOUR_LETTER_TIMEOUT, exchange)
        .await
        .map_err(|_| ClientError::Timeout)?
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn sends_command_and_reads_until_close() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut cmd = [0u8; 4];
            s.read_exact(&mut cmd).await.unwrap();
            s.write_all(if &cmd == b"ruok" { b"imok" } else { b"????" })
                .await
                .unwrap();
        });
        assert_eq!(four_letter_word(&addr, "ruok").await.unwrap(), "imok");
        server.await.unwrap();
        assert!(four_letter_word(&addr, "toolong").await.is_err());
    }
}
