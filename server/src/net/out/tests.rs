use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// A connected pair: the server side's write half wrapped as the core would get it, and the
/// client's socket.
async fn pair() -> (
    ConnOut,
    mpsc::UnboundedReceiver<ToCore>,
    TcpStream,
    tokio::net::tcp::OwnedReadHalf,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    let (rd, wr) = server.into_split();
    let (core_tx, core_rx) = mpsc::unbounded_channel();
    let (out, writer) = conn_out(wr, core_tx, 7);
    tokio::spawn(writer);
    (out, core_rx, client, rd)
}

/// Everything the server sends until it shuts its sending side down.
async fn read_to_eof(client: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), client.read_to_end(&mut got))
        .await
        .expect("everything arrives in time, then EOF")
        .expect("read");
    got
}

fn batch(i: u32, len: usize) -> Bytes {
    let mut v = i.to_be_bytes().to_vec();
    v.resize(len, (i % 251) as u8);
    Bytes::from(v)
}

#[tokio::test]
async fn batches_the_socket_cannot_take_at_once_arrive_whole_and_in_order() {
    let (out, _core_rx, mut client, _rd) = pair().await;
    // 64 batches of 256 KiB while the client reads nothing: the socket buffers fill, so
    // later batches must queue behind the earlier ones rather than overtake them.
    let n = 64u32;
    let len = 256 * 1024;
    for i in 0..n {
        out.send(batch(i, len));
    }
    out.close();
    let got = read_to_eof(&mut client).await;
    assert_eq!(got.len(), n as usize * len, "every byte arrives, then EOF");
    for (i, chunk) in got.chunks(len).enumerate() {
        assert_eq!(
            chunk,
            &batch(i as u32, len)[..],
            "batch {i} intact and in place"
        );
    }
}

#[tokio::test]
async fn a_batch_sent_after_a_queued_one_waits_for_it_even_once_the_socket_drains() {
    let (out, _core_rx, mut client, _rd) = pair().await;
    // Fill the socket so the first big batch is partly queued, then send a small one.
    let big = batch(1, 8 * 1024 * 1024);
    out.send(big.clone());
    out.send(batch(2, 10));
    out.close();
    let got = read_to_eof(&mut client).await;
    assert_eq!(got.len(), big.len() + 10);
    assert_eq!(&got[..big.len()], &big[..]);
    assert_eq!(&got[big.len()..], &batch(2, 10)[..]);
}

#[tokio::test]
async fn small_replies_leave_without_the_writer_task() {
    let (out, _core_rx, mut client, _rd) = pair().await;
    out.send(batch(3, 100));
    // Written directly: nothing was ever queued for the writer.
    assert_eq!(out.shared.queued.load(Ordering::Acquire), 0);
    let mut got = vec![0u8; 100];
    tokio::time::timeout(Duration::from_secs(10), client.read_exact(&mut got))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(&got[..], &batch(3, 100)[..]);
}
