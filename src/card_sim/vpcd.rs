//! vsmartcard's vpcd protocol: the virtual card connects to pcscd's vpcd driver (TCP 35963 for
//! slot 0, 35964 for slot 1). Frames are a 2-byte big-endian length plus payload; a 1-byte
//! payload is a control code (0 off, 1 on, 2 reset, 4 ATR request), anything longer an APDU.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Error;
use super::applet::Applet;

/// ATR `3B 80 80 01 01`: pcscd picks T=1 and passes short APDUs through (NOTES).
pub const ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

/// The vpcd port for a reader slot.
pub fn port(slot: u8) -> u16 {
    35963 + u16::from(slot)
}

/// Connect to vpcd, retrying for up to `patience` while pcscd starts.
///
/// # Errors
/// [`Error::Vpcd`] when nothing listens on the port.
pub async fn connect(port: u16, patience: Duration) -> Result<TcpStream, Error> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => {
                s.set_nodelay(true).ok();
                return Ok(s);
            }
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(Error::Vpcd(format!(
                    "cannot reach vpcd on 127.0.0.1:{port} ({e}); is pcscd running with the vpcd driver? ./vx starts it"
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn read_frame(s: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    // Delayed ACKs cost ~48 ms per APDU on loopback; QUICKACK resets after each read.
    s.set_quickack(true).ok();
    let mut len = [0u8; 2];
    match s.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.set_quickack(true).ok();
    s.read_exact(&mut buf).await?;
    s.set_quickack(true).ok();
    Ok(Some(buf))
}

async fn write_frame(s: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(payload.len() + 2);
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    s.write_all(&out).await
}

/// Serve the card until vpcd hangs up, or until `remove_after` APDUs have been answered (a
/// card pulled out mid-read). Returns how many APDUs were answered.
///
/// # Errors
/// [`Error::Vpcd`] on socket failures.
pub async fn serve(
    mut s: TcpStream,
    applet: &mut Applet,
    remove_after: Option<usize>,
) -> Result<usize, Error> {
    let io = |e: std::io::Error| Error::Vpcd(e.to_string());
    let mut answered = 0usize;
    while let Some(frame) = read_frame(&mut s).await.map_err(io)? {
        match frame.as_slice() {
            [code @ 0..=2] => {
                tracing::trace!(code, "vpcd power control");
                applet.reset();
            }
            [4] => {
                tracing::trace!("vpcd ATR request");
                write_frame(&mut s, &ATR).await.map_err(io)?;
            }
            [code] => tracing::debug!(code, "unknown vpcd control code"),
            apdu => {
                if remove_after.is_some_and(|n| answered >= n) {
                    tracing::info!(answered, "card pulled out");
                    return Ok(answered);
                }
                let resp = applet.process(apdu);
                write_frame(&mut s, &resp).await.map_err(io)?;
                answered += 1;
            }
        }
    }
    Ok(answered)
}
